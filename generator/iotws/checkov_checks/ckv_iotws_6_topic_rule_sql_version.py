"""CKV_IOTWS_6 (MEDIUM): an `aws_iot_topic_rule` whose SQL version is not `2016-03-23`.

Why: a rule without a SQL version runs as `2015-10-08` (docs/rules-engine.md#names-and-sql), the
oldest
semantics of the rules SQL; the kit writes every rule for `2016-03-23`, and `beta` may
change under you. The hashicorp/aws provider makes `sql_version` a required argument, so
this check mostly catches an old or beta value written on purpose or copied from an old
example. A value checkov cannot resolve (a variable without a default) is not reported.
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

try:
    from iotws.checkov_checks import _iotws_common as common
except ImportError:  # pragma: no cover - checkov without the kit installed: folder on sys.path
    import _iotws_common as common  # type: ignore[no-redef]

CURRENT_SQL_VERSION = "2016-03-23"


class IotTopicRuleSqlVersion(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=(
                f'IoT topic rule must set sql_version = "{CURRENT_SQL_VERSION}" '
                "(unset means 2015-10-08)"
            ),
            id="CKV_IOTWS_6",
            categories=(CheckCategories.GENERAL_SECURITY,),
            supported_resources=("aws_iot_topic_rule",),
            guideline=f"{common.GUIDE}#ckv_iotws_6",
        )
        common.set_severity(self, "MEDIUM")

    def scan_resource_conf(self, conf: dict[str, list[Any]]) -> CheckResult:
        self.evaluated_keys = ["sql_version"]
        value = common.attribute(conf, "sql_version")
        if value is common.MISSING or value is None:
            self.details.append("sql_version is not set: the rule runs as 2015-10-08")
            return CheckResult.FAILED
        version = common.as_str(value)
        if isinstance(version, str) and version.strip() != CURRENT_SQL_VERSION:
            self.details.append(f"sql_version is {version!r}, not {CURRENT_SQL_VERSION!r}")
            return CheckResult.FAILED
        return CheckResult.PASSED


check = IotTopicRuleSqlVersion()
