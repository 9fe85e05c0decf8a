"""The test-only moto extension refuses what AWS refuses (moto_ext.py), so that the apply
tests catch it: checked here through boto3 against the same server, with boto3's own
parameter validation off so that the server's checks are the ones that answer."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:moto-ext-test"


def _client(url: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )


def _pem(bits: int) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def _refused(call: Any, match: str, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    message = str(info.value)
    assert match in message, message
    return message


def test_authorizer_name_pattern_and_required_members(moto_url: str) -> None:
    iot = _client(moto_url, "iot")
    # authorizerName: [\w=,@-]+ (botocore's model)
    _refused(
        iot.create_authorizer,
        "authorizerName",
        authorizerName="has space",
        authorizerFunctionArn=FUNCTION,
        signingDisabled=True,
    )
    _refused(iot.create_authorizer, "authorizerFunctionArn", authorizerName="no-function")


def test_signing_keys_must_be_rsa_2048(moto_url: str) -> None:
    iot = _client(moto_url, "iot")
    _refused(
        iot.create_authorizer,
        "2048",
        authorizerName="moto-ext-small-key",
        authorizerFunctionArn=FUNCTION,
        tokenKeyName="token",
        tokenSigningPublicKeys={"k1": _pem(1024)},
    )


def test_update_cannot_switch_signing_and_delete_needs_inactive(moto_url: str) -> None:
    iot = _client(moto_url, "iot")
    name = "moto-ext-signing"
    iot.create_authorizer(
        authorizerName=name, authorizerFunctionArn=FUNCTION, signingDisabled=True, status="ACTIVE"
    )

    # UpdateAuthorizer has no signingDisabled member: a request carrying one is refused
    def add_signing(request: Any, **_: Any) -> None:
        body = json.loads(request.body or b"{}")
        body["signingDisabled"] = False
        request.data = json.dumps(body).encode()

    iot.meta.events.register("before-sign.iot.UpdateAuthorizer", add_signing)
    _refused(iot.update_authorizer, "signingDisabled", authorizerName=name, status="ACTIVE")
    iot.meta.events.unregister("before-sign.iot.UpdateAuthorizer", add_signing)
    described = iot.describe_authorizer(authorizerName=name)["authorizerDescription"]
    assert described["signingDisabled"] is True

    _refused(iot.delete_authorizer, "INACTIVE", authorizerName=name)
    iot.update_authorizer(authorizerName=name, status="INACTIVE")
    iot.delete_authorizer(authorizerName=name)


def test_topic_rule_takes_at_most_10_actions(moto_url: str) -> None:
    iot = _client(moto_url, "iot")
    payload = {
        "sql": "SELECT * FROM 'a/b'",
        "actions": [{"lambda": {"functionArn": f"{FUNCTION}{i}"}} for i in range(11)],
    }
    _refused(iot.create_topic_rule, "10", ruleName="moto_ext_eleven", topicRulePayload=payload)
    payload["actions"] = payload["actions"][:10]
    iot.create_topic_rule(ruleName="moto_ext_ten", topicRulePayload=payload)
    iot.delete_topic_rule(ruleName="moto_ext_ten")


def test_identity_pool_roles_need_the_pool(moto_url: str) -> None:
    cognito = _client(moto_url, "cognito-identity")
    _refused(
        cognito.set_identity_pool_roles,
        "not found",
        IdentityPoolId="us-east-1:00000000-0000-0000-0000-000000000000",
        Roles={"unauthenticated": "arn:aws:iam::123456789012:role/guest"},
    )
