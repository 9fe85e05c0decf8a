"""Commands in the repository's markdown: fenced blocks and inline code spans.

A fenced block's info string says how the tour test treats it:

- `sh`: runs offline from the repository root (a `cd` inside the block holds for the
  rest of the block) and must succeed;
- `sh aws`: needs an AWS account; its first command checks for AWS credentials (`make
  aws-credentials`, `make plan` or `make deploy`), and the block must stop there when
  there are none;
- `python`: a Python snippet, run with the kit's venv;
- anything else (`json`, `text`, `hcl`, no info string): not a command.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^( *)```([^\n`]*)\n(.*?)^\1```\s*$", re.M | re.S)
INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
# Commands that start a server: the test runs them in the background until they answer.
SERVER = re.compile(r"^(make demo\b|\S*python3? -m http\.server\b)")


@dataclass
class Block:
    path: Path
    line: int
    kind: str  # "sh", "sh aws", "python"
    text: str
    commands: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def logical_commands(text: str) -> list[str]:
    """Lines of a shell block with `\\` continuations and pipes joined, comments dropped."""
    out: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if " #" in line and "'" not in line and '"' not in line:
            line = line.split(" #", 1)[0].rstrip()  # a trailing comment
        current = f"{current} {line.strip()}" if current else line.strip()
        if current.endswith("\\"):
            current = current[:-1].rstrip()
            continue
        if current.endswith(("|", "&&", "||")):
            continue
        out.append(current)
        current = ""
    if current:
        out.append(current)
    return out


def blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    found: list[Block] = []
    for m in FENCE.finditer(text):
        info = m.group(2).strip()
        kind = {"sh": "sh", "bash": "sh", "sh aws": "sh aws", "python": "python"}.get(info)
        if kind is None:
            continue
        line = text.count("\n", 0, m.start()) + 1
        body = textwrap.dedent(m.group(3))
        block = Block(path, line, kind, body)
        if kind != "python":
            block.commands = logical_commands(body)
        found.append(block)
    return found


def inline_spans(path: Path) -> list[tuple[int, str]]:
    """(line, text) of inline code spans outside fenced blocks."""
    text = path.read_text(encoding="utf-8")
    prose = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    return [(prose.count("\n", 0, m.start()) + 1, m.group(1)) for m in INLINE.finditer(prose)]
