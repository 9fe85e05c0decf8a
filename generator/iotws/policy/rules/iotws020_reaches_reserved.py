"""Lint rule IOTWS020 (error): what it finds and why is in `RULE.description`."""

from __future__ import annotations

from collections.abc import Iterator

from iotws.iot.arns import glob_match
from iotws.iot.facts import AWS_RESERVED_PREFIX, RESERVED_TOPIC_EXAMPLES
from iotws.policy.evaluator import StatementView
from iotws.policy.rules._base import Context, Hit, Rule, allows_resources, iot_arns


def reserved_probe(name: str) -> str | None:
    """A reserved topic that the resource name (a policy pattern) matches, or None."""
    for probe in RESERVED_TOPIC_EXAMPLES:
        if glob_match(name, probe):
            return probe
    return None


def check(view: StatementView, ctx: Context) -> Iterator[Hit]:
    if not allows_resources(view):
        return
    for r, arn in iot_arns(view):
        if arn.rtype not in ("topic", "topicfilter") or arn.name.startswith(AWS_RESERVED_PREFIX):
            continue
        reserved = reserved_probe(arn.name)
        if reserved is not None:
            yield Hit(
                f"{r!r} starts with a wildcard and also matches reserved topics such as "
                f"{reserved!r} (lifecycle events, shadows) and other apps' topics",
                view.document,
                view.statement,
            )


RULE = Rule(
    id="IOTWS020",
    severity="error",
    description=(
        "a topic/topicfilter resource whose wildcard also matches reserved $aws/... topics "
        "(e.g. topic/*/*/*): every app's and device's topics"
    ),
    fix="start every topic resource with the app's own literal prefix (topic_prefix)",
    scope="statement",
    check=check,
)
