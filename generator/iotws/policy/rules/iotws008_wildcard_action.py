"""Lint rule IOTWS008 (error): what it finds and why is in `RULE.description`."""

from __future__ import annotations

from collections.abc import Iterator

from iotws.policy.evaluator import StatementView
from iotws.policy.rules._base import Context, Hit, Rule


def check(view: StatementView, ctx: Context) -> Iterator[Hit]:
    if (
        view.effect == "Allow"
        and not view.not_action
        and any(a == "*" or a.lower() == "iot:*" for a in view.actions)
    ):
        yield Hit(
            "Allow with a wildcard action (iot:* or *) grants every IoT action, "
            "including shadow, job and retained-message actions",
            view.document,
            view.statement,
        )


RULE = Rule(
    id="IOTWS008",
    severity="error",
    description="iot:* or * action in an Allow",
    fix="name the actions: iot:Connect, iot:Publish, iot:Subscribe, iot:Receive",
    scope="statement",
    check=check,
)
