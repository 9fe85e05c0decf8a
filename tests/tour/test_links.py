"""Nothing in the repository points outside it: no citation of notes kept elsewhere, every
relative markdown link resolves to a file of the repository, and every docs/ page and anchor
cited anywhere (code comments included) names a heading or an explicit anchor of that page."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Assembled so that this file does not match itself.
OUTSIDE = ["IOT_" + "FACTS", "../" + "shared", "/work/" + "shared", "DESIGN " + "decision"]
LINK = re.compile(r"\]\(([^)\s]+)\)")
DOC_REF = re.compile(r"\bdocs/([A-Za-z0-9_-]+\.md)(?:#([A-Za-z0-9_-]+))?")


def tracked() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    return [REPO / p for p in out.split("\0") if p]


def texts() -> dict[Path, str]:
    found: dict[Path, str] = {}
    for path in tracked():
        try:
            found[path] = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
    return found


def anchors(page: Path) -> set[str]:
    text = page.read_text(encoding="utf-8")
    slugs = {
        re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
        for m in re.finditer(r"^#{1,6}\s+(.+?)\s*$", text, re.M)
    }
    return slugs | set(re.findall(r'<a (?:id|name)="([^"]+)"', text))


def test_nothing_cites_notes_outside_the_repository() -> None:
    hits = [
        f"{path.relative_to(REPO)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
        for path, text in texts().items()
        for word in OUTSIDE
        for m in re.finditer(re.escape(word), text)
    ]
    assert not hits, "citations of files outside the repository:\n" + "\n".join(hits[:50])


def test_markdown_links_resolve_inside_the_repository() -> None:
    bad: list[str] = []
    for path, text in texts().items():
        if path.suffix != ".md":
            continue
        for m in LINK.finditer(text):
            target = m.group(1)
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # a web address or an anchor of this page
            file_part, _, anchor = target.partition("#")
            resolved = (path.parent / file_part).resolve()
            where = f"{path.relative_to(REPO)}: {target}"
            if REPO not in resolved.parents and resolved != REPO:
                bad.append(f"{where} (outside the repository)")
            elif not resolved.exists():
                bad.append(f"{where} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                bad.append(f"{where} (no such anchor)")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("kind", ["page", "anchor"])
def test_docs_citations_resolve(kind: str) -> None:
    bad: list[str] = []
    for path, text in texts().items():
        for m in DOC_REF.finditer(text):
            page = REPO / "docs" / m.group(1)
            where = f"{path.relative_to(REPO)}: {m.group(0)}"
            if kind == "page" and not page.is_file():
                bad.append(where)
            elif kind == "anchor" and m.group(2) and page.is_file():
                if m.group(2) not in anchors(page):
                    bad.append(where)
    assert not bad, "\n".join(bad)
