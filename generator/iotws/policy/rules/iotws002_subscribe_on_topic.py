"""Lint rule IOTWS002 (error): what it finds and why is in `RULE.description`."""

from __future__ import annotations

from collections.abc import Iterator

from iotws.iot.arns import glob_match, parse_arn
from iotws.policy.evaluator import StatementView
from iotws.policy.rules._base import Context, Hit, Rule, names


def check(view: StatementView, ctx: Context) -> Iterator[Hit]:
    if view.not_resource:
        return
    types = [a.rtype for a in (parse_arn(r) for r in view.resources) if a is not None]
    if (
        names(view, "iot:Subscribe")
        and "topic" in types
        and not any(glob_match(t, "topicfilter") for t in types)
    ):
        yield Hit(
            "iot:Subscribe on a topic/ resource never matches: SUBSCRIBE is checked "
            "against topicfilter/<filter>",
            view.document,
            view.statement,
        )


RULE = Rule(
    id="IOTWS002",
    severity="error",
    description="iot:Subscribe on a topic/ resource (SUBSCRIBE is checked against topicfilter/)",
    fix="write the resource as topicfilter/...",
    scope="statement",
    check=check,
)
