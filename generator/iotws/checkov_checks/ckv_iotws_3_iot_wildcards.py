"""CKV_IOTWS_3 (HIGH): an IoT or IAM policy granting `iot:*`, or IoT actions on `*`.

Why: `iot:*` (or `*`) grants every IoT action, control plane included (attach policies,
create things, delete rules). And a data-plane action on `Resource: "*"` lets the holder
connect as any client id, publish or subscribe to every topic of the account's single
shared endpoint: every app and stage in the account and region (docs/iot-policies.md and
7). The kit renders narrow `client/`, `topic/` and `topicfilter/` resources from the access
spec (`iotws generate`); hand-written policies should do the same.

What counts:
- an Allow with an action pattern that covers every `iot:` action (`*`, `iot:*`, `io*`),
  or with `NotAction` that leaves `iot:` actions allowed;
- an Allow of a data-plane action (Connect, Publish, Subscribe, Receive, RetainPublish,
  GetRetainedMessage, the shadow actions) on `*`, on an ARN whose resource part is `*`
  (`arn:aws:iot:*:*:*`), or with `NotResource`.
Control-plane actions that only accept `*` (`iot:ListRetainedMessages`,
`iot:DescribeEndpoint`, ...) are not reported.

Covers `aws_iot_policy`, `aws_iam_policy`, `aws_iam_role_policy`, `aws_iam_user_policy`,
`aws_iam_group_policy`, `aws_iam_role` `inline_policy` blocks and
`data "aws_iam_policy_document"`. Documents given as `jsonencode({...})` or JSON heredocs
are read; documents checkov cannot resolve (`file(...)`, variables) pass.
"""

from __future__ import annotations

try:
    from iotws.checkov_checks import _iotws_common as common
except ImportError:  # pragma: no cover - checkov without the kit installed: folder on sys.path
    import _iotws_common as common  # type: ignore[no-redef]

ID = "CKV_IOTWS_3"
NAME = 'IoT/IAM policy grants iot:* or IoT data-plane actions on Resource "*"'
GUIDELINE = f"{common.GUIDE}#ckv_iotws_3"


def findings(statements: list[common.Statement]) -> list[str]:
    """One line per over-wide grant in these statements."""
    out: list[str] = []
    for index, statement in enumerate(statements):
        if not statement.allows:
            continue
        for pattern in common.wildcard_iot_actions(statement):
            out.append(f"statement {index}: action {pattern} grants every iot: action")
        granted = [a for a in common.DATA_PLANE_ACTIONS if common.grants(statement, a) is True]
        if not granted:
            continue
        if isinstance(statement.not_resources, list):
            out.append(f"statement {index}: {', '.join(granted)} with NotResource")
        if isinstance(statement.resources, list):
            for resource in statement.resources:
                if isinstance(resource, str) and common.is_any_resource(resource):
                    out.append(f"statement {index}: {', '.join(granted)} on {resource!r}")
    return out


check, data_check = common.policy_statement_checks(
    check_id=ID, name=NAME, guideline=GUIDELINE, severity="HIGH", findings=findings
)
