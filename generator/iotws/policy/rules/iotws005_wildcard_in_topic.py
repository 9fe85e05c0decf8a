"""Lint rule IOTWS005 (error): what it finds and why is in `RULE.description`."""

from __future__ import annotations

from collections.abc import Iterator

from iotws.policy.evaluator import StatementView
from iotws.policy.rules._base import Context, Hit, Rule, mqtt_wildcard_resources


def check(view: StatementView, ctx: Context) -> Iterator[Hit]:
    for r in mqtt_wildcard_resources(view, "topic"):
        yield Hit(
            f"'+'/'#' in topic resource {r!r} are literal in policies and cannot occur "
            "in a topic name: it never matches a real topic",
            view.document,
            view.statement,
        )


RULE = Rule(
    id="IOTWS005",
    severity="error",
    description=(
        "+ or # in a topic/ resource: literal, and topic names cannot contain them, so the "
        "resource never matches"
    ),
    fix="use * in topic/ resources (docs/iot-policies.md#actions-and-resources)",
    scope="statement",
    check=check,
)
