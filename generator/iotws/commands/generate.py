"""`iotws generate --spec access.yaml --out build/`: build once, write the build directory.

The directory carries everything the other commands need (`--build DIR`): the rendered
files, a verbatim copy of the spec and `metadata.json` (generator/INTERNALS.md "Build
directory").
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from iotws.build import METADATA_FILE, generate


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "generate",
        help="render IoT policies, authorizer config and guest IAM policy from the access spec",
        description="Build the access spec once into a build directory. It takes --spec only: "
        "it is what makes a build directory (with a copy of the spec inside), which the other "
        "commands then take as --build DIR.",
    )
    p.add_argument(
        "--spec", required=True, help="path of access.yaml (there is no --build: this makes one)"
    )
    p.add_argument("--out", required=True, help="build directory to write into")
    p.add_argument("--no-lint", action="store_true", help="skip linting the rendered policies")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = generate(args.spec, args.out, lint=not args.no_lint)
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
        for path in sorted([*result.files(), METADATA_FILE]):
            print(f"wrote {args.out.rstrip('/')}/{path}")
    return 0
