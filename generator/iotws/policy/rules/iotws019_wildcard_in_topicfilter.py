"""Lint rule IOTWS019 (info): what it finds and why is in `RULE.description`."""

from __future__ import annotations

from collections.abc import Iterator

from iotws.policy.evaluator import StatementView
from iotws.policy.rules._base import Context, Hit, Rule, mqtt_wildcard_resources


def check(view: StatementView, ctx: Context) -> Iterator[Hit]:
    for r in mqtt_wildcard_resources(view, "topicfilter"):
        yield Hit(
            f"'+'/'#' in {r!r} are literal: only a SUBSCRIBE to exactly that filter is "
            "allowed (a/+ does not cover a/x or a/#)",
            view.document,
            view.statement,
        )


RULE = Rule(
    id="IOTWS019",
    severity="info",
    description="+ or # in a topicfilter/ resource: grants only that literal filter",
    fix="use * if more filters are meant",
    scope="statement",
    check=check,
)
