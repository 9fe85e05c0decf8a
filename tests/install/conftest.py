"""The kit as a user gets it: the wheel built from this checkout, installed (not editable) into
a fresh venv outside the checkout, once per session.

How the venv gets the kit's third-party dependencies, fast and offline:

- default: the wheel is installed with `pip install --no-deps`, and a `.pth` file in the new
  venv points at a folder of symlinks to exactly the distributions that the wheel's own
  `Requires-Dist` lines need (resolved recursively, with markers and extras, in this
  checkout's venv). A dependency missing from `pyproject.toml` is therefore missing in the
  new venv too. The checkout's own `iotws` (an editable install) is not among them, and the
  tests check that `iotws`, `iotws_emulator` and `iotws_publish` import from the new venv's
  site-packages and that the installed distribution is not editable;
- `IOTWS_INSTALL_TEST_PIP=1`: a plain `pip install <wheel>` that resolves every dependency
  from the configured index (slower; needs the index).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kit_install import REPO, KitVenv  # noqa: E402

PIP_ENV = "IOTWS_INSTALL_TEST_PIP"
# Not a dependency of the kit: `iotws checkov` uses the checkov installed next to it, the way
# a user runs `pip install iotws checkov`.
EXTRA_TOOLS = ("checkov",)


def _run(cmd: list[str], cwd: Path, timeout: float = 240) -> None:
    proc = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        pytest.fail(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}",
            pytrace=False,
        )


def _requires(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        text = zf.read(name).decode()
    return [
        Requirement(line.split(":", 1)[1].strip())
        for line in text.splitlines()
        if line.startswith("Requires-Dist:")
    ]


def dependency_closure(requirements: list[Requirement]) -> list[metadata.Distribution]:
    """The distributions of this environment that `requirements` need, recursively (no extras
    of the root unless named)."""
    seen: dict[str, metadata.Distribution] = {}
    todo: list[tuple[Requirement, str]] = [(r, "") for r in requirements]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            pytest.fail(f"{req} is not installed in the checkout's venv: run `make venv`")
        key = dist.metadata["Name"].lower().replace("_", "-")
        extras = sorted(req.extras)
        for ex in [""] + extras:
            marker_key = f"{key}[{ex}]"
            if marker_key in seen:
                continue
            seen[marker_key] = dist
            todo.extend((Requirement(r), ex) for r in dist.requires or [])
    unique: dict[str, metadata.Distribution] = {}
    for k, d in seen.items():
        unique[k.split("[")[0]] = d
    return list(unique.values())


def link_distributions(dists: list[metadata.Distribution], dest: Path) -> None:
    """Symlink each distribution's top-level files and folders (and its .dist-info) into dest."""
    dest.mkdir(parents=True, exist_ok=True)
    for dist in dists:
        tops = {p.parts[0] for p in dist.files or [] if p.parts and p.parts[0] != ".."}
        for top in sorted(tops):
            if top.endswith(".pth") or top == "__pycache__":
                continue
            src = Path(str(dist.locate_file(top)))
            link = dest / top
            if src.exists() and not link.exists():
                link.symlink_to(src)


@pytest.fixture(scope="session")
def kit_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built by the project's backend in an isolated environment (`make dist`
    builds the sdist first and this wheel from it; the wheel alone is quicker here)."""
    out = tmp_path_factory.mktemp("dist")
    _run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(REPO)],
        cwd=REPO,
        timeout=300,
    )
    wheels = sorted(out.glob("iotws-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="session")
def kit_venv(kit_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KitVenv]:
    root = tmp_path_factory.mktemp("kit-venv") / "venv"
    assert REPO not in root.parents, "the venv must be outside the checkout"
    # With its own pip, as users have it: `iotws package` of a jwks stack runs it to fetch the
    # Lambda target's wheels when ~/.cache/iotws/wheels lacks them.
    _run([sys.executable, "-m", "venv", str(root)], cwd=root.parent)
    py = root / "bin" / "python"
    purelib = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    site = Path(purelib)
    pip = [
        str(py),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
    ]
    if os.environ.get(PIP_ENV) == "1":
        _run([*pip, str(kit_wheel), *EXTRA_TOOLS], cwd=root.parent, timeout=600)
    else:
        _run([*pip, "--no-deps", str(kit_wheel)], cwd=root.parent)
        deps = root / "deps"
        wanted = _requires(kit_wheel) + [Requirement(t) for t in EXTRA_TOOLS]
        link_distributions(dependency_closure(wanted), deps)
        (site / "_iotws_test_deps.pth").write_text(f"{deps}\n", encoding="utf-8")
    assert sysconfig.get_paths()["purelib"] != purelib
    yield KitVenv(root=root, wheel=kit_wheel, site=site)
    shutil.rmtree(root, ignore_errors=True)
