"""The lint rules are data: one file per rule, a registry, and the docs table generated
from it (docs/lint-rules.md), as cfn-lint does."""

from __future__ import annotations

import re
from pathlib import Path

from iotws.paths import repo_root
from iotws.policy import rules as rules_pkg
from iotws.policy.rules import RULES, SEVERITIES, markdown_table

DOC = repo_root() / "docs" / "lint-rules.md"


def test_docs_table_is_generated_from_the_registry() -> None:
    # GIVEN the committed docs WHEN the table is generated again THEN nothing changes
    text = DOC.read_text(encoding="utf-8")
    assert markdown_table() in text, (
        "docs/lint-rules.md is out of date: run "
        "`python -m iotws.policy.rules --write docs/lint-rules.md`"
    )


def test_one_file_per_rule_with_its_id_in_the_name() -> None:
    folder = Path(rules_pkg.__file__).parent
    files = sorted(p.stem for p in folder.glob("iotws[0-9]*.py"))
    assert [f[:8].upper() for f in files] == [r.id for r in RULES]
    for rule in RULES:
        assert re.fullmatch(r"IOTWS\d{3}", rule.id)
        assert rule.severity in SEVERITIES
        assert rule.description and rule.fix
        assert rule.scope in ("statement", "document", "set", "parse")
        assert (rule.check is None) == (rule.scope == "parse")


def test_ids_are_consecutive_and_never_renumbered() -> None:
    assert [r.id for r in RULES] == [f"IOTWS{n:03d}" for n in range(1, len(RULES) + 1)]
