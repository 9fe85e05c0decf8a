"""Lint rule IOTWS001 (error): what it finds and why is in `RULE.description`."""

from __future__ import annotations

from iotws.policy.rules._base import Rule

RULE = Rule(
    id="IOTWS001",
    severity="error",
    description="not a valid policy document (the evaluator refuses it)",
    fix="fix the document",
    scope="parse",
    check=None,
)
