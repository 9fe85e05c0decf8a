"""Test-only additions to moto's server for the AWS calls the kit's Terraform makes.

moto (5.2) lacks some APIs that `terraform apply` of the examples calls. This module adds
them to moto's in-process server, and checks every request to them against botocore's
service model the way AWS does before it acts (required members, string patterns and
lengths, enums, map key patterns, no unknown members), plus the rules AWS documents for
these calls and that no model states:

IoT (https://docs.aws.amazon.com/iot/latest/apireference/):
- CreateAuthorizer / DescribeAuthorizer / UpdateAuthorizer / DeleteAuthorizer /
  ListAuthorizers. Token-signing public keys must be PEM RSA keys of at least 2,048 bits
  (custom-auth.html); with signing on (`signingDisabled` false, the API's default) a token
  key name and at least one key are required; UpdateAuthorizer has no `signingDisabled`
  member, so a request that carries one is refused like any unknown member and the
  authorizer keeps its signing mode; DeleteAuthorizer only for an INACTIVE authorizer that
  no domain configuration uses as its default.
- TagResource / UntagResource / ListTagsForResource for authorizers, topic rules
  (CreateTopicRule sends its tags in the `x-amz-tagging` header) and domain configurations.
- DeleteDomainConfiguration only for a DISABLED configuration; an AWS-managed one (no
  customer domain name) must have been disabled for 7 days first
  (iot-custom-endpoints-managing.html), which a test can never reach: the destroy of a
  default-authorizer stack therefore fails here exactly as it does on AWS.

Cognito identity: SetIdentityPoolRoles / GetIdentityPoolRoles (the pool must exist; role
ARNs and map keys checked against the model).

Two fidelity fixes, so that a second plan after apply is empty for the right reason:
DescribeEndpoint answers the same host for an account and region every time (AWS does;
moto makes a new random one per call), and Lambda keeps a function's `LoggingConfig`
(moto 5.2 drops it).

`install()` patches moto's response classes; call it before starting the server.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from typing import Any
from urllib.parse import parse_qsl, unquote

import botocore.session
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from moto.awslambda.models import LambdaFunction
from moto.cognitoidentity.models import cognitoidentity_backends
from moto.cognitoidentity.responses import CognitoIdentityResponse
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult, EmptyResult
from moto.iot.exceptions import (
    DeleteConflictException,
    InvalidRequestException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from moto.iot.models import IoTBackend, iot_backends
from moto.iot.responses import IoTResponse

MIN_RSA_BITS = 2048
MANAGED_DOMAIN_DISABLED_DAYS = 7

_LOCK = threading.Lock()
_SESSION = botocore.session.get_session()
_MODELS: dict[str, Any] = {}


def _model(service: str) -> Any:
    if service not in _MODELS:
        _MODELS[service] = _SESSION.get_service_model(service)
    return _MODELS[service]


# --------------------------------------------------------------------------- validation


def shape_errors(shape: Any, value: Any, path: str) -> list[str]:
    """What AWS's request validation would say about `value` for botocore `shape`."""
    errors: list[str] = []
    meta = shape.metadata
    if shape.type_name == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object"]
        for name in shape.required_members:
            if value.get(name) is None:
                errors.append(f"{path}.{name}: required")
        for name, member_value in value.items():
            if name not in shape.members:
                errors.append(f"{path}.{name}: not a member of {shape.name}")
            elif member_value is not None:
                errors += shape_errors(shape.members[name], member_value, f"{path}.{name}")
    elif shape.type_name == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected a map"]
        for key, item in value.items():
            errors += shape_errors(shape.key, key, f"{path} key {key!r}")
            errors += shape_errors(shape.value, item, f"{path}[{key!r}]")
        errors += _length_errors(meta, len(value), path)
    elif shape.type_name == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        for i, item in enumerate(value):
            errors += shape_errors(shape.member, item, f"{path}[{i}]")
        errors += _length_errors(meta, len(value), path)
    elif shape.type_name == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string"]
        errors += _length_errors(meta, len(value), path)
        pattern = meta.get("pattern")
        if pattern and _compiled(pattern).fullmatch(value) is None:
            errors.append(f"{path}: {value[:60]!r} does not match {pattern}")
        if shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} is not one of {shape.enum}")
    elif shape.type_name == "boolean":
        if not isinstance(value, bool):
            errors.append(f"{path}: expected a boolean")
    return errors


# Java's Unicode classes in some model patterns (tags), in Python's `re` terms.
_UNICODE_CLASSES = {
    r"\p{L}": "a-zA-Z\u00c0-\uffff",
    r"\p{N}": "\\d",
    r"\p{Z}": "\\s",
}


def _compiled(pattern: str) -> re.Pattern[str]:
    for java, python in _UNICODE_CLASSES.items():
        pattern = pattern.replace(java, python)
    return re.compile(pattern, flags=re.DOTALL)


def _length_errors(meta: dict[str, Any], length: int, path: str) -> list[str]:
    errors = []
    if "min" in meta and length < meta["min"]:
        errors.append(f"{path}: shorter than {meta['min']}")
    if "max" in meta and length > meta["max"]:
        errors.append(f"{path}: longer than {meta['max']}")
    return errors


def request_params(response: Any, service: str, operation: str) -> dict[str, Any]:
    """Every input member of `operation` found in the request (body, URI, query, header)."""
    shape = _model(service).operation_model(operation).input_shape
    params: dict[str, Any] = {}
    body = json.loads(response.body) if response.body else {}
    payload = shape.serialization.get("payload")
    if payload is not None:
        # The body is that one member (CreateTopicRule: the TopicRulePayload).
        body = {payload: body} if body else {}
    headers = {k.lower(): v for k, v in response.headers.items()}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            raw = response.uri_match.get(wire) if response.uri_match else None
            if raw is not None:
                params[name] = unquote(raw)
        elif location == "querystring":
            raw_list = response.querystring.get(wire)
            if raw_list:
                params[name] = _typed(member, raw_list[0])
        elif location == "header":
            raw = headers.get(wire.lower())
            if raw is not None:
                params[name] = raw
        elif name in body:
            params[name] = body.pop(name)
    # Whatever is left in the body is not a member of the operation: AWS refuses it.
    params.update(body)
    return params


def _typed(member: Any, raw: str) -> Any:
    if member.type_name == "boolean":
        return raw.lower() == "true"
    if member.type_name == "integer":
        return int(raw)
    return raw


def checked(response: Any, service: str, operation: str) -> dict[str, Any]:
    """The request's parameters after the model's checks; raises a 400 like AWS."""
    params = request_params(response, service, operation)
    shape = _model(service).operation_model(operation).input_shape
    errors = shape_errors(shape, params, operation)
    if errors:
        raise InvalidRequestException("; ".join(errors))
    return params


# --------------------------------------------------------------------------- IoT


class _IotState:
    def __init__(self) -> None:
        self.authorizers: dict[str, dict[str, Any]] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.disabled_since: dict[str, dt.datetime] = {}


_IOT: dict[tuple[str, str], _IotState] = {}


def _iot(response: Any) -> _IotState:
    key = (response.current_account, response.region)
    return _IOT.setdefault(key, _IotState())


def _rsa_bits(pem: str) -> int:
    try:
        key = load_pem_public_key(pem.encode("ascii"))
    except (ValueError, UnicodeError) as exc:
        raise InvalidRequestException(
            f"tokenSigningPublicKeys: not a PEM public key ({exc})"
        ) from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidRequestException("tokenSigningPublicKeys: only RSA keys are accepted")
    return int(key.key_size)


def _check_keys(keys: dict[str, str] | None) -> None:
    for name, pem in (keys or {}).items():
        bits = _rsa_bits(pem)
        if bits < MIN_RSA_BITS:
            raise InvalidRequestException(
                f"tokenSigningPublicKeys[{name}]: RSA key of {bits} bits; at least "
                f"{MIN_RSA_BITS} are required"
            )


def _authorizer_arn(response: Any, name: str) -> str:
    return f"arn:aws:iot:{response.region}:{response.current_account}:authorizer/{name}"


def _get_authorizer(state: _IotState, name: str) -> dict[str, Any]:
    if name not in state.authorizers:
        raise ResourceNotFoundException(f"Authorizer {name} does not exist")
    return state.authorizers[name]


def create_authorizer(self: Any) -> ActionResult:
    params = checked(self, "iot", "CreateAuthorizer")
    state = _iot(self)
    name = params["authorizerName"]
    arn = _authorizer_arn(self, name)
    signing_disabled = params.get("signingDisabled", False)
    keys = params.get("tokenSigningPublicKeys") or {}
    if not signing_disabled and (not params.get("tokenKeyName") or not keys):
        raise InvalidRequestException(
            "tokenKeyName and tokenSigningPublicKeys are required when signing is enabled"
        )
    _check_keys(keys)
    with _LOCK:
        if name in state.authorizers:
            raise ResourceAlreadyExistsException("Authorizer already exists", name, arn)
        now = dt.datetime.now(dt.UTC)
        state.authorizers[name] = {
            "authorizerName": name,
            "authorizerArn": arn,
            "authorizerFunctionArn": params["authorizerFunctionArn"],
            "tokenKeyName": params.get("tokenKeyName"),
            "tokenSigningPublicKeys": keys,
            "status": params.get("status", "ACTIVE"),
            "signingDisabled": signing_disabled,
            "enableCachingForHttp": params.get("enableCachingForHttp", False),
            "creationDate": now,
            "lastModifiedDate": now,
        }
        state.tags[arn] = {t["Key"]: t.get("Value", "") for t in params.get("tags", [])}
    return ActionResult({"authorizerName": name, "authorizerArn": arn})


def describe_authorizer(self: Any) -> ActionResult:
    params = checked(self, "iot", "DescribeAuthorizer")
    found = _get_authorizer(_iot(self), params["authorizerName"])
    description = {k: v for k, v in found.items() if v is not None}
    return ActionResult({"authorizerDescription": description})


def update_authorizer(self: Any) -> ActionResult:
    params = checked(self, "iot", "UpdateAuthorizer")
    found = _get_authorizer(_iot(self), params["authorizerName"])
    if "tokenSigningPublicKeys" in params:
        if found["signingDisabled"]:
            raise InvalidRequestException(
                "tokenSigningPublicKeys cannot be set on an authorizer with signing disabled"
            )
        _check_keys(params["tokenSigningPublicKeys"])
    with _LOCK:
        for member in (
            "authorizerFunctionArn",
            "tokenKeyName",
            "tokenSigningPublicKeys",
            "status",
            "enableCachingForHttp",
        ):
            if member in params:
                found[member] = params[member]
        found["lastModifiedDate"] = dt.datetime.now(dt.UTC)
    return ActionResult(
        {"authorizerName": found["authorizerName"], "authorizerArn": found["authorizerArn"]}
    )


def delete_authorizer(self: Any) -> EmptyResult:
    params = checked(self, "iot", "DeleteAuthorizer")
    state = _iot(self)
    name = params["authorizerName"]
    found = _get_authorizer(state, name)
    if found["status"] != "INACTIVE":
        raise InvalidRequestException(f"Authorizer {name} is ACTIVE: set it INACTIVE first")
    backend = iot_backends[self.current_account][self.region]
    for domain in backend.domain_configurations.values():
        if (domain.authorizer_config or {}).get("defaultAuthorizerName") == name:
            raise DeleteConflictException(
                f"Authorizer {name} is the default authorizer of domain configuration "
                f"{domain.domain_configuration_name}"
            )
    with _LOCK:
        del state.authorizers[name]
        state.tags.pop(found["authorizerArn"], None)
    return EmptyResult()


def list_authorizers(self: Any) -> ActionResult:
    checked(self, "iot", "ListAuthorizers")
    items = [
        {"authorizerName": a["authorizerName"], "authorizerArn": a["authorizerArn"]}
        for a in _iot(self).authorizers.values()
    ]
    return ActionResult({"authorizers": items})


def _known_arn(self: Any, arn: str) -> bool:
    state = _iot(self)
    if arn in state.tags:
        return True
    backend = iot_backends[self.current_account][self.region]
    rule_prefix = f"arn:aws:iot:{self.region}:{self.current_account}:rule/"
    if arn.startswith(rule_prefix):
        return arn[len(rule_prefix) :] in backend.rules
    return any(d.domain_configuration_arn == arn for d in backend.domain_configurations.values())


def list_tags_for_resource(self: Any) -> ActionResult:
    params = checked(self, "iot", "ListTagsForResource")
    arn = params["resourceArn"]
    if not _known_arn(self, arn):
        raise ResourceNotFoundException(f"{arn} does not exist")
    tags = _iot(self).tags.get(arn, {})
    return ActionResult({"tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]})


def tag_resource(self: Any) -> EmptyResult:
    params = checked(self, "iot", "TagResource")
    arn = params["resourceArn"]
    if not _known_arn(self, arn):
        raise ResourceNotFoundException(f"{arn} does not exist")
    with _LOCK:
        _iot(self).tags.setdefault(arn, {}).update(
            {t["Key"]: t.get("Value", "") for t in params["tags"]}
        )
    return EmptyResult()


def untag_resource(self: Any) -> EmptyResult:
    params = checked(self, "iot", "UntagResource")
    arn = params["resourceArn"]
    with _LOCK:
        for key in params["tagKeys"]:
            _iot(self).tags.get(arn, {}).pop(key, None)
    return EmptyResult()


_original_create_rule = IoTResponse.create_topic_rule
_original_delete_rule = IoTResponse.delete_topic_rule
_original_create_domain = IoTResponse.create_domain_configuration
_original_update_domain = IoTResponse.update_domain_configuration
_original_delete_domain = IoTResponse.delete_domain_configuration


def create_topic_rule(self: Any) -> Any:
    params = checked(self, "iot", "CreateTopicRule")
    actions = params["topicRulePayload"].get("actions", [])
    if len(actions) > 10:
        raise InvalidRequestException("topicRulePayload.actions: at most 10 actions per rule")
    result = _original_create_rule(self)
    arn = f"arn:aws:iot:{self.region}:{self.current_account}:rule/{params['ruleName']}"
    tagging = params.get("tags") or ""
    with _LOCK:
        _iot(self).tags[arn] = dict(parse_qsl(tagging, keep_blank_values=True))
    return result


def replace_topic_rule(self: Any) -> Any:
    params = checked(self, "iot", "ReplaceTopicRule")
    if len(params["topicRulePayload"].get("actions", [])) > 10:
        raise InvalidRequestException("topicRulePayload.actions: at most 10 actions per rule")
    return _original_replace_rule(self)


_original_replace_rule = IoTResponse.replace_topic_rule


def delete_topic_rule(self: Any) -> Any:
    params = checked(self, "iot", "DeleteTopicRule")
    result = _original_delete_rule(self)
    arn = f"arn:aws:iot:{self.region}:{self.current_account}:rule/{params['ruleName']}"
    with _LOCK:
        _iot(self).tags.pop(arn, None)
    return result


def create_domain_configuration(self: Any) -> Any:
    params = checked(self, "iot", "CreateDomainConfiguration")
    default = (params.get("authorizerConfig") or {}).get("defaultAuthorizerName")
    if default is not None:
        _get_authorizer(_iot(self), default)
    result = _original_create_domain(self)
    backend = iot_backends[self.current_account][self.region]
    domain = backend.domain_configurations[params["domainConfigurationName"]]
    if not domain.domain_name:
        # AWS-managed domain: AWS gives it a host name under the account's endpoint.
        domain.domain_name = (
            f"{params['domainConfigurationName'].lower()}-ats.iot.{self.region}.amazonaws.com"
        )
    with _LOCK:
        _iot(self).tags[domain.domain_configuration_arn] = {
            t["Key"]: t.get("Value", "") for t in params.get("tags", [])
        }
    return result


def update_domain_configuration(self: Any) -> Any:
    params = checked(self, "iot", "UpdateDomainConfiguration")
    default = (params.get("authorizerConfig") or {}).get("defaultAuthorizerName")
    if default is not None:
        _get_authorizer(_iot(self), default)
    result = _original_update_domain(self)
    name = params["domainConfigurationName"]
    status = params.get("domainConfigurationStatus")
    with _LOCK:
        if status == "DISABLED":
            _iot(self).disabled_since.setdefault(name, dt.datetime.now(dt.UTC))
        elif status == "ENABLED":
            _iot(self).disabled_since.pop(name, None)
    return result


def delete_domain_configuration(self: Any) -> Any:
    params = checked(self, "iot", "DeleteDomainConfiguration")
    name = params["domainConfigurationName"]
    backend = iot_backends[self.current_account][self.region]
    domain = backend.domain_configurations.get(name)
    if domain is not None:
        if domain.domain_configuration_status != "DISABLED":
            raise InvalidRequestException(
                f"Domain configuration {name} must be DISABLED before it can be deleted"
            )
        since = _iot(self).disabled_since.get(name, dt.datetime.now(dt.UTC))
        age = dt.datetime.now(dt.UTC) - since
        managed = domain.domain_type != "CUSTOMER_MANAGED"
        if managed and age < dt.timedelta(days=MANAGED_DOMAIN_DISABLED_DAYS):
            raise InvalidRequestException(
                f"Domain configuration {name} is AWS-managed: it must stay DISABLED for "
                f"{MANAGED_DOMAIN_DISABLED_DAYS} days before it can be deleted"
            )
    return _original_delete_domain(self)


# --------------------------------------------------------------------------- fidelity

_original_describe_endpoint = IoTBackend.describe_endpoint
_original_lambda_init = LambdaFunction.__init__
_original_lambda_configuration = LambdaFunction.get_configuration
_original_lambda_update = LambdaFunction.update_configuration
_ENDPOINTS: dict[tuple[str, str, str], Any] = {}


def describe_endpoint(self: Any, endpoint_type: str) -> Any:
    key = (self.account_id, self.region_name, endpoint_type)
    if key not in _ENDPOINTS:
        _ENDPOINTS[key] = _original_describe_endpoint(self, endpoint_type)
    self.endpoint = _ENDPOINTS[key]
    return self.endpoint


def lambda_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _original_lambda_init(self, *args, **kwargs)
    spec = kwargs.get("spec", args[1] if len(args) > 1 else {})
    self.iotws_logging_config = spec.get("LoggingConfig")


def lambda_configuration(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    config: dict[str, Any] = _original_lambda_configuration(self, *args, **kwargs)
    logging_config = getattr(self, "iotws_logging_config", None)
    if logging_config:
        config["LoggingConfig"] = logging_config
    return config


def lambda_update(self: Any, config_updates: dict[str, Any]) -> dict[str, Any]:
    if "LoggingConfig" in config_updates:
        self.iotws_logging_config = config_updates["LoggingConfig"]
    result: dict[str, Any] = _original_lambda_update(self, config_updates)
    return result


# --------------------------------------------------------------------------- Cognito


class _CognitoError(JsonRESTError):
    code = 400


def _pool(self: Any, pool_id: str) -> Any:
    pools = cognitoidentity_backends[self.current_account][self.region].identity_pools
    if pool_id not in pools:
        raise _CognitoError("ResourceNotFoundException", f"IdentityPool '{pool_id}' not found.")
    return pools[pool_id]


def _cognito_checked(self: Any, operation: str) -> dict[str, Any]:
    params = json.loads(self.body) if self.body else {}
    shape = _model("cognito-identity").operation_model(operation).input_shape
    errors = shape_errors(shape, params, operation)
    if errors:
        raise _CognitoError("InvalidParameterException", "; ".join(errors))
    return params


def set_identity_pool_roles(self: Any) -> str:
    params = _cognito_checked(self, "SetIdentityPoolRoles")
    pool = _pool(self, params["IdentityPoolId"])
    with _LOCK:
        pool.iotws_roles = dict(params["Roles"])
        pool.iotws_role_mappings = dict(params.get("RoleMappings") or {})
    return ""


def get_identity_pool_roles(self: Any) -> str:
    params = _cognito_checked(self, "GetIdentityPoolRoles")
    pool = _pool(self, params["IdentityPoolId"])
    result: dict[str, Any] = {
        "IdentityPoolId": params["IdentityPoolId"],
        "Roles": getattr(pool, "iotws_roles", {}),
    }
    mappings = getattr(pool, "iotws_role_mappings", {})
    if mappings:
        result["RoleMappings"] = mappings
    return json.dumps(result)


_PATCHES: dict[Any, dict[str, Any]] = {
    IoTResponse: {
        "create_authorizer": create_authorizer,
        "describe_authorizer": describe_authorizer,
        "update_authorizer": update_authorizer,
        "delete_authorizer": delete_authorizer,
        "list_authorizers": list_authorizers,
        "list_tags_for_resource": list_tags_for_resource,
        "tag_resource": tag_resource,
        "untag_resource": untag_resource,
        "create_topic_rule": create_topic_rule,
        "replace_topic_rule": replace_topic_rule,
        "delete_topic_rule": delete_topic_rule,
        "create_domain_configuration": create_domain_configuration,
        "update_domain_configuration": update_domain_configuration,
        "delete_domain_configuration": delete_domain_configuration,
    },
    CognitoIdentityResponse: {
        "set_identity_pool_roles": set_identity_pool_roles,
        "get_identity_pool_roles": get_identity_pool_roles,
    },
}


_PATCHES[IoTBackend] = {"describe_endpoint": describe_endpoint}
_PATCHES[LambdaFunction] = {
    "__init__": lambda_init,
    "get_configuration": lambda_configuration,
    "update_configuration": lambda_update,
}


def install() -> None:
    """Add the calls above to moto's classes (idempotent)."""
    for cls, methods in _PATCHES.items():
        for name, func in methods.items():
            setattr(cls, name, func)


def reset() -> None:
    """Forget the extension's own state (authorizers, tags, disabled dates)."""
    _IOT.clear()
