"""CKV_IOTWS_2 (HIGH): a Lambda permission for `iot.amazonaws.com` not bound to its caller.

Why: a resource policy statement with principal `iot.amazonaws.com` and no `source_arn`
lets IoT invoke the function on behalf of *any* authorizer or topic rule, in any account
(the confused-deputy problem).

- Authorizer permissions need `source_arn` = the authorizer's ARN
  (`arn:aws:iot:REGION:ACCOUNT:authorizer/NAME`, docs/custom-authorizer.md#response).
- Topic rule permissions need `source_arn` = the rule's ARN
  (`arn:aws:iot:REGION:ACCOUNT:rule/NAME`) **and** `source_account`; without them any
  account could trigger the function (docs/rules-engine.md).

A `source_arn` of `*` counts as none. Values checkov cannot resolve are trusted (no finding).
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

try:
    from iotws.checkov_checks import _iotws_common as common
except ImportError:  # pragma: no cover - checkov without the kit installed: folder on sys.path
    import _iotws_common as common  # type: ignore[no-redef]

IOT_PRINCIPAL = "iot.amazonaws.com"


def _is_set(value: Any) -> bool:
    return value is not common.MISSING and value is not None and value != ""


def _is_rule_arn(value: Any) -> bool:
    """A topic rule's ARN, or a reference to an `aws_iot_topic_rule`'s `arn`."""
    if not isinstance(value, str):
        return False
    return ":rule/" in value or "aws_iot_topic_rule." in value


class IotLambdaPermissionSource(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=(
                "Lambda permission for iot.amazonaws.com must set source_arn (and, for topic "
                "rules, source_account): otherwise any authorizer or rule can invoke it"
            ),
            id="CKV_IOTWS_2",
            categories=(CheckCategories.IAM,),
            supported_resources=("aws_lambda_permission",),
            guideline=f"{common.GUIDE}#ckv_iotws_2",
        )
        common.set_severity(self, "HIGH")

    def scan_resource_conf(self, conf: dict[str, list[Any]]) -> CheckResult:
        self.evaluated_keys = ["principal", "source_arn", "source_account"]
        principal = common.as_str(common.attribute(conf, "principal"))
        if not isinstance(principal, str) or principal.strip().lower() != IOT_PRINCIPAL:
            return CheckResult.UNKNOWN  # not an IoT permission (or unresolvable)
        source_arn = common.attribute(conf, "source_arn")
        if not _is_set(source_arn):
            self.details.append(
                "no source_arn: IoT may invoke this function for any authorizer or rule "
                "(docs/custom-authorizer.md#response, docs/rules-engine.md)"
            )
            return CheckResult.FAILED
        literal = common.as_str(source_arn)
        if isinstance(literal, str) and common.is_any_resource(literal):
            self.details.append(f"source_arn {literal!r} matches every IoT resource")
            return CheckResult.FAILED
        if _is_rule_arn(source_arn) and not _is_set(common.attribute(conf, "source_account")):
            self.details.append(
                "topic rule permission without source_account (docs/rules-engine.md#lambda-action)"
            )
            return CheckResult.FAILED
        return CheckResult.PASSED


check = IotLambdaPermissionSource()
