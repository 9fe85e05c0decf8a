"""Third-party libraries vendored into the authorizer zip of a `jwks` spec.

Mode `jwks` verifies RS256/ES256 signatures with PyJWT and `cryptography` (which needs
`cffi` and `pycparser`). Lambda runs the zip on Linux with a given Python version and
architecture, so the zip carries the **Linux wheels for that target**, not whatever is
installed on the build machine:

    pip download --only-binary=:all: --platform manylinux2014_<aarch64|x86_64>
                 --python-version 3.13 --implementation cp --no-deps PyJWT==... ...

Versions are pinned (`PINS`), so the same spec gives the same zip. Wheels are cached in
`$IOTWS_WHEEL_CACHE` (default `~/.cache/iotws/wheels`), one folder per target; a warm
cache needs no network. `manylinux2014` (glibc 2.17) wheels run on every Lambda Python
runtime (Amazon Linux 2 and 2023). Wheels are unpacked into the zip root (Lambda puts
it on `sys.path`), with the same fixed timestamps and modes as the rest of the zip.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from iotws.errors import IotwsError

# Pinned: bump together, then run tests/security (they build and run a jwks zip).
PINS: tuple[tuple[str, str], ...] = (
    ("PyJWT", "2.15.1"),
    ("cryptography", "50.0.2"),
    ("cffi", "2.1.1"),
    ("pycparser", "3.12"),
)
# Lambda architecture name -> manylinux machine name
ARCHES = {"arm64": "aarch64", "x86_64": "x86_64"}
# The Lambda Python runtimes the kit supports (modules/iot-authorizer `runtime`).
PYTHONS = ("3.11", "3.12", "3.13")
DEFAULT_ARCH = "arm64"
DEFAULT_PYTHON = "3.13"
CACHE_ENV = "IOTWS_WHEEL_CACHE"
MANIFEST_NAME = "iotws_vendor.json"
PIP_TIMEOUT_SECONDS = 300


def cache_root() -> Path:
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "iotws" / "wheels"


def check_target(arch: str, python: str) -> None:
    if arch not in ARCHES:
        raise IotwsError(
            f"unknown architecture {arch!r}",
            field="--arch",
            fix=f"use one of: {', '.join(ARCHES)} (the function's `architecture`)",
        )
    if python not in PYTHONS:
        raise IotwsError(
            f"unsupported Python version {python!r}",
            field="--python",
            fix=f"use one of: {', '.join(PYTHONS)} (the function's `runtime`)",
        )


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _find(folder: Path, name: str, version: str) -> Path | None:
    if not folder.is_dir():
        return None
    for path in sorted(folder.glob("*.whl")):
        parts = path.name.split("-")
        if len(parts) >= 5 and _canonical(parts[0]) == _canonical(name) and parts[1] == version:
            return path
    return None


def wheels(arch: str, python: str) -> list[Path]:
    """The pinned wheels for a Lambda target, downloaded into the cache when missing."""
    check_target(arch, python)
    folder = cache_root() / f"cp{python.replace('.', '')}-manylinux2014_{ARCHES[arch]}"
    missing = [(n, v) for n, v in PINS if _find(folder, n, v) is None]
    if missing:
        _download(folder, missing, arch, python)
    found: list[Path] = []
    for name, version in PINS:
        path = _find(folder, name, version)
        if path is None:  # pragma: no cover - _download raises first
            raise IotwsError(f"wheel {name}=={version} is missing from {folder}")
        found.append(path)
    return found


def _download(folder: Path, pins: list[tuple[str, str]], arch: str, python: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=folder) as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--disable-pip-version-check",
            "--quiet",
            "--only-binary=:all:",
            "--platform",
            f"manylinux2014_{ARCHES[arch]}",
            "--python-version",
            python,
            "--implementation",
            "cp",
            "--no-deps",
            "--dest",
            tmp,
            *(f"{n}=={v}" for n, v in pins),
        ]
        try:
            done = subprocess.run(
                cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_SECONDS, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise IotwsError(
                f"pip download failed: {type(exc).__name__}",
                field="--arch",
                fix=f"check access to PyPI, or fill {folder} with the wheels of {pins}",
            ) from None
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-5:])
            raise IotwsError(
                f"pip could not download Linux wheels for {arch}/Python {python}:\n{tail}",
                field="--arch",
                fix=f"check access to PyPI, or fill {folder} with the wheels of {pins}",
            )
        for path in Path(tmp).glob("*.whl"):
            os.replace(path, folder / path.name)  # atomic: a partial download is never used


def _wheel_files(path: Path) -> list[tuple[str, bytes]]:
    """(name in the zip, bytes) of one wheel: package files at the root, `.data/purelib`
    and `.data/platlib` too; scripts, headers and byte code are left out."""
    out: list[tuple[str, bytes]] = []
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name = info.filename
            if info.is_dir() or "__pycache__/" in name or name.endswith((".pyc", ".pyo")):
                continue
            if name.startswith("/") or ".." in name.split("/"):
                raise IotwsError(f"{path.name} has an unsafe entry {name!r}", field="--arch")
            top, _, rest = name.partition("/")
            if top.endswith(".data"):
                kind, _, inner = rest.partition("/")
                if kind not in ("purelib", "platlib") or not inner:
                    continue
                name = inner
            out.append((name, zf.read(info)))
    return out


def wheel_entries(arch: str, python: str) -> list[tuple[str, bytes]]:
    """Zip entries of every vendored library for the target, plus `iotws_vendor.json`
    (what was vendored, for which target: Terraform's `runtime`/`architecture` must match)."""
    entries: dict[str, bytes] = {}
    used: list[str] = []
    for path in wheels(arch, python):
        used.append(path.name)
        for name, data in _wheel_files(path):
            if name in entries and entries[name] != data:
                raise IotwsError(f"two vendored wheels both contain {name}", field="--arch")
            entries[name] = data
    manifest = {
        "architecture": arch,
        "runtime": f"python{python}",
        "wheels": sorted(used),
    }
    entries[MANIFEST_NAME] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    return sorted(entries.items())
