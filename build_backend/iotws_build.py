"""The kit's build backend: setuptools, plus the kit's folders as package data and
reproducible archives.

- `BuildPy` copies the checkout's top-level `lambda_src/`, `examples/` and `modules/` into
  `iotws/_kit/` of the wheel, where `iotws.paths` finds them with `importlib.resources`; the
  checkout keeps its layout (DESIGN.md "Layout"). Editable installs skip the copy: they read
  the checkout itself.
- `build_sdist` and `build_wheel` rewrite their archive with sorted entries, normalised
  owners and modes, and every time stamp set to `SOURCE_DATE_EPOCH` (`make dist` sets it to
  the commit's time; unset, 1980-01-01), so the same commit gives the same bytes.
  See https://reproducible-builds.org/docs/source-date-epoch/.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any

from setuptools import build_meta as _setuptools
from setuptools.build_meta import (  # noqa: F401 - the PEP 517 hooks we pass through
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)
from setuptools.command.build_py import build_py as _build_py

KIT_FOLDERS = ("lambda_src", "examples", "modules")
# Never shipped: build outputs, caches, Terraform state and working dirs, local configs.
SKIP_DIRS = {"__pycache__", "build", ".terraform", "node_modules", ".pytest_cache", ".mypy_cache"}
SKIP_SUFFIXES = (".pyc", ".tfstate", ".tfplan", ".tfstate.backup")
SKIP_NAMES = {".terraform.lock.hcl", "config.json"}
# The page bundles `make web` writes (git-ignored): without them the installed emulator
# would serve pages that cannot load their client.
WEB_BUNDLE = ("mqtt.min.js", "iotws-client.js")


def _skip(path: Path) -> bool:
    if path.name in SKIP_NAMES and path.parent.name == "web":
        return True  # examples/*/web/config.json: written by the emulator at run time
    if path.name == ".terraform.lock.hcl" or path.name.endswith(SKIP_SUFFIXES):
        return True
    return ".tfstate." in path.name


def _copy_folder(src: Path, dest: Path) -> None:
    for root, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(files):
            path = Path(root) / name
            if _skip(path):
                continue
            target = dest / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def check_web_bundles(root: Path) -> None:
    for web in sorted((root / "examples").glob("*/web")):
        missing = [n for n in WEB_BUNDLE if not (web / "vendor" / n).is_file()]
        if missing:
            raise SystemExit(
                f"{web}/vendor lacks {', '.join(missing)}: run `make web` before building "
                "the kit (it bundles client/ and MQTT.js for the example pages)"
            )


class BuildPy(_build_py):
    """build_py, plus the kit's folders under iotws/_kit (not for editable installs)."""

    def run(self) -> None:
        editable = getattr(self, "editable_mode", False)
        if not editable:
            # setuptools keeps build/lib between runs: a file deleted from the sources would
            # still ship. Start from nothing.
            shutil.rmtree(self.build_lib, ignore_errors=True)
        super().run()
        if editable:
            return
        root = Path.cwd()
        check_web_bundles(root)
        dest = Path(self.build_lib) / "iotws" / "_kit"
        shutil.rmtree(dest, ignore_errors=True)
        for name in KIT_FOLDERS:
            _copy_folder(root / name, dest / name)


def _epoch() -> int:
    return int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))  # 1980-01-01, zip's first day


def _normalise_wheel(path: Path) -> None:
    stamp = time.gmtime(max(_epoch(), 315532800))[:6]
    with zipfile.ZipFile(path) as src:
        entries = [(info, src.read(info)) for info in src.infolist()]
    # RECORD last, as the wheel spec recommends; everything else sorted by name.
    entries.sort(key=lambda e: (e[0].filename.endswith(".dist-info/RECORD"), e[0].filename))
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in entries:
            executable = (info.external_attr >> 16) & 0o111
            new = zipfile.ZipInfo(info.filename, date_time=stamp)  # type: ignore[arg-type]
            new.compress_type = zipfile.ZIP_DEFLATED
            new.external_attr = (0o100755 if executable else 0o100644) << 16
            new.create_system = 3
            out.writestr(new, data, compresslevel=9)
    os.replace(tmp, path)


def _normalise_sdist(path: Path) -> None:
    epoch = _epoch()
    with tarfile.open(path, "r:gz") as src:
        members = [(m, src.extractfile(m).read() if m.isfile() else None) for m in src]  # type: ignore[union-attr]
    members.sort(key=lambda m: m[0].name)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as out:
        for member, data in members:
            member.mtime = epoch
            member.uid = member.gid = 0
            member.uname = member.gname = ""
            member.pax_headers = {}
            if member.isdir():
                member.mode = 0o755
            else:
                member.mode = 0o755 if member.mode & 0o111 else 0o644
            out.addfile(member, io.BytesIO(data) if data is not None else None)
    tmp = path.with_suffix(".tmp")
    with (
        open(tmp, "wb") as fh,
        gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=epoch, compresslevel=9) as gz,
    ):
        gz.write(raw.getvalue())
    os.replace(tmp, path)


def build_wheel(
    wheel_directory: str,
    config_settings: dict[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    name = _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)
    _normalise_wheel(Path(wheel_directory) / name)
    return name


def build_sdist(sdist_directory: str, config_settings: dict[str, Any] | None = None) -> str:
    check_web_bundles(Path.cwd())
    name = _setuptools.build_sdist(sdist_directory, config_settings)
    _normalise_sdist(Path(sdist_directory) / name)
    return name


def build_editable(
    wheel_directory: str,
    config_settings: dict[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    return _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)
