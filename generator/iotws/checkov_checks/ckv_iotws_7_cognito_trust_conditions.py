"""CKV_IOTWS_7 (HIGH): a role trusting `cognito-identity.amazonaws.com` without `aud` and `amr`.

Why: Cognito identity pools hand out a role's credentials through
`sts:AssumeRoleWithWebIdentity` with the federated principal
`cognito-identity.amazonaws.com`. The trust policy must pin

- `cognito-identity.amazonaws.com:aud` with `StringEquals` to the identity pool id, or
  identities of *any* pool (anyone's, in any account) could assume the role; and
- `cognito-identity.amazonaws.com:amr` (AWS's examples use `ForAnyValue:StringLike`) to
  `unauthenticated` or `authenticated`, or guests could assume the role meant for
  signed-in users (docs/cognito-guests.md#trust-policy; Amplify once shipped roles without this).

An `amr` condition under a negated (`StringNotLike`) or `ForAllValues:` operator, or with
the value `*`, does not count. Covers `aws_iam_role.assume_role_policy` and
`data "aws_iam_policy_document"` statements with that principal; a trust policy checkov
cannot resolve is not reported.
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.data.base_check import BaseDataCheck
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

try:
    from iotws.checkov_checks import _iotws_common as common
except ImportError:  # pragma: no cover - checkov without the kit installed: folder on sys.path
    import _iotws_common as common  # type: ignore[no-redef]

ID = "CKV_IOTWS_7"
NAME = (
    "Role trusted by cognito-identity.amazonaws.com must pin the pool "
    "(StringEquals cognito-identity.amazonaws.com:aud) and amr"
)
GUIDELINE = f"{common.GUIDE}#ckv_iotws_7"

COGNITO = "cognito-identity.amazonaws.com"
AUD = f"{COGNITO}:aud"
AMR = f"{COGNITO}:amr"


def trusts_cognito(statement: common.Statement) -> bool:
    if not statement.allows or isinstance(statement.principals, common.Unknown):
        return False
    for kind, identifiers in statement.principals.items():
        if kind.lower() != "federated" or isinstance(identifiers, common.Unknown):
            continue
        if any(isinstance(i, str) and i.strip().lower() == COGNITO for i in identifiers):
            return True
    return False


def _has_values(values: list[str | common.Unknown] | common.Unknown, *, like: bool) -> bool:
    if isinstance(values, common.Unknown):
        return True  # set from something checkov could not resolve (the pool's id)
    if not values:
        return False
    literal = [v.strip() for v in values if isinstance(v, str)]
    if any(v == "" for v in literal):
        return False
    return not (like and any(v == "*" for v in literal))


def condition_problems(statement: common.Statement) -> list[str]:
    """What the statement's Condition lacks, or [] (also when it cannot be resolved)."""
    conditions = statement.conditions
    if isinstance(conditions, common.Unknown):
        return []
    aud = amr = False
    for operator, keys in conditions.items():
        op = operator.strip().lower()
        if op == "stringequals" and AUD in keys:
            aud = aud or _has_values(keys[AUD], like=False)
        string_op = "string" in op and "not" not in op and not op.startswith("forallvalues:")
        if string_op and AMR in keys:
            amr = amr or _has_values(keys[AMR], like="like" in op)
    problems = []
    if not aud:
        problems.append(f'no StringEquals "{AUD}" = the identity pool id')
    if not amr:
        problems.append(f'no "{AMR}" = "unauthenticated" or "authenticated"')
    return problems


def evaluate(
    check: BaseResourceCheck | BaseDataCheck, statements: list[common.Statement]
) -> CheckResult:
    found = False
    problems: list[str] = []
    for index, statement in enumerate(statements):
        if trusts_cognito(statement):
            found = True
            problems += [f"statement {index}: {p}" for p in condition_problems(statement)]
    if not found:
        return CheckResult.UNKNOWN  # not a Cognito trust policy
    if problems:
        check.details.extend(problems)
        return CheckResult.FAILED
    return CheckResult.PASSED


class CognitoRoleTrustConditions(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=NAME,
            id=ID,
            categories=(CheckCategories.IAM,),
            supported_resources=("aws_iam_role",),
            guideline=GUIDELINE,
        )
        common.set_severity(self, "HIGH")

    def scan_resource_conf(self, conf: dict[str, list[Any]]) -> CheckResult:
        self.evaluated_keys = ["assume_role_policy"]
        statements = common.json_statements(common.attribute(conf, "assume_role_policy"))
        if statements is None:
            return CheckResult.UNKNOWN  # checkov could not resolve the trust policy
        return evaluate(self, statements)


class CognitoRoleTrustConditionsDocument(BaseDataCheck):
    def __init__(self) -> None:
        super().__init__(
            name=NAME,
            id=ID,
            categories=(CheckCategories.IAM,),
            supported_data=("aws_iam_policy_document",),
            guideline=GUIDELINE,
        )
        common.set_severity(self, "HIGH")

    def scan_data_conf(self, conf: dict[str, list[Any]]) -> CheckResult:
        self.evaluated_keys = ["statement"]
        return evaluate(self, common.hcl_statements(conf))


check = CognitoRoleTrustConditions()
data_check = CognitoRoleTrustConditionsDocument()
