"""Lint rule IOTWS009 (warning): what it finds and why is in `RULE.description`."""

from __future__ import annotations

from collections.abc import Iterator

from iotws.policy.evaluator import StatementView
from iotws.policy.rules._base import Context, Hit, Rule, allows_resources


def check(view: StatementView, ctx: Context) -> Iterator[Hit]:
    if not allows_resources(view):
        return
    only_list = (
        all(a.lower() == "iot:listretainedmessages" for a in view.actions) and not view.not_action
    )
    only_connect = len(view.actions) == 1 and view.actions[0].lower() == "iot:connect"
    for r in view.resources:
        if r == "*" and not only_list and not only_connect:
            yield Hit(
                'Resource "*" in an Allow covers every topic, filter and client',
                view.document,
                view.statement,
            )


RULE = Rule(
    id="IOTWS009",
    severity="warning",
    description='Resource "*" in an Allow',
    fix="name the resources (topic/..., topicfilter/..., client/...)",
    scope="statement",
    check=check,
)
