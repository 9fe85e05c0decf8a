"""Lint rule IOTWS015 (error): what it finds and why is in `RULE.description`."""

from __future__ import annotations

from collections.abc import Iterator

from iotws.policy.evaluator import StatementView
from iotws.policy.rules._base import Context, Hit, Rule, iot_arn


def check(view: StatementView, ctx: Context) -> Iterator[Hit]:
    for r in view.resources:
        if r != "*" and iot_arn(r) is None:
            yield Hit(
                f"{r!r} is not an IoT resource ARN; it never matches",
                view.document,
                view.statement,
            )


RULE = Rule(
    id="IOTWS015",
    severity="error",
    description="not an IoT ARN (arn:aws:iot:REGION:ACCOUNT:TYPE/NAME): never matches",
    fix="write arn:aws:iot:REGION:ACCOUNT:TYPE/NAME (TYPE: topic, topicfilter, client)",
    scope="statement",
    check=check,
)
