"""Lint rule IOTWS011 (error): what it finds and why is in `RULE.description`."""

from __future__ import annotations

from collections.abc import Iterator

from iotws.iot.facts import MAX_DOCUMENTS
from iotws.policy.rules._base import Context, Hit, Rule


def check(ctx: Context) -> Iterator[Hit]:
    if len(ctx.documents) > MAX_DOCUMENTS:
        yield Hit(f"{len(ctx.documents)} documents; at most {MAX_DOCUMENTS} apply to one principal")


RULE = Rule(
    id="IOTWS011",
    severity="error",
    description="more than 10 documents apply to one principal",
    fix="merge statements or narrow the profile",
    scope="set",
    check=check,
)
