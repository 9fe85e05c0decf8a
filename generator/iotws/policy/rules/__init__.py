"""The lint rules: one module per rule (`iotwsNNN_*.py`, each defining `RULE`), and the
registry of them all, ordered by id. Ids are stable: never renumber a rule, add new ones
at the end. docs/lint-rules.md's table is generated from this registry
(`python -m iotws.policy.rules --write docs/lint-rules.md`) and a test checks it.
"""

from __future__ import annotations

import importlib
import pkgutil

from iotws.policy.rules._base import SEVERITIES, Context, Finding, Hit, Rule


def _discover() -> tuple[Rule, ...]:
    found: list[Rule] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("iotws"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            rule = module.RULE
            if not isinstance(rule, Rule):
                raise TypeError(f"{module.__name__}.RULE is not a Rule")
            found.append(rule)
    found.sort(key=lambda r: r.id)
    ids = [r.id for r in found]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate lint rule ids: {ids}")
    return tuple(found)


RULES: tuple[Rule, ...] = _discover()
BY_ID: dict[str, Rule] = {r.id: r for r in RULES}

TABLE_BEGIN = "<!-- BEGIN_LINT_RULES -->"
TABLE_END = "<!-- END_LINT_RULES -->"


def markdown_table() -> str:
    """The rule table of docs/lint-rules.md, between its markers."""
    lines = [
        TABLE_BEGIN,
        "| id | severity | finding | fix |",
        "|---|---|---|---|",
    ]
    for r in RULES:
        cells = [r.id, r.severity, r.description, r.fix]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines.append(TABLE_END)
    return "\n".join(lines) + "\n"


def replace_table(text: str) -> str:
    """`text` with the part between the markers replaced by `markdown_table()`."""
    start = text.index(TABLE_BEGIN)
    end = text.index(TABLE_END) + len(TABLE_END)
    rest = text[end:]
    return text[:start] + markdown_table() + rest.removeprefix("\n")


__all__ = [
    "BY_ID",
    "RULES",
    "SEVERITIES",
    "Context",
    "Finding",
    "Hit",
    "Rule",
    "markdown_table",
    "replace_table",
]
