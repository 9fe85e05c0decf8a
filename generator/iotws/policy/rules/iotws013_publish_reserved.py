"""Lint rule IOTWS013 (warning): what it finds and why is in `RULE.description`."""

from __future__ import annotations

from collections.abc import Iterator

from iotws.iot.facts import AWS_RESERVED_PREFIX
from iotws.policy.evaluator import StatementView
from iotws.policy.rules._base import Context, Hit, Rule, allows_resources, covers, iot_arns


def check(view: StatementView, ctx: Context) -> Iterator[Hit]:
    if not allows_resources(view):
        return
    publishes = covers(view, "iot:Publish") or covers(view, "iot:RetainPublish")
    for r, arn in iot_arns(view):
        if arn.rtype == "topic" and arn.name.startswith(AWS_RESERVED_PREFIX) and publishes:
            yield Hit(f"Publish allowed on reserved topic {r!r}", view.document, view.statement)


RULE = Rule(
    id="IOTWS013",
    severity="warning",
    description="Publish allowed on a reserved $aws/ topic",
    fix="clients must not publish to $aws/ topics; use the app's own prefix",
    scope="statement",
    check=check,
)
