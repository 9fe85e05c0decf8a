"""`iotws package --spec access.yaml --out build/authorizer.zip` (reproducible)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from iotws.errors import IotwsError
from iotws.package import build_authorizer_zip, build_function_zip, sha256_file
from iotws.vendor import ARCHES, DEFAULT_ARCH, DEFAULT_PYTHON, PYTHONS


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "package", help="build a byte-for-byte reproducible Lambda zip"
    )
    p.add_argument("--spec", help="access.yaml (for the authorizer)")
    p.add_argument("--out", required=True, help="zip file to write")
    p.add_argument(
        "--function",
        default="authorizer",
        help="folder under lambda_src/ to package (default: authorizer, which needs --spec)",
    )
    p.add_argument(
        "--arch",
        choices=sorted(ARCHES),
        default=DEFAULT_ARCH,
        help="Lambda architecture, for the Linux wheels a jwks authorizer vendors "
        f"(default {DEFAULT_ARCH})",
    )
    p.add_argument(
        "--python",
        choices=PYTHONS,
        default=DEFAULT_PYTHON,
        help=f"Lambda Python runtime version, for the same wheels (default {DEFAULT_PYTHON})",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.function == "authorizer":
        if not args.spec:
            raise IotwsError(
                "the authorizer zip carries the rendered policies",
                field="--spec",
                fix="add --spec access.yaml",
            )
        out = build_authorizer_zip(args.spec, args.out, arch=args.arch, python=args.python)
    else:
        out = build_function_zip(args.function, args.out)
    print(f"wrote {out} ({Path(out).stat().st_size} bytes, sha256 {sha256_file(Path(out))})")
    return 0
