"""Lint rule IOTWS018 (warning): what it finds and why is in `RULE.description`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from iotws.iot.facts import MAX_DOCUMENT_CHARS
from iotws.policy.rules._base import Hit, Rule, document_sizes


def check(doc: Any, idx: int) -> Iterator[Hit]:
    no_ws, with_ws = document_sizes(doc)
    if no_ws <= MAX_DOCUMENT_CHARS < with_ws:
        yield Hit(
            f"document is {with_ws} characters with white space "
            f"({no_ws} without); whether white space counts for authorizer documents is "
            "unverified",
            idx,
        )


RULE = Rule(
    id="IOTWS018",
    severity="warning",
    description="fits 2,048 characters only without white space (whether it counts: unverified)",
    fix="emit compact JSON and keep it under 2,048 characters with white space too",
    scope="document",
    check=check,
)
