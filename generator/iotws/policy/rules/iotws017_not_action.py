"""Lint rule IOTWS017 (info): what it finds and why is in `RULE.description`."""

from __future__ import annotations

from collections.abc import Iterator

from iotws.policy.evaluator import StatementView
from iotws.policy.rules._base import Context, Hit, Rule


def check(view: StatementView, ctx: Context) -> Iterator[Hit]:
    if view.not_action:
        yield Hit(
            "NotAction is not documented for IoT policies (unverified); the evaluator "
            "treats it as in IAM",
            view.document,
            view.statement,
        )


RULE = Rule(
    id="IOTWS017",
    severity="info",
    description="NotAction: not documented for IoT policies (unverified)",
    fix="list the allowed actions in Action instead",
    scope="statement",
    check=check,
)
