"""`iotws checkov [DIR ...]`: checkov on Terraform stacks, with the kit's IoT checks added.

For each directory (default: the current one) it runs

    checkov -d DIR --framework terraform --skip-download \
        --external-checks-dir <iotws/checkov_checks> --compact --quiet

with the checkov of this Python environment (so the checks can import `iotws`), offline,
and exits with checkov's code (the highest one when several directories are given:
0 = no failed checks, 1 = failed checks). The checks are described in
`generator/iotws/checkov_checks/README.md`.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from iotws.checkov_checks import CHECKS_DIR
from iotws.errors import IotwsError

_CHECK_FILE = re.compile(r"^ckv_iotws_(\d+)_\w+\.py$")


def check_ids() -> list[str]:
    """The ids of the kit's checks, from their file names (`ckv_iotws_<n>_<what>.py`)."""
    numbers = sorted(
        int(m.group(1)) for p in CHECKS_DIR.iterdir() if (m := _CHECK_FILE.match(p.name))
    )
    return [f"CKV_IOTWS_{n}" for n in numbers]


def build_command(
    directory: Path | str,
    *,
    iotws_only: bool = False,
    quiet: bool = True,
    extra: Sequence[str] = (),
) -> list[str]:
    """The checkov command line for one directory.

    `quiet=False` keeps passed checks in the report (`--quiet` drops them, also from
    `-o json`); `extra` is appended as is (`["-o", "json"]`).

    One directory per run: checkov 3.2 given `-d` several times in terraform mode reports
    the first directory again for each `-d` (and prints one JSON document per `-d`).
    """
    return [
        sys.executable,
        "-m",
        "checkov.main",
        "-d",
        str(directory),
        "--framework",
        "terraform",
        "--skip-download",
        "--external-checks-dir",
        str(CHECKS_DIR),
        "--compact",
        *(["--quiet"] if quiet else []),
        *(["--check", ",".join(check_ids())] if iotws_only else []),
        *extra,
    ]


def checkov_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for checkov: no update check against PyPI, no platform look-ups."""
    env = dict(os.environ if base is None else base)
    env["CKV_SKIP_PACKAGE_UPDATE_CHECK"] = "true"
    env["BC_SKIP_MAPPING"] = "TRUE"
    return env


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "checkov",
        help="Run checkov on Terraform stacks with the kit's IoT checks (CKV_IOTWS_*)",
        description=(
            "Run checkov (offline) on each DIR with the kit's custom IoT checks added to "
            "checkov's own: authorizer token signing, Lambda permissions for IoT, iot:* and "
            "Resource '*' grants, Connect not bound to a client id, topic rules without an "
            "error action or SQL version 2016-03-23, Cognito role trust without aud/amr. "
            "Exit code: checkov's (0 = no failed checks). Skip a deliberate finding inline: "
            "#checkov:skip=CKV_IOTWS_1:<reason> inside the resource block."
        ),
    )
    parser.add_argument(
        "directories",
        metavar="DIR",
        nargs="*",
        type=Path,
        help="Terraform root or module directory (default: the current directory)",
    )
    parser.add_argument(
        "--iotws-only",
        action="store_true",
        help="run only the kit's checks (CKV_IOTWS_*), not checkov's built-in ones",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    directories: list[Path] = list(args.directories) or [Path.cwd()]
    for directory in directories:
        if not directory.is_dir():
            raise IotwsError(
                f"{str(directory)!r} is not a directory",
                field="DIR",
                fix="pass the folder that holds your stack's *.tf files",
            )
    if importlib.util.find_spec("checkov") is None:
        raise IotwsError(
            "checkov is not installed in this Python environment",
            field="checkov",
            fix="run `make venv` (checkov is a dev dependency) or `pip install checkov`",
        )
    worst = 0
    env = checkov_env()
    for directory in directories:
        if len(directories) > 1:
            print(f"iotws checkov: {directory}", flush=True)
        argv = build_command(directory, iotws_only=args.iotws_only)
        code = subprocess.run(argv, env=env, check=False).returncode
        # A checkov killed by a signal reports -N: count it as a failure (128 + N).
        worst = max(worst, code if code >= 0 else 128 - code)
    return worst
