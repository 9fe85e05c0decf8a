"""Helpers for the jwks-mode tests: keys, key sets, tokens, a local JWKS server and
authorizer configurations rendered from specs/jwks.yaml (tests/support/rendered.py).

Imported by tests/security and tests/hostile (their conftests put this folder on
sys.path); the module name is unique so that it never shadows another helper.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from rendered import SECURITY_SPECS, rendered_config

from iotws.invoke import LambdaContext

ISSUER = "https://issuer.example.test/pool"
AUDIENCE = "web-client"
JWKS_PATH = "/.well-known/jwks.json"
REGION, ACCOUNT = "eu-west-1", "123456789012"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:demo-dev-authorizer"


# ------------------------------------------------------------------ keys and tokens


@dataclass
class Keys:
    rsa: RSAPrivateKey
    ec: EllipticCurvePrivateKey
    other_rsa: RSAPrivateKey  # a key the issuer never published
    small_rsa: RSAPrivateKey  # 1024 bits: below IoT's and this kit's minimum

    def rsa_public_pem(self) -> bytes:
        return self.rsa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def new_keys() -> Keys:
    return Keys(
        rsa=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec=ec.generate_private_key(ec.SECP256R1()),
        other_rsa=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        small_rsa=rsa.generate_private_key(public_exponent=65537, key_size=1024),  # noqa: S505 - the weak key under test
    )


def jwk_of(key: Any, kid: str, **extra: Any) -> dict[str, Any]:
    """The public JWK of a private key (PyJWT's exporters), with `kid` and extras."""
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public))
    else:
        data = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(public))
    data.update({"kid": kid, "use": "sig"}, **extra)
    result: dict[str, Any] = data
    return result


def key_set(keys: Keys) -> dict[str, Any]:
    return {
        "keys": [
            jwk_of(keys.rsa, "rsa-1", alg="RS256"),
            jwk_of(keys.ec, "ec-1", alg="ES256"),
            jwk_of(keys.small_rsa, "small-1"),
        ]
    }


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    body: dict[str, Any] = {
        "sub": "alice",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "token_use": "id",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def sign(
    body: dict[str, Any], key: Any, *, alg: str = "RS256", kid: str | None = "rsa-1", **headers: Any
) -> str:
    head: dict[str, Any] = dict(headers)
    if kid is not None:
        head["kid"] = kid
    return str(jwt.encode(body, key, algorithm=alg, headers=head))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def forge(header: dict[str, Any], body: dict[str, Any], signature: bytes = b"") -> str:
    """A token with any header and signature (for `none` and confusion attacks)."""
    return ".".join(
        (b64url(json.dumps(header).encode()), b64url(json.dumps(body).encode()), b64url(signature))
    )


# ------------------------------------------------------------------ the JWKS server


@dataclass
class ServerState:
    body: bytes = b""
    mode: str = "ok"  # ok | garbage | slow | error | redirect | trickle
    delay: float = 0.0
    paths: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def hits(self) -> int:
        with self.lock:
            return len(self.paths)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        state = self.server.state
        with state.lock:
            state.paths.append(self.path)
        try:
            if state.mode == "slow":
                time.sleep(state.delay)
            if state.mode == "error":
                self._send(500, b"oops")
            elif state.mode == "redirect":
                self.send_response(302)
                self.send_header("Location", "http://127.0.0.1:1/evil.json")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif state.mode == "garbage":
                self._send(200, b"<html>not a key set</html>")
            elif state.mode == "trickle":
                self.send_response(200)
                self.send_header("Content-Length", str(len(state.body)))
                self.end_headers()
                for i in range(len(state.body)):
                    self.wfile.write(state.body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(state.delay)
            else:
                self._send(200, state.body)
        except OSError:
            pass  # the client gave up (deadline): fine

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    state: ServerState


@dataclass
class JwksServer:
    url: str
    state: ServerState

    def serve(self, doc: Any) -> None:
        self.state.mode = "ok"
        self.state.body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()


@contextmanager
def jwks_server(doc: Any = None) -> Iterator[JwksServer]:
    """An HTTP JWKS endpoint on 127.0.0.1 and a free port, stopped on exit."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = ServerState()
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), daemon=True, name="jwks-server"
    )
    thread.start()
    try:
        port = server.server_address[1]
        running = JwksServer(f"http://127.0.0.1:{port}{JWKS_PATH}", server.state)
        if doc is not None:
            running.serve(doc)
        yield running
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def dead_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{JWKS_PATH}"


# ------------------------------------------------------------------ configurations


def jwks_settings(url: str, **overrides: Any) -> dict[str, Any]:
    """The rendered `jwks` section (specs/jwks.yaml), its key set at `url`, with overrides."""
    settings: dict[str, Any] = rendered_config(SECURITY_SPECS / "jwks.yaml")["jwks"]
    settings["jwks_url"] = url
    settings.update(overrides)
    return settings


def jwks_config(url: str, **overrides: Any) -> dict[str, Any]:
    """The authorizer configuration `iotws generate` renders for specs/jwks.yaml (mode jwks,
    a guest fallback and a user profile), its key set at `url`, with `jwks` overrides."""
    config = rendered_config(SECURITY_SPECS / "jwks.yaml")
    config["jwks"] = jwks_settings(url, **overrides)
    return config


def event(token: str | None = None, client_id: Any = "u-alice-1") -> dict[str, Any]:
    ev: dict[str, Any] = {
        "protocols": ["tls", "mqtt"],
        "protocolData": {"mqtt": {"clientId": client_id}},
        "connectionMetadata": {"id": "conn-1"},
    }
    if token is not None:
        ev["token"] = token
    return ev


def context() -> LambdaContext:
    return LambdaContext(
        invoked_function_arn=FUNCTION_ARN,
        function_name="demo-dev-authorizer",
        aws_request_id="00000000-0000-4000-8000-000000000000",
    )


# ------------------------------------------------------------------ responses


RESPONSE_KEYS = {
    "isAuthenticated",
    "principalId",
    "disconnectAfterInSeconds",
    "refreshAfterInSeconds",
    "policyDocuments",
}


def assert_valid_response(response: Any, *, allowed: bool | None = None) -> None:
    """Valid per docs/custom-authorizer.md#response and generator/INTERNALS.md."""
    assert isinstance(response, dict) and set(response) == RESPONSE_KEYS
    assert isinstance(response["isAuthenticated"], bool)
    assert re.fullmatch(r"[A-Za-z0-9]{1,128}", response["principalId"])
    for key in ("disconnectAfterInSeconds", "refreshAfterInSeconds"):
        assert type(response[key]) is int and 300 <= response[key] <= 86400
    docs = response["policyDocuments"]
    assert isinstance(docs, list) and len(docs) <= 10
    json.dumps(response)
    if response["isAuthenticated"]:
        assert docs
        for doc in docs:
            text = json.dumps(doc, separators=(",", ":"))
            assert len(text) <= 2048 and "${iotws:" not in text
    else:
        assert docs == []
    if allowed is not None:
        assert response["isAuthenticated"] is allowed
