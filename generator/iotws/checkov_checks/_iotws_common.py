"""Shared helpers of the iotws checkov checks: reading what checkov's HCL parser gives us.

checkov hands a check the block's attributes, each wrapped in a list (`{"policy": [...]}`).
A policy document arrives as a dict (from `jsonencode({...})` or a heredoc of JSON that
checkov parsed), as a JSON string, or as text checkov could not resolve (`var.policy`,
`${file("p.json")}`, `data.aws_iam_policy_document.x.json`). Every helper here answers
"unknown" for what it cannot resolve, and the checks never fail on unknown values: a
finding must be a real one.

No check is registered here. checkov imports this file too (it imports every `*.py` of an
external checks folder); that is harmless.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from checkov.common.bridgecrew.severities import Severities
from checkov.common.checks.base_check import BaseCheck

try:
    from iotws.iot import arns
except ImportError:  # pragma: no cover - checkov without the kit installed: load it by path
    import importlib.util
    import sys
    from pathlib import Path

    _spec = importlib.util.spec_from_file_location(
        "_iotws_arns", Path(__file__).resolve().parent.parent / "iot" / "arns.py"
    )
    assert _spec is not None and _spec.loader is not None
    arns = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = arns  # dataclasses look their module up there
    _spec.loader.exec_module(arns)

GUIDE = "generator/iotws/checkov_checks/README.md"
"""Where each check's "why" and "how to fix or skip" is written down."""

# IoT data-plane actions whose resource names one client, topic, filter or thing
# (docs/iot-policies.md). `iot:ListRetainedMessages` is left out on purpose: its only
# resource is `*`.
DATA_PLANE_ACTIONS = (
    "iot:Connect",
    "iot:Publish",
    "iot:Subscribe",
    "iot:Receive",
    "iot:RetainPublish",
    "iot:GetRetainedMessage",
    "iot:GetThingShadow",
    "iot:UpdateThingShadow",
    "iot:DeleteThingShadow",
    "iot:ListNamedShadowsForThing",
)

# Resources that carry IAM or IoT policy documents (`policy`, or `inline_policy` blocks).
POLICY_RESOURCES = (
    "aws_iot_policy",
    "aws_iam_policy",
    "aws_iam_role_policy",
    "aws_iam_user_policy",
    "aws_iam_group_policy",
    "aws_iam_role",
)

# Terraform references that checkov leaves unresolved, with or without `${...}` around them.
_TF_REFERENCE = re.compile(
    r"(?<![A-Za-z0-9_:])(var|local|module|data|each|count|path|self|terraform)\.[A-Za-z_]"
)
# An IAM / IoT policy variable: `${namespace:key}` or the escapes `${*}`, `${?}`, `${$}`
# (docs/iot-policies.md#policy-variables). Anything else between `${` and `}` is Terraform
# interpolation.
_POLICY_VARIABLE = re.compile(r"\$\{(?:[A-Za-z0-9_.-]+:[^}]*|\*|\?|\$)\}")
_INTERPOLATION = re.compile(r"\$\{[^}]*\}")
_WHOLE_INTERPOLATION = re.compile(r"\$\{.*\}", re.DOTALL)
_WHOLE_REFERENCE = re.compile(
    r"(?:var|local|module|data|each|count|path|self|terraform|aws_[a-z0-9_]+)"
    r"(?:\.[A-Za-z0-9_*-]+|\[[^\]]*\])+"
)


class Unknown:
    """A value checkov could not resolve."""

    _instance: Unknown | None = None

    def __new__(cls) -> Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = Unknown()
MISSING = object()


def set_severity(check: BaseCheck, level: str) -> None:
    """Give a check one of checkov's severities ("LOW", "MEDIUM", "HIGH", "CRITICAL"), shown
    in checkov's output and JSON report. (Filtering by severity needs a Prisma Cloud API key:
    select these checks by id instead.)"""
    check.severity = Severities[level]  # type: ignore[assignment]  # BaseCheck types it None


def attribute(conf: Mapping[str, Any], key: str) -> Any:
    """The value of attribute `key` (unwrapped from checkov's one-element list), or MISSING."""
    if key not in conf:
        return MISSING
    value = conf[key]
    if isinstance(value, list):
        if not value:
            return MISSING
        return value[0]
    return value


def unescape(text: str) -> str:
    """Terraform writes a literal `${` as `$${`; checkov keeps the doubled form."""
    return text.replace("$${", "${")


def is_reference(value: Any) -> bool:
    """True for text that is as a whole a Terraform expression checkov did not evaluate:
    `var.x`, `local.y["k"]`, `aws_iot_topic_rule.r.arn`, `${file("p.json")}`."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    if _WHOLE_INTERPOLATION.fullmatch(text) and not _POLICY_VARIABLE.fullmatch(unescape(text)):
        return True
    return _WHOLE_REFERENCE.fullmatch(text) is not None


def has_unresolved(text: str) -> bool:
    """True when part of `text` is Terraform that checkov did not evaluate (`${var.x}` inside
    a heredoc, or `var.x` where jsonencode dropped the `${}`); policy variables such as
    `${iot:ClientId}` are not Terraform and do not count."""
    plain = _POLICY_VARIABLE.sub("", unescape(text))
    return bool(_TF_REFERENCE.search(plain) or _INTERPOLATION.search(plain))


def as_bool(value: Any) -> bool | Unknown:
    """A Terraform bool: True/False, "true"/"false"; anything else is unknown."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return UNKNOWN


def as_str(value: Any) -> str | Unknown:
    """A string (`$${` unescaped), or UNKNOWN for whole references and non-strings."""
    if isinstance(value, str) and not is_reference(value):
        return unescape(value)
    return UNKNOWN


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        out: list[Any] = []
        for item in value:
            out.extend(_flatten(item))
        return out
    return [value]


def str_list(value: Any) -> list[str | Unknown] | Unknown:
    """A JSON/HCL string-or-list as a flat list; unresolved items become UNKNOWN."""
    if value is MISSING or value is None:
        return []
    if is_reference(value):
        return UNKNOWN
    items = _flatten(value)
    return [as_str(item) if isinstance(item, str) else UNKNOWN for item in items]


def policy_document(value: Any) -> dict[str, Any] | None:
    """A policy document as a dict, or None when it cannot be resolved."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith("{"):
            return None
        try:
            doc = json.loads(text)
        except ValueError:
            return None
        return doc if isinstance(doc, dict) else None
    return None


@dataclass
class Statement:
    """One policy statement, normalized from a JSON document or an HCL statement block.

    Lists hold literal strings and UNKNOWN for parts checkov could not resolve; a whole
    list that could not be resolved is UNKNOWN. `None` means the key is absent.
    """

    effect: str | Unknown = "Allow"
    actions: list[str | Unknown] | Unknown | None = None
    not_actions: list[str | Unknown] | Unknown | None = None
    resources: list[str | Unknown] | Unknown | None = None
    not_resources: list[str | Unknown] | Unknown | None = None
    # principal type ("AWS", "Service", "Federated", "*") -> identifiers
    principals: dict[str, list[str | Unknown] | Unknown] | Unknown = field(default_factory=dict)
    # operator -> condition key (lower case) -> values; UNKNOWN when not resolvable
    conditions: dict[str, dict[str, list[str | Unknown] | Unknown]] | Unknown = field(
        default_factory=dict
    )

    @property
    def allows(self) -> bool:
        """True for an Allow; an effect checkov could not resolve is not assumed to be one."""
        return isinstance(self.effect, str) and self.effect.strip().lower() == "allow"


def _optional_list(doc: Mapping[str, Any], key: str) -> list[str | Unknown] | Unknown | None:
    if key not in doc:
        return None
    return str_list(doc[key])


def _json_principals(value: Any) -> dict[str, list[str | Unknown] | Unknown] | Unknown:
    if value is MISSING or value is None:
        return {}
    if isinstance(value, str):
        if value.strip() == "*":
            return {"*": ["*"]}
        return UNKNOWN
    if isinstance(value, dict):
        return {str(k): str_list(v) for k, v in value.items()}
    return UNKNOWN


def _json_conditions(value: Any) -> dict[str, dict[str, list[str | Unknown] | Unknown]] | Unknown:
    if value is MISSING or value is None:
        return {}
    if not isinstance(value, dict):
        return UNKNOWN
    out: dict[str, dict[str, list[str | Unknown] | Unknown]] = {}
    for operator, body in value.items():
        if not isinstance(body, dict):
            return UNKNOWN
        keys = out.setdefault(str(operator), {})
        for key, values in body.items():
            keys[str(key).lower()] = str_list(values)
    return out


def json_statements(value: Any) -> list[Statement] | None:
    """The statements of a policy document attribute value; None when unresolvable."""
    doc = policy_document(value)
    if doc is None:
        return None
    raw = doc.get("Statement", [])
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        return None
    out: list[Statement] = []
    for item in raw:
        if not isinstance(item, dict):
            return None
        effect = item.get("Effect", "Allow")
        out.append(
            Statement(
                effect=as_str(effect),
                actions=_optional_list(item, "Action"),
                not_actions=_optional_list(item, "NotAction"),
                resources=_optional_list(item, "Resource"),
                not_resources=_optional_list(item, "NotResource"),
                principals=_json_principals(item.get("Principal", MISSING)),
                conditions=_json_conditions(item.get("Condition", MISSING)),
            )
        )
    return out


def _hcl_list(block: Mapping[str, Any], key: str) -> list[str | Unknown] | Unknown | None:
    if key not in block:
        return None
    return str_list(attribute(block, key))


def hcl_statements(conf: Mapping[str, Any]) -> list[Statement]:
    """The `statement` blocks of a `data "aws_iam_policy_document"`."""
    out: list[Statement] = []
    for block in _flatten(conf.get("statement", [])):
        if not isinstance(block, dict):
            continue
        effect = attribute(block, "effect")
        principals: dict[str, list[str | Unknown] | Unknown] = {}
        for principal in _flatten(block.get("principals", [])):
            if isinstance(principal, dict):
                kind = as_str(attribute(principal, "type"))
                key = kind if isinstance(kind, str) else "?"
                principals[key] = str_list(attribute(principal, "identifiers"))
        conditions: dict[str, dict[str, list[str | Unknown] | Unknown]] | Unknown = {}
        for cond in _flatten(block.get("condition", [])):
            if not isinstance(cond, dict) or not isinstance(conditions, dict):
                continue
            test = as_str(attribute(cond, "test"))
            variable = as_str(attribute(cond, "variable"))
            if isinstance(test, Unknown) or isinstance(variable, Unknown):
                conditions = UNKNOWN
                continue
            conditions.setdefault(test, {})[variable.lower()] = str_list(attribute(cond, "values"))
        out.append(
            Statement(
                effect="Allow" if effect is MISSING else (as_str(effect)),
                actions=_hcl_list(block, "actions"),
                not_actions=_hcl_list(block, "not_actions"),
                resources=_hcl_list(block, "resources"),
                not_resources=_hcl_list(block, "not_resources"),
                principals=principals,
                conditions=conditions,
            )
        )
    return out


def resource_policy_statements(conf: Mapping[str, Any]) -> list[list[Statement] | None]:
    """Every policy document of an IAM/IoT policy resource: `policy` and `inline_policy`s."""
    docs: list[list[Statement] | None] = []
    if "policy" in conf:
        docs.append(json_statements(attribute(conf, "policy")))
    for inline in _flatten(conf.get("inline_policy", [])):
        if isinstance(inline, dict) and "policy" in inline:
            docs.append(json_statements(attribute(inline, "policy")))
    return docs


# IAM/IoT wildcard matching: `*` any run of characters (also `/`), `?` one character.
glob_match = arns.glob_match
# How an `iot:Connect` resource binds the client id (the linter's rule IOTWS006 too).
client_binding = arns.client_binding


def action_matches(pattern: str, action: str) -> bool:
    """IAM action names are case-insensitive."""
    return glob_match(pattern.strip(), action, ignore_case=True)


def grants(statement: Statement, action: str) -> bool | Unknown:
    """Whether an Allow statement grants `action` (by Action, or by NotAction not naming it)."""
    if not statement.allows:
        return False
    if statement.actions is not None:
        return _any_match(statement.actions, action)
    if statement.not_actions is not None:
        excluded = _any_match(statement.not_actions, action)
        return UNKNOWN if isinstance(excluded, Unknown) else not excluded
    return False


def _any_match(patterns: list[str | Unknown] | Unknown, action: str) -> bool | Unknown:
    if isinstance(patterns, Unknown):
        return UNKNOWN
    unknown = False
    for pattern in patterns:
        if isinstance(pattern, Unknown):
            unknown = True
        elif action_matches(pattern, action):
            return True
    return UNKNOWN if unknown else False


# A made-up action name that only a wildcard over all of `iot:` can match.
_ANY_IOT_ACTION = "iot:~iotws-any-action~"


def wildcard_iot_actions(statement: Statement) -> list[str]:
    """The action patterns of an Allow statement that grant every `iot:` action."""
    if not statement.allows:
        return []
    if statement.actions is not None:
        if isinstance(statement.actions, Unknown):
            return []
        return [
            p
            for p in statement.actions
            if isinstance(p, str) and action_matches(p, _ANY_IOT_ACTION)
        ]
    excluded = statement.not_actions
    if isinstance(excluded, list) and grants(statement, _ANY_IOT_ACTION) is True:
        return ["NotAction " + json.dumps([a for a in excluded if isinstance(a, str)])]
    return []


def split_arn(resource: str) -> tuple[list[str], str] | None:
    """`arn:partition:service:region:account:rest` -> ([arn, partition, service, region,
    account], rest); None when the text has fewer than six parts."""
    parts = resource.split(":", 5)
    if len(parts) < 6:
        return None
    return parts[:5], parts[5]


def strip_policy_variables(text: str, keep: Iterable[str] = ()) -> str:
    """Replace policy variables (and the escapes `${*}` `${?}` `${$}`) by a plain character
    so that only real wildcards remain; variables named in `keep` are left in place."""
    kept = {k.lower() for k in keep}

    def repl(match: re.Match[str]) -> str:
        return match.group(0) if match.group(0).lower() in kept else "x"

    return _POLICY_VARIABLE.sub(repl, text)


def is_any_resource(resource: str) -> bool:
    """True when a resource covers every resource of its service (`*`, `arn:aws:iot:*:*:*`,
    `arn:aws:iot:us-east-1:123456789012:*`, `*/*`)."""
    text = strip_policy_variables(unescape(resource.strip()))
    if text == "*":
        return True
    split = split_arn(text)
    if split is None:
        return glob_match(text, "arn:aws:iot:us-east-1:123456789012:~/~")
    head, rest = split
    return glob_match(head[2], "iot") and glob_match(rest, "~/~")


def policy_statement_checks(
    *,
    check_id: str,
    name: str,
    guideline: str,
    severity: str,
    findings: Callable[[list[Statement]], list[str]],
) -> tuple[BaseCheck, BaseCheck]:
    """The two registrations every policy-statement check needs, sharing one `findings`:
    IoT/IAM policy resources (`POLICY_RESOURCES`) and `data "aws_iam_policy_document"`.
    checkov registers a check when it is instantiated, so callers keep the returned pair
    as module globals."""
    from checkov.common.models.enums import CheckCategories, CheckResult
    from checkov.terraform.checks.data.base_check import BaseDataCheck
    from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

    def result(check: BaseCheck, found: list[str]) -> CheckResult:
        if found:
            check.details.extend(found)
            return CheckResult.FAILED
        return CheckResult.PASSED

    class PolicyResourceCheck(BaseResourceCheck):
        def __init__(self) -> None:
            super().__init__(
                name=name,
                id=check_id,
                categories=(CheckCategories.IAM,),
                supported_resources=POLICY_RESOURCES,
                guideline=guideline,
            )
            set_severity(self, severity)

        def scan_resource_conf(self, conf: dict[str, list[Any]]) -> CheckResult:
            self.evaluated_keys = ["policy", "inline_policy"]
            found: list[str] = []
            for statements in resource_policy_statements(conf):
                if statements is not None:  # None: checkov could not resolve the document
                    found.extend(findings(statements))
            return result(self, found)

    class PolicyDocumentCheck(BaseDataCheck):
        def __init__(self) -> None:
            super().__init__(
                name=name,
                id=check_id,
                categories=(CheckCategories.IAM,),
                supported_data=("aws_iam_policy_document",),
                guideline=guideline,
            )
            set_severity(self, severity)

        def scan_data_conf(self, conf: dict[str, list[Any]]) -> CheckResult:
            self.evaluated_keys = ["statement"]
            return result(self, findings(hcl_statements(conf)))

    return PolicyResourceCheck(), PolicyDocumentCheck()
