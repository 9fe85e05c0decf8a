"""Lint rule IOTWS014 (warning): what it finds and why is in `RULE.description`."""

from __future__ import annotations

from collections.abc import Iterator

from iotws.iot.arns import has_wildcard
from iotws.policy.evaluator import StatementView
from iotws.policy.rules._base import Context, Hit, Rule, iot_arns


def check(view: StatementView, ctx: Context) -> Iterator[Hit]:
    for r, arn in iot_arns(view):
        for part, given, slot, what in (
            (arn.region, ctx.region, "${iotws:region}", "region"),
            (arn.account, ctx.account, "${iotws:account}", "account"),
        ):
            if given is None or part == slot or part == given:
                continue
            if has_wildcard(part):
                yield Hit(
                    f"{what} {part!r} in {r!r} is a wildcard: it also matches other {what}s",
                    view.document,
                    view.statement,
                    severity="warning",
                    fix=f"write the {what} {given}",
                )
            else:
                yield Hit(
                    f"{what} {part!r} in {r!r} differs from the expected {given!r}: it never "
                    "matches here",
                    view.document,
                    view.statement,
                    fix=f"write the {what} {given}",
                )


RULE = Rule(
    id="IOTWS014",
    severity="error",
    description="region or account differs from the expected one (warning: a wildcard)",
    fix="write the expected region and account",
    scope="statement",
    check=check,
)
