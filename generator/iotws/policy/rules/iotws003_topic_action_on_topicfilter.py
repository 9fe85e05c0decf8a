"""Lint rule IOTWS003 (error): what it finds and why is in `RULE.description`."""

from __future__ import annotations

from collections.abc import Iterator

from iotws.iot.arns import glob_match, parse_arn
from iotws.policy.evaluator import StatementView
from iotws.policy.rules._base import TOPIC_ACTIONS, Context, Hit, Rule, names


def check(view: StatementView, ctx: Context) -> Iterator[Hit]:
    if view.not_resource:
        return
    types = [a.rtype for a in (parse_arn(r) for r in view.resources) if a is not None]
    for action in TOPIC_ACTIONS:
        if (
            names(view, action)
            and "topicfilter" in types
            and not any(glob_match(t, "topic") for t in types)
        ):
            yield Hit(
                f"{action} on a topicfilter/ resource never matches: it is checked "
                "against topic/<topic>",
                view.document,
                view.statement,
            )


RULE = Rule(
    id="IOTWS003",
    severity="error",
    description=(
        "Publish/Receive/RetainPublish/GetRetainedMessage on a topicfilter/ resource (checked"
        " against topic/)"
    ),
    fix="write the resource as topic/...",
    scope="statement",
    check=check,
)
