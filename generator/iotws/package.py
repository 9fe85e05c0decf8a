"""Reproducible Lambda zips: same inputs, same bytes.

Entries are sorted, timestamps fixed (1980-01-01), modes fixed (0644 files), compression
fixed; caches and tests are left out. The authorizer zip adds the rendered configuration
as `iotws_config.json` beside `app.py`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from iotws.build import Build, build, read_authorizer_config, read_metadata
from iotws.errors import IotwsError
from iotws.paths import lambda_src
from iotws.vendor import DEFAULT_ARCH, DEFAULT_PYTHON, check_target, wheel_entries

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
EXCLUDE_DIRS = {"__pycache__", "tests", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
EXCLUDE_SUFFIXES = (".pyc", ".pyo", ".DS_Store")
CONFIG_NAME = "iotws_config.json"
# Added to every backend Lambda zip (not the authorizer's, which imports nothing of it).
SHARED_PACKAGE = "iotws_publish"


def source_files(root: Path) -> list[tuple[str, Path]]:
    if not root.is_dir():
        raise IotwsError(
            f"no Lambda source folder {root}", fix="run from a checkout of the kit (lambda_src/)"
        )
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDE_DIRS)
        for f in filenames:
            if f.endswith(EXCLUDE_SUFFIXES):
                continue
            path = Path(dirpath) / f
            found.append((path.relative_to(root).as_posix(), path))
    return sorted(found)


def zip_bytes(entries: Iterable[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in sorted(entries, key=lambda e: e[0]):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100644 & 0xFFFF) << 16
            info.create_system = 3  # unix, so the mode bits are honoured
            zf.writestr(info, data)
    return buf.getvalue()


def write_atomic(out: Path, data: bytes) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".iotws-", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def authorizer_zip_bytes(
    source: Build | str | Path, *, arch: str = DEFAULT_ARCH, python: str = DEFAULT_PYTHON
) -> bytes:
    """The authorizer zip of a `Build` (or of the spec at a path, built here once).

    Mode `jwks` also carries PyJWT and cryptography as Linux wheels for the function's
    `arch` and `python` (iotws.vendor); other modes are stdlib only."""
    b = source if isinstance(source, Build) else build(source)
    if not b.spec.has_authorizer:
        raise IotwsError(
            "this spec has no authorizer section, so there is no authorizer to package",
            field="authorizer",
            fix="Cognito-only specs need no Lambda: run iotws generate and terraform apply",
        )
    return config_zip_bytes(b.authorizer_config, arch=arch, python=python)


def config_zip_bytes(
    config: dict[str, Any], *, arch: str = DEFAULT_ARCH, python: str = DEFAULT_PYTHON
) -> bytes:
    """The authorizer sources plus `config` as `iotws_config.json` (a checked configuration:
    `Build.authorizer_config` or `iotws.build.read_authorizer_config`)."""
    text = json.dumps(config, indent=None, sort_keys=True, separators=(",", ":"))
    entries = [(rel, p.read_bytes()) for rel, p in source_files(lambda_src("authorizer"))]
    entries.append((CONFIG_NAME, text.encode()))
    if config["mode"] == "jwks":
        check_target(arch, python)
        names = {name for name, _ in entries}
        vendored = wheel_entries(arch, python)
        clash = sorted(names & {name for name, _ in vendored})
        if clash:
            raise IotwsError(f"vendored files would replace the authorizer's: {clash}")
        entries += vendored
    return zip_bytes(entries)


def build_authorizer_zip(
    source: Build | str | Path,
    out_path: str | Path,
    *,
    arch: str = DEFAULT_ARCH,
    python: str = DEFAULT_PYTHON,
) -> Path:
    out = Path(out_path)
    write_atomic(out, authorizer_zip_bytes(source, arch=arch, python=python))
    return out


def build_dir_zip(
    build_dir: str | Path,
    out_path: str | Path,
    *,
    arch: str = DEFAULT_ARCH,
    python: str = DEFAULT_PYTHON,
) -> Path:
    """The authorizer zip from a build directory that `iotws generate` wrote: no
    rendering, the configuration is read and checked against its schema."""
    out = Path(out_path)
    read_metadata(build_dir)  # a build of this kit
    config = read_authorizer_config(build_dir)
    write_atomic(out, config_zip_bytes(config, arch=arch, python=python))
    return out


def function_zip_bytes(name: str) -> bytes:
    """`lambda_src/<name>` as it is, plus the kit's publish helper as `iotws_publish/`."""
    if name == SHARED_PACKAGE:
        raise IotwsError(
            f"{SHARED_PACKAGE} is the publish helper, not a function",
            field="--function",
            fix="name a function folder of lambda_src/, e.g. chat_message",
        )
    entries = [(rel, p.read_bytes()) for rel, p in source_files(lambda_src(name))]
    names = {rel for rel, _ in entries}
    shared = [
        (f"{SHARED_PACKAGE}/{rel}", p.read_bytes())
        for rel, p in source_files(lambda_src(SHARED_PACKAGE))
    ]
    clash = sorted(names & {rel for rel, _ in shared})
    if clash:
        raise IotwsError(
            f"lambda_src/{name} has its own {clash[0]}, which the publish helper would replace",
            field=f"--function {name}",
            fix=f"rename that folder; {SHARED_PACKAGE} is added to every backend zip",
        )
    return zip_bytes(entries + shared)


def build_function_zip(name: str, out_path: str | Path) -> Path:
    """Zip `lambda_src/<name>` with the publish helper (backend Lambdas of the examples)."""
    out = Path(out_path)
    write_atomic(out, function_zip_bytes(name))
    return out


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
