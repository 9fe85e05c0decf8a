"""Network surface: MQTT over WebSockets at `/mqtt` and HTTP on the same port, optional
plain MQTT over TCP.

HTTP (same port as the WebSocket endpoint):
- `GET /healthz`, `GET /config.json` (INTERNALS.md "Emulator and web pages"), static files
  of `--serve DIR`: answered from websockets' `process_request` hook;
- `POST /topics/{url-encoded topic}?qos=&retain=` (docs/backend-publish.md#http-publish, what
boto3's
  `iot-data` client sends): websockets only parses body-less GET requests, so
  `_HttpAwareConnection` looks at the request line first and answers non-GET requests
  itself before websockets sees them.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import logging
import mimetypes
import threading
from collections.abc import AsyncIterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from iotws.iot.facts import MAX_PAYLOAD_BYTES
from iotws_emulator import codec
from iotws_emulator.auth import IamIdentity, RequestInfo
from iotws_emulator.broker import Broker
from iotws_emulator.config import EmulatorConfig
from iotws_emulator.console import Console
from iotws_emulator.limits import MAX_PACKET_BYTES
from iotws_emulator.policy import CompiledPolicy
from iotws_emulator.sigv4 import COGNITO_SUB, FakeCognito, verify_presigned

log = logging.getLogger("iotws.emulator")

MAX_HTTP_HEAD = 16 * 1024
LISTEN_BACKLOG = 2048  # bursts of connects (page reloads, load tests) are not dropped
_OWN_METHODS = (b"POST ", b"OPTIONS ", b"PUT ", b"DELETE ", b"PATCH ", b"HEAD ")


def _json_response(status: int, body: Any, extra: dict[str, str] | None = None) -> bytes:
    data = json.dumps(body, separators=(",", ":")).encode()
    reason = http.HTTPStatus(status).phrase
    head = [
        f"HTTP/1.1 {status} {reason}",
        "Content-Type: application/json",
        f"Content-Length: {len(data)}",
        "Connection: close",
    ]
    for k, v in (extra or {}).items():
        head.append(f"{k}: {v}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


def _error(status: int, error_type: str, message: str) -> bytes:
    # restJson errors as the AWS SDKs parse them: x-amzn-ErrorType header and a message.
    return _json_response(
        status, {"message": message, "__type": error_type}, {"x-amzn-ErrorType": error_type}
    )


COGNITO_PATH = "/cognito"


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def host_refusal(headers: dict[str, str], allowed: frozenset[str]) -> str | None:
    """Why a request whose `Host` header is not one of this emulator's own addresses is
    refused, or None (header names in lower case).

    DNS rebinding: a page of another site whose name the attacker re-points at 127.0.0.1
    reaches this server as *same-origin*, so its `Origin` check passes; its `Host` header
    still carries the attacker's name. Only `127.0.0.1`, `localhost` and `[::1]` (and the
    address the emulator is bound to) with the emulator's port are accepted.
    """
    host = headers.get("host", "")
    if host in allowed:
        return None
    some = sorted(allowed)[0]
    return (
        f"request refused: Host {host!r} is not this emulator's address (DNS rebinding "
        f"guard); use http://{some} (127.0.0.1 or localhost with the emulator's port)"
    )


def cross_origin_refusal(headers: dict[str, str]) -> str | None:
    """Why a POST/OPTIONS request from a browser page of another origin is refused, or None.

    `POST /topics` publishes with no credentials (IAM is not emulated), so any web page the
    developer visits could otherwise publish into the emulator from their browser. Browsers
    send `Origin` with every cross-origin POST and preflight; backends (boto3 `iot-data`,
    curl) send none. Only the origin of the pages this server serves is accepted, and no
    `Access-Control-Allow-Origin` is ever sent.
    """
    origin = headers.get("origin")
    if origin is None:
        return None
    own = "http://" + headers.get("host", "")
    if origin == own:
        return None
    return (
        f"cross-origin request refused: Origin {origin!r} is not the origin of this "
        f"emulator's pages ({own}); publish from a backend (boto3 iot-data, curl: no Origin "
        "header) or from a page the emulator serves"
    )


@dataclass
class CognitoGuests:
    """The Cognito guest path: a fake identity pool and the guest role's compiled IAM
    policy (rendered into build/cognito/<profile>.iam.json)."""

    pool: FakeCognito
    policy: CompiledPolicy
    profile: str | None = None
    allow_unsigned: bool = False  # True when a custom authorizer serves unsigned upgrades


class _HttpAwareConnection(ServerConnection):
    """Answers non-GET HTTP requests (backend publish, CORS preflight) on the WebSocket port."""

    emulator: Emulator  # set on the subclass created per Emulator
    iam_identity: IamIdentity | None = None  # set by a valid SigV4-presigned upgrade

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._sniff: bytearray | None = bytearray()
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        sniff = self._sniff
        if sniff is None:
            super().data_received(data)
            return
        sniff += data
        if len(sniff) < 8 and b"\r\n" not in sniff:
            return  # not enough to tell the method yet
        if not sniff.startswith(_OWN_METHODS):
            # GET (WebSocket upgrade, static files) and anything else: websockets decides.
            self._sniff = None
            super().data_received(bytes(sniff))
            return
        end = sniff.find(b"\r\n\r\n")
        if end < 0:
            if len(sniff) > MAX_HTTP_HEAD:
                self._answer(_error(431, "BadRequestException", "request head too large"))
            return
        head = bytes(sniff[:end]).decode("latin-1")
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._answer(_error(400, "BadRequestException", "malformed request line"))
            return
        method, target = parts[0], parts[1]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        refusal = host_refusal(headers, self.emulator.own_hosts()) or cross_origin_refusal(headers)
        if refusal is not None:
            log.info("DENY http %s %s: %s", method, target.split("?", 1)[0], refusal)
            self._answer(_error(403, "ForbiddenException", refusal))
            return
        if method == "OPTIONS":
            # Same-origin pages never send a preflight; answer without any CORS grant.
            self._answer(
                b"HTTP/1.1 204 No Content\r\nAllow: GET, POST, OPTIONS\r\n"
                b"Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
            return
        if method != "POST":
            self._answer(_error(405, "MethodNotAllowedException", f"{method} is not supported"))
            return
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._answer(_error(411, "BadRequestException", "send a Content-Length"))
            return
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            self._answer(_error(400, "BadRequestException", "bad Content-Length"))
            return
        if length < 0 or length > MAX_PAYLOAD_BYTES:
            self._answer(_error(413, "RequestEntityTooLargeException", "payload exceeds 128 KB"))
            return
        body_start = end + 4
        if len(sniff) - body_start < length:
            return  # wait for the rest of the body
        body = bytes(sniff[body_start : body_start + length])
        self._sniff = None
        self._answer(self.emulator.http_post(target, body, headers))

    def _answer(self, response: bytes) -> None:
        self._sniff = None
        transport = self.transport
        transport.write(response)
        transport.close()


class _WsTransport:
    __slots__ = ("ws",)

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws

    async def send(self, data: bytes) -> None:
        await self.ws.send(data)

    async def close(self) -> None:
        await self.ws.close()


class _TcpTransport:
    __slots__ = ("writer",)

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


class Emulator:
    """The emulator's servers around one `Broker`."""

    def __init__(
        self,
        config: EmulatorConfig,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tcp_port: int | None = None,
        serve_dir: str | Path | None = None,
        web_config: dict[str, Any] | None = None,
        cognito: CognitoGuests | None = None,
    ) -> None:
        self.config = config
        self.broker = Broker(config)
        self.host = host
        self.port = port
        self.tcp_port = tcp_port
        self.serve_dir = Path(serve_dir).resolve() if serve_dir else None
        self.web_config = dict(web_config or {})
        self.cognito = cognito
        self.console = Console(self.broker)  # GET /console (console.py)
        self._ws_server: Server | None = None
        self._tcp_server: asyncio.Server | None = None

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self.broker.bind_loop()
        conn_cls = type("EmulatorConnection", (_HttpAwareConnection,), {"emulator": self})
        self._ws_server = await serve(
            self._ws_handler,
            self.host,
            self.port,
            subprotocols=["mqtt"],  # type: ignore[list-item]
            process_request=self._process_request,
            create_connection=conn_cls,
            compression=None,
            max_size=MAX_PACKET_BYTES + 1024,
            ping_interval=None,  # MQTT keep-alive applies, not WebSocket pings
            close_timeout=2,
            open_timeout=10,
            server_header="iotws-emulator",
            backlog=LISTEN_BACKLOG,
        )
        self.port = self._ws_server.sockets[0].getsockname()[1]
        if self.tcp_port is not None:
            self._tcp_server = await asyncio.start_server(
                self._tcp_handler, self.host, self.tcp_port, limit=65_536, backlog=LISTEN_BACKLOG
            )
            self.tcp_port = self._tcp_server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._tcp_server is not None:
            self._tcp_server.close()
        if self._ws_server is not None:
            self._ws_server.close(close_connections=False)
        await self.broker.close_all()
        if self._ws_server is not None:
            self._ws_server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws_server.wait_closed(), 5)
        if self._tcp_server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._tcp_server.wait_closed(), 5)

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/mqtt"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def own_hosts(self) -> frozenset[str]:
        """The `Host` header values of requests to this emulator (`host_refusal`)."""
        names = {*LOOPBACK_NAMES, self.host if ":" not in self.host else f"[{self.host}]"}
        return frozenset(f"{name}:{self.port}" for name in names)

    # ----------------------------------------------------------------- HTTP

    def client_config(self, host_header: str | None = None) -> dict[str, Any]:
        host = host_header or f"{self.host}:{self.port}"
        cfg = {"url": f"ws://{host}/mqtt"}
        if self.cognito is not None:
            # The keys of the Cognito guest page (examples/cognito-unauth/web/src/main.js).
            cfg.update(
                {
                    "region": self.cognito.pool.region,
                    "identityPoolId": self.cognito.pool.pool_id,
                    "endpoint": f"ws://{host}",
                    "cognitoEndpoint": f"http://{host}{COGNITO_PATH}",
                }
            )
        cfg.update({k: v for k, v in self.web_config.items() if k != "url"})
        return cfg

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path == "/mqtt":
            if "upgrade" not in request.headers.get("Connection", "").lower():
                return connection.respond(http.HTTPStatus.UPGRADE_REQUIRED, "use a WebSocket\n")
            if self.cognito is not None:
                return self._check_presigned(connection, request)
            return None
        if path == "/console" or path.startswith("/console/"):
            return self._console_get(request)
        if path == "/healthz":
            return self._response(200, b'{"status":"ok"}', "application/json")
        if path == "/config.json":
            body = json.dumps(self.client_config(request.headers.get("Host"))).encode()
            return self._response(200, body, "application/json")
        if path.startswith("/topics/"):
            return connection.respond(http.HTTPStatus.METHOD_NOT_ALLOWED, "POST only\n")
        if self.serve_dir is not None:
            return self._static(path)
        return connection.respond(http.HTTPStatus.NOT_FOUND, "not found\n")

    def _check_presigned(self, connection: ServerConnection, request: Request) -> Response | None:
        """SigV4 query authentication of the upgrade (docs/cognito-guests.md#browser-connection);
        IoT refuses an
        unsigned, expired or badly signed request at the HTTP level with 403."""
        cognito = self.cognito
        assert cognito is not None
        query = urlsplit(request.path).query
        if "X-Amz-Signature" not in query and cognito.allow_unsigned:
            return None  # a custom-authorizer connection on a spec with both paths
        host = request.headers.get("Host", "")
        verdict = verify_presigned(request.path, host, cognito.pool.lookup)
        peer = connection.remote_address
        source = str(peer[0]) if peer else "?"
        if not verdict.ok or verdict.credentials is None:
            log.info("DENY upgrade sigv4 from %s: %s", source, verdict.reason)
            return connection.respond(http.HTTPStatus.FORBIDDEN, "Forbidden\n")
        creds = verdict.credentials
        if isinstance(connection, _HttpAwareConnection):
            connection.iam_identity = IamIdentity(
                identity_id=creds.identity_id,
                access_key_id=creds.access_key_id,
                policy=cognito.policy,
                profile=cognito.profile,
                variables=((COGNITO_SUB, creds.identity_id),),
            )
        log.info(
            "ALLOW upgrade sigv4 from %s: key=%s identity=%s",
            source,
            creds.access_key_id,
            creds.identity_id,
        )
        return None

    def _console_get(self, request: Request) -> Response:
        headers = {k.lower(): v for k, v in request.headers.raw_items()}
        refusal = host_refusal(headers, self.own_hosts()) or cross_origin_refusal(headers)
        if refusal is not None:
            log.info("DENY http GET %s: %s", urlsplit(request.path).path, refusal)
            body = json.dumps({"message": refusal}).encode()
            return self._response(403, body, "application/json")
        status, ctype, body = self.console.get(request.path)
        response = self._response(status, body, ctype)
        # The page runs only its own inline script, talks only to this origin, is never framed.
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
            "img-src 'self'; connect-src 'self'; frame-ancestors 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @staticmethod
    def _response(status: int, body: bytes, content_type: str) -> Response:
        headers = Headers(
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ]
        )
        return Response(status, http.HTTPStatus(status).phrase, headers, body)

    def _static(self, path: str) -> Response:
        assert self.serve_dir is not None
        rel = unquote(path).lstrip("/") or "index.html"
        target = (self.serve_dir / rel).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_relative_to(self.serve_dir) or not target.is_file():
            return self._response(404, b"not found\n", "text/plain")
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/javascript", "application/json"):
            ctype += "; charset=utf-8"
        return self._response(200, target.read_bytes(), ctype)

    def http_post(self, target: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
        """`POST /topics/{topic}?qos=&retain=` (API_iotdata_Publish): 200 `{}` or a JSON error.
        Any SigV4 Authorization header is accepted: IAM is not emulated.
        With a Cognito guest pool, `POST /cognito` is its fake Cognito Identity endpoint."""
        split = urlsplit(target)
        if self.cognito is not None and split.path.rstrip("/") == COGNITO_PATH:
            op = (headers or {}).get("x-amz-target")
            status, answer = self.cognito.pool.handle(op, body)
            log.info("COGNITO %s -> %s", op, status if status != 200 else "ok")
            extra = {"x-amzn-ErrorType": str(answer["__type"])} if status != 200 else None
            return _json_response(status, answer, extra)
        if split.path.startswith("/console/"):
            # Host and Origin are checked for every POST (`_HttpAwareConnection`).
            status, answer = self.console.post(target, body, headers or {})
            return _json_response(status, answer)
        if not split.path.startswith("/topics/"):
            return _error(404, "ResourceNotFoundException", f"no such resource: {split.path}")
        topic = unquote(split.path[len("/topics/") :])
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        try:
            qos = int(params.get("qos", "0"))
        except ValueError:
            return _error(400, "InvalidRequestException", "qos must be 0 or 1")
        retain = params.get("retain", "false").lower() == "true"
        try:
            self.broker.backend_publish(topic, body, qos, retain)
        except PermissionError as exc:
            return _error(403, "ForbiddenException", str(exc))
        except OverflowError as exc:
            return _error(413, "RequestEntityTooLargeException", str(exc))
        except ValueError as exc:
            return _error(400, "InvalidRequestException", str(exc))
        return _json_response(200, {})

    # ----------------------------------------------------------------- MQTT

    async def _ws_handler(self, ws: ServerConnection) -> None:
        req = ws.request
        assert req is not None
        split = urlsplit(req.path)
        host = req.headers.get("Host", self.host)
        server_name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        peer = ws.remote_address
        info = RequestInfo(
            transport="wss",
            path=split.path,
            query=split.query,
            headers=tuple(req.headers.raw_items()),
            server_name=server_name,
            source_ip=str(peer[0]) if peer else "127.0.0.1",
            iam=ws.iam_identity if isinstance(ws, _HttpAwareConnection) else None,
        )

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for message in ws:
                    if isinstance(message, str):
                        # MQTT over WebSockets uses binary frames only (MQTT 5 section 6.0).
                        raise codec.ProtocolError("text WebSocket frame", 0x81)
                    yield message
            except ConnectionClosed:
                return

        await self.broker.serve(_WsTransport(ws), info, chunks())

    async def _tcp_handler(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        peer = writer.get_extra_info("peername")
        info = RequestInfo(
            transport="tcp",
            server_name=self.config.server_name,
            source_ip=str(peer[0]) if peer else "127.0.0.1",
        )

        async def chunks() -> AsyncIterator[bytes]:
            while True:
                try:
                    data = await reader.read(65_536)
                except (ConnectionError, OSError):
                    return
                if not data:
                    return
                yield data

        try:
            await self.broker.serve(_TcpTransport(writer), info, chunks())
        finally:
            writer.close()


class EmulatorThread:
    """Runs an `Emulator` on its own event loop in a background thread (tests, bench)."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="iotws-emulator", daemon=True)
        self._started: Future[None] = Future()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.emulator.start())
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._started.set_exception(exc)
            return
        self._started.set_result(None)
        self.loop.run_forever()
        pending = asyncio.all_tasks(self.loop)
        for t in pending:
            t.cancel()
        with contextlib.suppress(Exception):
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    def start(self) -> Emulator:
        self._thread.start()
        self._started.result(timeout=30)
        return self.emulator

    def call(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):
            self.call(self.emulator.stop(), timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)
