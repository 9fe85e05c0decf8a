"""Lint rule IOTWS010 (error): what it finds and why is in `RULE.description`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from iotws.iot.facts import MAX_DOCUMENT_CHARS
from iotws.policy.rules._base import Hit, Rule, document_sizes


def check(doc: Any, idx: int) -> Iterator[Hit]:
    no_ws, _ = document_sizes(doc)
    if no_ws > MAX_DOCUMENT_CHARS:
        yield Hit(
            f"document is {no_ws} characters without white space, over the "
            f"{MAX_DOCUMENT_CHARS} limit",
            idx,
        )


RULE = Rule(
    id="IOTWS010",
    severity="error",
    description="document over 2,048 characters (compact, without white space)",
    fix="split it into more documents or use fewer, wider resources",
    scope="document",
    check=check,
)
