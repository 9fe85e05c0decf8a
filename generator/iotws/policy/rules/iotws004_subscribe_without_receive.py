"""Lint rule IOTWS004 (warning): what it finds and why is in `RULE.description`."""

from __future__ import annotations

from collections.abc import Iterator

from iotws.iot.arns import parse_arn
from iotws.policy.evaluator import ALLOWED, Request, StatementView
from iotws.policy.rules._base import Context, Hit, Rule, covers, sample_topic_for_filter


def _subscribe_filters(ctx: Context, effect: str) -> Iterator[tuple[StatementView, str, str, bool]]:
    """(statement, filter resource, a matching topic, Receive allowed there) for each
    topicfilter/ resource of a statement with this effect covering iot:Subscribe."""
    for view in ctx.views:
        if view.not_resource or not covers(view, "iot:Subscribe") or view.effect != effect:
            continue
        if any(v.lower().startswith("iot:") and "*" in v for v in view.actions):
            continue  # iot:* style: the action mix is reported elsewhere
        for r in view.resources:
            arn = parse_arn(r)
            if arn is None or arn.rtype != "topicfilter":
                continue
            topic = sample_topic_for_filter(arn, ctx.values, ctx.sample_region, ctx.sample_account)
            decision = ctx.policy_set.evaluate(Request("iot:Receive", topic, ctx.values))
            yield view, r, topic, decision.result == ALLOWED


def check(ctx: Context) -> Iterator[Hit]:
    for view, r, topic, receive_allowed in _subscribe_filters(ctx, "Allow"):
        if not receive_allowed:
            yield Hit(
                f"Subscribe allowed on {r!r} but iot:Receive is not allowed on "
                f"matching topics (e.g. {topic!r}): nothing will be delivered",
                view.document,
                view.statement,
            )


RULE = Rule(
    id="IOTWS004",
    severity="warning",
    description="Subscribe allowed but Receive not allowed on its topics: nothing is delivered",
    fix="allow iot:Receive on the matching topic/ resource",
    scope="set",
    check=check,
)
