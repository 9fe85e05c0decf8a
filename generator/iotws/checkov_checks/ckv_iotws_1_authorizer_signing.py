"""CKV_IOTWS_1 (MEDIUM): an `aws_iot_authorizer` with `signing_disabled = true`.

Why: with token signing on, IoT Core checks an RSA SHA-256 signature of the token and
rejects a bad one *without calling the Lambda* (docs/custom-authorizer.md#event). With signing off,
every client on the internet that names the authorizer gets the Lambda invoked, and the
account pays for each invocation, before the Lambda has had a chance to say no.

The trade-off: browsers cannot sign tokens with a private key they must not hold, so a
browser-facing authorizer usually runs unsigned and verifies the token in the Lambda
(HS256/JWKS). That is a deliberate choice: skip this check inline on the resource with the
reason, for example

    resource "aws_iot_authorizer" "this" {
      #checkov:skip=CKV_IOTWS_1:Browser clients cannot sign tokens; the Lambda verifies them.
      ...
    }

`signingDisabled` cannot be changed after creation (docs/custom-authorizer.md#authorizer-resource):
switching it
later replaces the authorizer, so decide before the first apply.
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

try:
    from iotws.checkov_checks import _iotws_common as common
except ImportError:  # pragma: no cover - checkov without the kit installed: folder on sys.path
    import _iotws_common as common  # type: ignore[no-redef]


class IotAuthorizerSigningDisabled(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=(
                "IoT custom authorizer has token signing disabled: any client can invoke "
                "(and bill) its Lambda; skip inline with a reason if deliberate (browsers)"
            ),
            id="CKV_IOTWS_1",
            categories=(CheckCategories.IAM,),
            supported_resources=("aws_iot_authorizer",),
            guideline=f"{common.GUIDE}#ckv_iotws_1",
        )
        common.set_severity(self, "MEDIUM")

    def scan_resource_conf(self, conf: dict[str, list[Any]]) -> CheckResult:
        self.evaluated_keys = ["signing_disabled"]
        value = common.attribute(conf, "signing_disabled")
        if value is common.MISSING:
            return CheckResult.PASSED  # the provider's default is false: signing on
        if common.as_bool(value) is True:
            self.details.append(
                "signing_disabled = true: IoT invokes the Lambda for every connection attempt "
                "that names this authorizer, signed or not (docs/custom-authorizer.md#event)"
            )
            return CheckResult.FAILED
        return CheckResult.PASSED  # false, or a value checkov could not resolve


check = IotAuthorizerSigningDisabled()
