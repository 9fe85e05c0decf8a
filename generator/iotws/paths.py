"""Where the kit's own folders are (the kit is used from a checkout, installed editable)."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The checkout root: `IOTWS_ROOT` if set, else two levels above this package."""
    env = os.environ.get("IOTWS_ROOT")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parents[2]


def lambda_src(name: str = "authorizer") -> Path:
    return repo_root() / "lambda_src" / name


def examples_dir() -> Path:
    return repo_root() / "examples"
