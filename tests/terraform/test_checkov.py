"""checkov over modules/ and examples/ (offline, `--skip-download`): no failed check;
every skip is inline (`#checkov:skip=CKV_...:reason`) with a real reason next to the
resource; every file parsed (a file checkov cannot parse is a file it did not check)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import iotws

pytestmark = pytest.mark.terraform


def _json_documents(text: str) -> list[dict[str, Any]]:
    """checkov prints one JSON document per directory (or a list): read them all."""
    decoder = json.JSONDecoder()
    docs: list[dict[str, Any]] = []
    pos = 0
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        value, pos = decoder.raw_decode(text, pos)
        docs += value if isinstance(value, list) else [value]
    return docs


@pytest.fixture(scope="session")
def checkov_report(tf_tree: Path) -> list[dict[str, Any]]:
    """One checkov run per session over the clean copy of modules/ and examples/."""
    exe = shutil.which("checkov", path=str(Path(sys.executable).parent)) or shutil.which("checkov")
    if exe is None:
        pytest.fail("checkov is not installed: run `make venv`", pytrace=False)
    proc = subprocess.run(
        [
            exe,
            # One directory holding both trees: checkov 3.2 scans only the first of several
            # --directory flags (it rescans it for each), so examples/ would go unchecked.
            "--directory",
            ".",
            # checkov's own checks and the kit's IoT checks, in one pass
            "--external-checks-dir",
            str(Path(iotws.__file__).parent / "checkov_checks"),
            "--framework",
            "terraform",
            "--skip-download",
            "--compact",
            "--output",
            "json",
        ],
        cwd=tf_tree,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    if proc.returncode not in (0, 1):
        pytest.fail(
            f"checkov failed to run (exit {proc.returncode}):\n{proc.stderr}", pytrace=False
        )
    docs = _json_documents(proc.stdout)
    assert docs, f"checkov printed no report:\n{proc.stderr}"
    return docs


def _checks(report: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [c for doc in report for c in doc.get("results", {}).get(kind, [])]


def test_checkov_scanned_the_kit(checkov_report: list[dict[str, Any]]) -> None:
    resources = sum(doc.get("summary", {}).get("resource_count", 0) for doc in checkov_report)
    passed = sum(doc.get("summary", {}).get("passed", 0) for doc in checkov_report)
    parsing = sum(doc.get("summary", {}).get("parsing_errors", 0) for doc in checkov_report)
    unparsed = [
        f for doc in checkov_report for f in doc.get("results", {}).get("parsing_errors", [])
    ]
    assert resources > 0 and passed > 0
    assert parsing == 0, f"checkov could not parse (so did not check) {unparsed}"


def test_checkov_no_failed_checks(checkov_report: list[dict[str, Any]]) -> None:
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range'][0]}): "
        f"{c['check_name']}"
        for c in _checks(checkov_report, "failed_checks")
    ]
    assert failed == [], "fix them, or skip inline with a reason:\n" + "\n".join(failed)


def test_checkov_skips_are_inline_and_justified(checkov_report: list[dict[str, Any]]) -> None:
    for check in _checks(checkov_report, "skipped_checks"):
        reason = (check.get("check_result", {}).get("suppress_comment") or "").strip()
        where = f"{check['check_id']} on {check['resource']} in {check['file_path']}"
        assert len(reason.split()) >= 8, f"{where}: the skip needs a real reason, got {reason!r}"
        source = Path(check["file_abs_path"]).read_text(encoding="utf-8")
        assert f"checkov:skip={check['check_id']}:" in source, (
            f"{where}: skips must be inline #checkov:skip comments next to the resource"
        )
