"""Fixtures for the security tests: the authorizer from source in mode jwks, keys, a
local JWKS server (127.0.0.1, free port, stopped by the fixture) and response checks.

Every test starts with a cold container: no configuration, key set or secret cached.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
LAMBDA_DIR = REPO / "lambda_src" / "authorizer"
for _p in (LAMBDA_DIR, HERE):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import jwkskit  # noqa: E402

import iotws_authorizer  # noqa: E402 - needs the path above
from iotws_authorizer import jwks as jwks_module  # noqa: E402

assert_valid_response = jwkskit.assert_valid_response


@dataclass
class Authorizer:
    app: ModuleType
    logs: list[dict[str, Any]] = field(default_factory=list)
    raw_logs: list[str] = field(default_factory=list)

    def __call__(self, event: Any) -> dict[str, Any]:
        response: dict[str, Any] = self.app.handler(event, jwkskit.context())
        return response

    @property
    def reason(self) -> str:
        assert self.logs, "no decision was logged"
        reason: str = self.logs[-1]["reason"]
        return reason


@pytest.fixture(scope="session")
def app_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("iotws_security_app", LAMBDA_DIR / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _cold_container(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("IOTWS_CONFIG", raising=False)
    iotws_authorizer.reset()
    jwks_module.reset()
    from iotws_authorizer import config as config_module

    config_module.set_path(None)
    yield
    iotws_authorizer.reset()
    jwks_module.reset()


@pytest.fixture
def make_authorizer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app_module: ModuleType
) -> Callable[[dict[str, Any]], Authorizer]:
    """GIVEN a configuration dict: the handler reading it, with decision lines captured."""

    def make(cfg: dict[str, Any]) -> Authorizer:
        path = tmp_path / "iotws_config.json"
        path.write_text(json.dumps(cfg), encoding="utf-8")
        monkeypatch.setenv("IOTWS_CONFIG", str(path))
        iotws_authorizer.reset()
        jwks_module.reset()
        authorizer = Authorizer(app_module)
        from iotws_authorizer import log

        def sink(line: str) -> None:
            authorizer.raw_logs.append(line)
            authorizer.logs.append(json.loads(line))

        log.set_sink(sink)
        return authorizer

    return make


@pytest.fixture(scope="session")
def keys() -> jwkskit.Keys:
    return jwkskit.new_keys()


@pytest.fixture
def server(keys: jwkskit.Keys) -> Iterator[jwkskit.JwksServer]:
    """A JWKS endpoint serving the test issuer's key set; stopped after the test."""
    with jwkskit.jwks_server(jwkskit.key_set(keys)) as running:
        yield running


@pytest.fixture
def valid() -> Callable[..., None]:
    return assert_valid_response
