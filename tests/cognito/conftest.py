"""Fixtures of the Cognito guest-path tests.

- `sigv4`: an independent SigV4 implementation (hashlib/hmac only, written from the AWS
  SigV4 test-suite conventions: canonical request, string to sign, signing key), used to
  check `iotws.presign` and by the stand-in broker to verify presigned URLs.
- `standin`: a presign-verifying stand-in for the IoT data plane on 127.0.0.1: a
  WebSocket server that recomputes the SigV4 signature of the upgrade request and accepts
  only valid ones, then speaks just enough MQTT 3.1.1 (CONNECT, SUBSCRIBE, PUBLISH echo,
  PINGREQ, DISCONNECT) for a client to prove it got through.
- `moto_server`: moto's Cognito identity (and the rest of AWS) on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from motoserver import running_moto

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
TOKEN_PARAM = "X-Amz-Security-Token"


# --------------------------------------------------------------------------- SigV4 reference


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    k_date = _hmac(("AWS4" + secret).encode("utf-8"), date)
    k_region = _hmac(k_date, region)
    k_service = _hmac(k_region, service)
    return _hmac(k_service, "aws4_request")


def uri_encode(text: str) -> str:
    """RFC 3986: everything but A-Z a-z 0-9 - _ . ~ is percent-encoded (upper-case hex)."""
    return quote(text, safe="-_.~")


def canonical_query(params: list[tuple[str, str]]) -> str:
    """Decoded (name, value) pairs -> encoded, sorted by name then value, joined by &."""
    pairs = sorted((uri_encode(k), uri_encode(v)) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in pairs)


def canonical_request(
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    payload_hash: str,
) -> tuple[str, str]:
    """(canonical request, signed header list); header names lower-cased and sorted."""
    names = sorted(h.lower() for h in headers)
    lowered = {k.lower(): " ".join(v.split()) for k, v in headers.items()}
    canon_headers = "".join(f"{n}:{lowered[n]}\n" for n in names)
    signed = ";".join(names)
    return "\n".join([method, path, query, canon_headers, signed, payload_hash]), signed


def string_to_sign(amz_date: str, scope: str, creq: str) -> str:
    digest = hashlib.sha256(creq.encode("utf-8")).hexdigest()
    return "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, digest])


def signature(secret: str, amz_date: str, region: str, service: str, sts: str) -> str:
    key = signing_key(secret, amz_date[:8], region, service)
    return hmac.new(key, sts.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass
class Verdict:
    ok: bool
    reason: str
    params: dict[str, str] = field(default_factory=dict)


def verify_presigned(
    path_and_query: str,
    host: str,
    secrets: dict[str, str],
    *,
    service: str = "iotdevicegateway",
    payload_hash: str = EMPTY_SHA256,
    now: dt.datetime | None = None,
    token_after_signature: bool = True,
) -> Verdict:
    """Check a presigned GET the way a SigV4 service does (query auth, signed host header).

    `secrets` maps access key id -> secret key. With `token_after_signature` the session
    token is left out of the canonical query (docs/cognito-guests.md#browser-connection) and must
    follow
    X-Amz-Signature in the URL.
    """
    parts = urlsplit(path_and_query)
    raw_pairs = [p for p in parts.query.split("&") if p]
    pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    params = dict(pairs)
    for name in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires"):
        if name not in params:
            return Verdict(False, f"missing {name}", params)
    if params["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256":
        return Verdict(False, "algorithm", params)
    if params.get("X-Amz-SignedHeaders") != "host":
        return Verdict(False, "signed headers must be exactly host", params)
    cred = params["X-Amz-Credential"].split("/")
    if len(cred) != 5 or cred[4] != "aws4_request" or cred[3] != service:
        return Verdict(False, "credential scope", params)
    access_key, date, region = cred[0], cred[1], cred[2]
    if access_key not in secrets:
        return Verdict(False, "unknown access key", params)
    amz_date = params["X-Amz-Date"]
    if amz_date[:8] != date:
        return Verdict(False, "date does not match the scope", params)
    if now is not None:
        signed_at = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        if now > signed_at + dt.timedelta(seconds=int(params["X-Amz-Expires"])):
            return Verdict(False, "expired", params)
        if signed_at > now + dt.timedelta(minutes=5):
            return Verdict(False, "signed in the future", params)
    excluded = {"X-Amz-Signature"}
    if token_after_signature:
        excluded.add(TOKEN_PARAM)
        names = [p.split("=", 1)[0] for p in raw_pairs]
        if TOKEN_PARAM in names and names.index(TOKEN_PARAM) < names.index("X-Amz-Signature"):
            return Verdict(False, "session token before the signature", params)
    query = canonical_query([(k, v) for k, v in pairs if k not in excluded])
    creq, _ = canonical_request("GET", parts.path, query, {"host": host}, payload_hash)
    scope = f"{date}/{region}/{service}/aws4_request"
    sts = string_to_sign(amz_date, scope, creq)
    expected = signature(secrets[access_key], amz_date, region, service, sts)
    if not hmac.compare_digest(expected, params.get("X-Amz-Signature", "")):
        return Verdict(False, "signature mismatch", params)
    return Verdict(True, "ok", params)


@pytest.fixture(scope="session")
def sigv4() -> SimpleNamespace:
    return SimpleNamespace(
        EMPTY_SHA256=EMPTY_SHA256,
        signing_key=signing_key,
        canonical_query=canonical_query,
        canonical_request=canonical_request,
        string_to_sign=string_to_sign,
        signature=signature,
        verify_presigned=verify_presigned,
    )


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    with running_moto() as url:
        yield url


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials so nothing can reach a real account."""
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


# --------------------------------------------------------------------------- stand-in broker


def _remaining_length(data: bytes, pos: int) -> tuple[int, int]:
    mult, value = 1, 0
    while True:
        byte = data[pos]
        pos += 1
        value += (byte & 0x7F) * mult
        if not byte & 0x80:
            return value, pos
        mult *= 128


def _encode_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(data: bytes, pos: int) -> tuple[str, int]:
    n = int.from_bytes(data[pos : pos + 2], "big")
    return data[pos + 2 : pos + 2 + n].decode("utf-8"), pos + 2 + n


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _encode_length(len(body)) + body


@dataclass
class StandIn:
    """The running stand-in: its URL and what it saw."""

    host: str
    port: int
    secrets: dict[str, str]
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    client_ids: list[str] = field(default_factory=list)
    subscriptions: list[str] = field(default_factory=list)
    published: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"ws://{self.host}:{self.port}"


async def _mqtt_session(ws: Any, state: StandIn) -> None:
    buffer = b""
    subscribed: set[str] = set()
    async for message in ws:
        buffer += message if isinstance(message, bytes) else message.encode()
        while len(buffer) >= 2:
            try:
                length, start = _remaining_length(buffer, 1)
            except IndexError:
                break
            if len(buffer) < start + length:
                break
            first, body = buffer[0], buffer[start : start + length]
            buffer = buffer[start + length :]
            kind = first >> 4
            if kind == 1:  # CONNECT
                _, pos = _str(body, 0)  # protocol name
                pos += 4  # level, flags, keep-alive
                client_id, _ = _str(body, pos)
                state.client_ids.append(client_id)
                await ws.send(_packet(0x20, b"\x00\x00"))
            elif kind == 8:  # SUBSCRIBE
                packet_id, pos = body[:2], 2
                granted = bytearray()
                while pos < len(body):
                    topic, pos = _str(body, pos)
                    pos += 1
                    subscribed.add(topic)
                    state.subscriptions.append(topic)
                    granted.append(0)
                await ws.send(_packet(0x90, packet_id + bytes(granted)))
            elif kind == 3:  # PUBLISH: echo to this client when it subscribed to the topic
                topic, pos = _str(body, 0)
                qos = (first >> 1) & 3
                if qos:
                    await ws.send(_packet(0x40, body[pos : pos + 2]))
                    pos += 2
                payload = body[pos:]
                state.published.append((topic, payload))
                if topic in subscribed:
                    name = topic.encode()
                    await ws.send(_packet(0x30, len(name).to_bytes(2, "big") + name + payload))
            elif kind == 12:  # PINGREQ
                await ws.send(_packet(0xD0, b""))
            elif kind == 14:  # DISCONNECT
                await ws.close()
                return


@pytest.fixture
def standin() -> Iterator[StandIn]:
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.http11 import Request, Response

    state = StandIn("127.0.0.1", free_port(), {})
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop: asyncio.Future[None] | None = None

    def check(connection: ServerConnection, request: Request) -> Response | None:
        host = request.headers.get("Host", "")
        verdict = verify_presigned(request.path, host, state.secrets, now=dt.datetime.now(dt.UTC))
        if not verdict.ok:
            state.rejected.append(verdict.reason)
            return connection.respond(HTTPStatus.FORBIDDEN, f"{verdict.reason}\n")
        state.accepted.append(verdict.params)
        return None

    async def handler(ws: ServerConnection) -> None:
        await _mqtt_session(ws, state)

    async def main() -> None:
        nonlocal stop
        stop = loop.create_future()
        async with serve(
            handler,
            state.host,
            state.port,
            process_request=check,
            subprotocols=["mqtt"],  # type: ignore[list-item]
        ):
            ready.set()
            await stop

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(5), "stand-in did not start"
    try:
        yield state
    finally:
        loop.call_soon_threadsafe(lambda: stop.set_result(None) if stop else None)
        thread.join(5)
        loop.close()
