"""`iotws generate --spec access.yaml --out build/`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from iotws import __version__
from iotws.build import generate

# build/metadata.json: which kit produced the build. The Terraform modules' `build_metadata`
# input checks it at plan time (modules/*/README.md, "Kit version").
METADATA_FILE = "metadata.json"


def write_metadata(out: str | Path) -> Path:
    path = Path(out) / METADATA_FILE
    text = json.dumps({"kit": "iotws", "kit_version": __version__}, indent=2) + "\n"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "generate",
        help="render IoT policies, authorizer config and guest IAM policy from the access spec",
    )
    p.add_argument("--spec", required=True, help="path of access.yaml")
    p.add_argument("--out", required=True, help="build directory to write into")
    p.add_argument("--no-lint", action="store_true", help="skip linting the rendered policies")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = generate(args.spec, args.out, lint=not args.no_lint)
    metadata = write_metadata(args.out)
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if not args.quiet:
        for line in result.lint:
            print(line, file=sys.stderr)
        for name, prof in sorted(result.profiles.items()):
            worst = max(prof.worst_case_chars)
            print(
                f"profile {name}: {len(prof.documents)} document(s), worst case {worst} chars, "
                f"{len(prof.widenings)} widening(s)"
            )
        for path in sorted(result.files()):
            print(f"wrote {args.out.rstrip('/')}/{path}")
        print(f"wrote {metadata}")
    return 0
