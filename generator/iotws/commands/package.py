"""`iotws package --build build/ --out build/authorizer.zip` (reproducible).

`--build DIR` zips the configuration `iotws generate` wrote there (nothing is rendered
again: `make package` does this); `--spec access.yaml` builds the spec once in memory.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from iotws.errors import IotwsError
from iotws.package import build_authorizer_zip, build_dir_zip, build_function_zip, sha256_file
from iotws.vendor import ARCHES, DEFAULT_ARCH, DEFAULT_PYTHON, PYTHONS


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "package", help="build a byte-for-byte reproducible Lambda zip"
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--spec", help="access.yaml (for the authorizer): built here once")
    src.add_argument(
        "--build",
        metavar="DIR",
        help="build directory written by `iotws generate` (for the authorizer): its "
        "configuration is zipped without rendering again",
    )
    p.add_argument("--out", required=True, help="zip file to write")
    p.add_argument(
        "--function",
        default="authorizer",
        help="folder under lambda_src/ to package (default: authorizer, which needs --spec or "
        "--build)",
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
        if args.build:
            out = build_dir_zip(args.build, args.out, arch=args.arch, python=args.python)
        elif args.spec:
            out = build_authorizer_zip(args.spec, args.out, arch=args.arch, python=args.python)
        else:
            raise IotwsError(
                "the authorizer zip carries the rendered policies",
                field="--spec",
                fix="add --build DIR (the `iotws generate` output) or --spec access.yaml",
            )
    else:
        if args.spec or args.build:
            raise IotwsError(
                f"--function {args.function} is packaged as it is; --spec and --build are for "
                "the authorizer",
                field="--spec",
                fix=f"drop --spec/--build, or drop --function {args.function}",
            )
        out = build_function_zip(args.function, args.out)
    print(f"wrote {out} ({Path(out).stat().st_size} bytes, sha256 {sha256_file(Path(out))})")
    return 0
