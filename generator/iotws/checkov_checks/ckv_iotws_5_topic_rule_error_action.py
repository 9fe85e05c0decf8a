"""CKV_IOTWS_5 (LOW): an `aws_iot_topic_rule` without an `error_action`.

Why: when a rule's action fails (throttled Lambda, missing permission, full queue), IoT
drops the message and nobody hears of it. An error action receives one JSON message per
failure with `ruleName`, `topic`, `clientId`, `base64OriginalPayload` and
`failures[{failedAction, failedResource, errorMessage}]` (docs/rules-engine.md#error-action); the
kit's `modules/iot-topic-rules` sends them to a CloudWatch log group by default.

A `dynamic "error_action"` block counts as present unless its `for_each` is visibly empty.
"""

from __future__ import annotations

import re
from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

try:
    from iotws.checkov_checks import _iotws_common as common
except ImportError:  # pragma: no cover - checkov without the kit installed: folder on sys.path
    import _iotws_common as common  # type: ignore[no-redef]

# `for_each` expressions that checkov leaves unevaluated but are plainly empty.
_EMPTY_CONDITIONAL = re.compile(
    r"\$\{\s*(?:false\s*\?.*:\s*(?:\[\s*\]|\{\s*\})|true\s*\?\s*(?:\[\s*\]|\{\s*\})\s*:.*)\}",
    re.IGNORECASE | re.DOTALL,
)


def _empty_for_each(value: Any) -> bool:
    if isinstance(value, list | dict):
        return len(value) == 0
    if isinstance(value, str):
        return _EMPTY_CONDITIONAL.fullmatch(value.strip()) is not None
    return False


def _dynamic_error_actions(conf: dict[str, list[Any]]) -> list[Any]:
    """The `for_each` values of `dynamic "error_action"` blocks."""
    out: list[Any] = []
    for block in conf.get("dynamic", []):
        if isinstance(block, dict) and isinstance(block.get("error_action"), dict):
            out.append(common.attribute(block["error_action"], "for_each"))
    return out


class IotTopicRuleErrorAction(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=("IoT topic rule has no error_action: failed actions drop messages silently"),
            id="CKV_IOTWS_5",
            categories=(CheckCategories.LOGGING,),
            supported_resources=("aws_iot_topic_rule",),
            guideline=f"{common.GUIDE}#ckv_iotws_5",
        )
        common.set_severity(self, "LOW")

    def scan_resource_conf(self, conf: dict[str, list[Any]]) -> CheckResult:
        self.evaluated_keys = ["error_action"]
        dynamic = _dynamic_error_actions(conf)
        if dynamic:
            # checkov copies a dynamic block's content into the resource whatever its
            # for_each says; only a visibly empty for_each means "no error action".
            if all(_empty_for_each(for_each) for for_each in dynamic):
                self.details.append("the dynamic error_action block's for_each is empty")
                return CheckResult.FAILED
            return CheckResult.PASSED
        error_action = conf.get("error_action")
        if not error_action or error_action == [None]:
            self.details.append("no error_action block")
            return CheckResult.FAILED
        return CheckResult.PASSED


check = IotTopicRuleErrorAction()
