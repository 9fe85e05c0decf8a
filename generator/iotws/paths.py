"""The one place that finds the kit's own files: Lambda sources, example pages, client bundle.

The kit runs two ways (DESIGN.md decision 11, "Installable"):

- **installed** (`pip install iotws-*.whl`): the top-level folders of the checkout that the
  commands need at run time (`lambda_src/`, `examples/`, `modules/`) ship inside the wheel
  as package data under `iotws/_kit/` (the build step in `build_backend/iotws_build.py`
  copies them there) and are found with `importlib.resources`;
- **from a checkout** (`make venv`, an editable install): the same folders at the top of the
  checkout, exactly where contributors edit them. `IOTWS_ROOT=/path/to/checkout` forces this.

Everything else (templates, schemas, checkov checks) is ordinary package data next to the
modules that read it.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from iotws.errors import IotwsError

ROOT_ENV = "IOTWS_ROOT"
# The folders of the checkout that the wheel carries under iotws/_kit/.
KIT_FOLDERS = ("lambda_src", "examples", "modules")
_KIT_PACKAGE_DIR = "_kit"


def _installed_kit() -> Path | None:
    """`iotws/_kit` of an installed wheel, or None (editable install, checkout)."""
    kit = resources.files("iotws").joinpath(_KIT_PACKAGE_DIR)
    if not kit.is_dir():
        return None
    if not isinstance(kit, Path):  # zipimport and the like: the Lambda zips need real files
        raise IotwsError(
            f"the kit's files are not on the file system ({kit})",
            fix="install the wheel with pip (it unpacks into site-packages)",
        )
    return kit


def _checkout() -> Path:
    return Path(__file__).resolve().parents[2]


def installed() -> bool:
    """True when the kit runs from an installed wheel (no IOTWS_ROOT override)."""
    return not os.environ.get(ROOT_ENV) and _installed_kit() is not None


def repo_root() -> Path:
    """The checkout root: `IOTWS_ROOT` if set, else two levels above this package.

    Only meaningful from a checkout; installed code asks `kit_dir()` instead."""
    env = os.environ.get(ROOT_ENV)
    if env:
        return Path(env).resolve()
    return _checkout()


def kit_dir(name: str) -> Path:
    """One of KIT_FOLDERS: from the installed wheel, else from the checkout."""
    if name not in KIT_FOLDERS:
        raise ValueError(f"not a kit folder: {name!r} (one of {', '.join(KIT_FOLDERS)})")
    if not os.environ.get(ROOT_ENV):
        kit = _installed_kit()
        if kit is not None:
            return kit / name
    return repo_root() / name


def lambda_src(name: str = "authorizer") -> Path:
    return kit_dir("lambda_src") / name


def examples_dir() -> Path:
    return kit_dir("examples")


def modules_dir() -> Path:
    return kit_dir("modules")


def client_bundle() -> dict[str, Path]:
    """The browser files a page needs (`vendor/mqtt.min.js`, `vendor/iotws-client.js`): the
    ones `make web` writes for the custom-authorizer example, shipped in the wheel."""
    vendor = examples_dir() / "custom-authorizer" / "web" / "vendor"
    files = {name: vendor / name for name in ("mqtt.min.js", "iotws-client.js")}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise IotwsError(
            f"the browser client bundle is missing: {', '.join(missing)}",
            fix="run `make web` in the checkout (it bundles client/ and MQTT.js)",
        )
    return files


def state_root() -> Path:
    """Where the kit keeps its own caches (the Terraform CLI config): `build/` of the
    checkout, or `$XDG_CACHE_HOME/iotws` (default `~/.cache/iotws`) when installed."""
    if installed():
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(cache) / "iotws"
    return repo_root() / "build"
