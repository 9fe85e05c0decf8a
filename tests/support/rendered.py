"""Authorizer configurations rendered from small access specs, never written by hand.

The test fixtures of the authorizer (tests/authorizer, tests/security, tests/hostile) take
their configurations from `iotws.build.build(spec).authorizer_config`, exactly what
`iotws generate` writes to build/authorizer/config.json, so they cannot drift from the
generator or from the configuration's JSON Schema. Each spec is rendered once per test
process; every call returns a fresh copy that a test may edit.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from iotws import build as builds

TESTS = Path(__file__).resolve().parents[1]
AUTHORIZER_SPECS = TESTS / "authorizer" / "specs"
SECURITY_SPECS = TESTS / "security" / "specs"


@cache
def _rendered_text(path: Path) -> str:
    return json.dumps(builds.build(path).authorizer_config)


def rendered_config(path: Path) -> dict[str, Any]:
    """The authorizer configuration of the access spec at `path` (a fresh copy)."""
    config: dict[str, Any] = json.loads(_rendered_text(path.resolve()))
    return config
