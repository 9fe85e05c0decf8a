"""Fixtures for the authorizer tests.

The Lambda source (`lambda_src/authorizer`) is put on sys.path so that
`iotws_authorizer` imports as it does in Lambda; `app.py` is loaded under a private
module name (`iotws_authorizer_app`) so it never collides with another `app` module.
Each test gets a configuration (rendered from the specs in specs/) written to tmp
(IOTWS_CONFIG) and fresh module caches.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import importlib.util
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from rendered import AUTHORIZER_SPECS, rendered_config

from iotws.invoke import LambdaContext

REPO = Path(__file__).resolve().parents[2]
LAMBDA_DIR = REPO / "lambda_src" / "authorizer"
EVENTS_DIR = REPO / "tests" / "events"
if str(LAMBDA_DIR) not in sys.path:
    sys.path.insert(0, str(LAMBDA_DIR))

import iotws_authorizer  # noqa: E402 - needs the path above

SECRET = b"test-secret-0123456789-abcdefghijklmnop"  # >= 32 bytes
REGION, ACCOUNT = "eu-west-1", "123456789012"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:demo-dev-authorizer"
RESPONSE_KEYS = {
    "isAuthenticated",
    "principalId",
    "disconnectAfterInSeconds",
    "refreshAfterInSeconds",
    "policyDocuments",
}
LOG_KEYS = {"decision", "reason", "connection_id", "principal", "profile", "mode"}


# ------------------------------------------------------------------ configuration
# Rendered by the toolchain from the small specs in specs/ (tests/support/rendered.py), never
# written by hand: a fixture cannot drift from what `iotws generate` writes.


def base_config() -> dict[str, Any]:
    """Mode hs256 (specs/hs256.yaml): guest anon-*, user u-{sub}-*, admin admin-{sub}."""
    return rendered_config(AUTHORIZER_SPECS / "hs256.yaml")


def public_config() -> dict[str, Any]:
    """Mode public (specs/public.yaml): guest anon-*."""
    return rendered_config(AUTHORIZER_SPECS / "public.yaml")


def opaque_config() -> dict[str, Any]:
    """Mode hs256 with an opaque `sub` (specs/opaque.yaml): user u-{sub}, nothing after it."""
    return rendered_config(AUTHORIZER_SPECS / "opaque.yaml")


@pytest.fixture
def config() -> dict[str, Any]:
    return base_config()


@pytest.fixture
def public() -> dict[str, Any]:
    return public_config()


@pytest.fixture
def opaque() -> dict[str, Any]:
    return opaque_config()


# ------------------------------------------------------------------ Lambda context


@pytest.fixture
def lambda_context() -> LambdaContext:
    """The Powertools-style Lambda context fixture (the kit's one `LambdaContext`)."""
    return LambdaContext(
        invoked_function_arn=FUNCTION_ARN,
        function_name="demo-dev-authorizer",
        aws_request_id="00000000-0000-4000-8000-000000000000",
    )


# ------------------------------------------------------------------ the authorizer


@dataclass
class Authorizer:
    """The handler with a given configuration; `logs` collects the decision lines."""

    app: ModuleType
    context: LambdaContext
    logs: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, event: Any, context: Any = "default") -> dict[str, Any]:
        ctx = self.context if context == "default" else context
        response: dict[str, Any] = self.app.handler(event, ctx)
        return response

    @property
    def last_log(self) -> dict[str, Any]:
        assert self.logs, "no decision was logged"
        return self.logs[-1]

    @property
    def reason(self) -> str:
        reason: str = self.last_log["reason"]
        return reason


@pytest.fixture(scope="session")
def app_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("iotws_authorizer_app", LAMBDA_DIR / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _fresh_caches(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts with a cold container: no config, secret or client cached."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(var, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("IOTWS_TEST_JWT_SECRET", SECRET.decode())
    iotws_authorizer.reset()
    from iotws_authorizer import config as config_module

    config_module.set_path(None)
    yield
    iotws_authorizer.reset()


@pytest.fixture
def make_authorizer(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    app_module: ModuleType,
    lambda_context: LambdaContext,
) -> Callable[..., Authorizer]:
    """GIVEN a configuration dict: write it as iotws_config.json and point IOTWS_CONFIG at it."""

    def make(cfg: dict[str, Any] | str, *, capture_logs: bool = True) -> Authorizer:
        path = tmp_path / "iotws_config.json"
        path.write_text(cfg if isinstance(cfg, str) else json.dumps(cfg), encoding="utf-8")
        monkeypatch.setenv("IOTWS_CONFIG", str(path))
        iotws_authorizer.reset()
        authorizer = Authorizer(app_module, lambda_context)
        if capture_logs:
            from iotws_authorizer import log

            log.set_sink(lambda line: authorizer.logs.append(json.loads(line)))
        return authorizer

    return make


@pytest.fixture
def authorizer(make_authorizer: Callable[..., Authorizer], config: dict[str, Any]) -> Authorizer:
    return make_authorizer(config)


# ------------------------------------------------------------------ tokens and events


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint_token(
    claims: dict[str, Any] | None = None,
    *,
    key: bytes = SECRET,
    header: dict[str, Any] | None = None,
    raw_payload: bytes | None = None,
    **extra: Any,
) -> str:
    """A compact HS256 JWS signed with hmac; defaults: sub alice, exp in 5 minutes."""
    now = int(time.time())
    body = {"sub": "alice", "iat": now, "exp": now + 300}
    body.update(claims or {})
    body.update(extra)
    body = {k: v for k, v in body.items() if v is not None}
    head = header if header is not None else {"alg": "HS256", "typ": "JWT"}
    payload = raw_payload if raw_payload is not None else json.dumps(body).encode()
    signing_input = f"{b64url(json.dumps(head).encode())}.{b64url(payload)}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


@pytest.fixture
def mint() -> Callable[..., str]:
    return mint_token


def load_event_file(name: str, token: str | None = None, **mqtt: Any) -> dict[str, Any]:
    """A canned event from tests/events with the token placeholders filled."""
    text = (EVENTS_DIR / name).read_text(encoding="utf-8")
    if token is not None:
        text = text.replace("__TOKEN_B64__", base64.b64encode(token.encode()).decode())
        text = text.replace("__TOKEN__", token)
    event: dict[str, Any] = json.loads(text)
    if mqtt:
        event.setdefault("protocolData", {}).setdefault("mqtt", {}).update(mqtt)
    return event


@pytest.fixture
def event() -> Callable[..., dict[str, Any]]:
    return load_event_file


def simple_event(token: str | None = None, client_id: Any = "u-alice-1") -> dict[str, Any]:
    event: dict[str, Any] = {
        "protocols": ["tls", "mqtt"],
        "protocolData": {"mqtt": {"clientId": client_id}},
        "connectionMetadata": {"id": "conn-1"},
    }
    if token is not None:
        event["token"] = token
    return event


@pytest.fixture
def simple() -> Callable[..., dict[str, Any]]:
    return simple_event


# ------------------------------------------------------------------ response checks


def assert_valid_response(response: Any, *, allowed: bool | None = None) -> None:
    """The response is valid per docs/custom-authorizer.md#response and INTERNALS.md."""
    assert isinstance(response, dict)
    assert set(response) == RESPONSE_KEYS
    assert isinstance(response["isAuthenticated"], bool)
    principal = response["principalId"]
    assert isinstance(principal, str) and re.fullmatch(r"[A-Za-z0-9]{1,128}", principal)
    for key in ("disconnectAfterInSeconds", "refreshAfterInSeconds"):
        value = response[key]
        assert type(value) is int and 300 <= value <= 86400, key
    docs = response["policyDocuments"]
    assert isinstance(docs, list) and len(docs) <= 10
    json.dumps(response)  # serialisable as the Lambda runtime will
    if not response["isAuthenticated"]:
        assert docs == []
    else:
        assert docs, "an allow without documents"
        for doc in docs:
            assert isinstance(doc, dict)
            assert doc.get("Version") == "2012-10-17" and isinstance(doc.get("Statement"), list)
            compact = json.dumps(doc, separators=(",", ":"))
            assert len(compact) <= 2048
            assert "${iotws:" not in compact
    if allowed is not None:
        assert response["isAuthenticated"] is allowed


@pytest.fixture
def valid() -> Callable[..., None]:
    return assert_valid_response


def copy_config(cfg: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(cfg)
