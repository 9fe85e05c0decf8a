"""`python -m iotws.policy.rules [--write FILE]`: print the lint rule table, or rewrite
the table between the markers of FILE (docs/lint-rules.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from iotws.policy.rules import markdown_table, replace_table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m iotws.policy.rules")
    parser.add_argument("--write", type=Path, help="rewrite the table in this Markdown file")
    args = parser.parse_args(argv)
    if args.write is None:
        sys.stdout.write(markdown_table())
        return 0
    path: Path = args.write
    try:
        path.write_text(replace_table(path.read_text(encoding="utf-8")), encoding="utf-8")
    except (OSError, ValueError) as exc:
        print(f"error: {path}: {exc} (the file needs the table markers)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
