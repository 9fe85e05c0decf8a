"""The IoT Core data plane: sessions, enforcement, routing, retained messages, lifecycle.

One `Broker` per emulator. Each MQTT connection is a `Session` with a reader (the
transport's own task, which calls `Broker.serve`), a writer task that drains the
session's outbound queue (and checks `iot:Receive` there, so a slow or refreshing
receiver never holds up a publisher), a keep-alive watchdog and a TTL timer.

AWS behaviour implemented here is cited by IOT_FACTS section; where AWS documents
nothing the choice is marked "unverified".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import Any, Protocol

from iotws_emulator import codec
from iotws_emulator.auth import (
    AUTHORIZER_TIMEOUT_SECONDS,
    AuthorizerBinding,
    AuthRefused,
    AuthResult,
    LambdaContext,
    RequestInfo,
    build_event,
    invoke,
    select_authorizer_name,
    validate_response,
)
from iotws_emulator.clock import Clock, RealClock
from iotws_emulator.codec import Prop
from iotws_emulator.policy import ALLOWED, PolicyEngine
from iotws_emulator.signing import check_request, signing_keys
from iotws_emulator.topics import is_wildcard, matches, topic_filter_error, topic_name_error

log = logging.getLogger("iotws.emulator")
auth_log = logging.getLogger("iotws.emulator.authorizer")

# IOT_FACTS section 4 limits
MAX_CLIENT_ID_BYTES = 128
IAM_CONNECTION_SECONDS = 86_400  # IOT_FACTS section 6: connections last up to 24 hours
MAX_PAYLOAD_BYTES = 128 * 1024
MAX_FILTERS_PER_SUBSCRIBE = 8
MAX_SUBSCRIPTIONS = 50
MAX_INFLIGHT = 100
KEEPALIVE_MIN, KEEPALIVE_MAX = 30, 1200
KEEPALIVE_GRACE = 1.5
TOPIC_ALIAS_MAXIMUM = 8  # IoT's MQTT 5 topic alias limit (mqtt.html; unverified in IOT_FACTS)
# Largest packet accepted before the payload check: a 128 KB payload, a 64 KB topic or
# properties block and headers. Bigger remaining lengths are refused before buffering.
MAX_PACKET_BYTES = MAX_PAYLOAD_BYTES + 2 * 65_536 + 64

# Client publishes to reserved topics that IoT accepts (reserved-topics.html): device
# shadows and Basic Ingest. Everything else under `$` is refused (IOT_FACTS section 4).
ALLOWED_RESERVED_PREFIXES = ("$aws/things/", "$aws/rules/")
BASIC_INGEST_PREFIX = "$aws/rules/"

# v3.1.1 CONNACK return codes and the MQTT 5 reason codes used
V3_IDENTIFIER_REJECTED = 2
V3_NOT_AUTHORIZED = 5
RC_UNSPECIFIED = 0x80
RC_MALFORMED = 0x81
RC_PROTOCOL_ERROR = 0x82
RC_CLIENT_ID_INVALID = 0x85
RC_NOT_AUTHORIZED = 0x87
RC_SERVER_SHUTTING_DOWN = 0x8B
RC_KEEP_ALIVE_TIMEOUT = 0x8D
RC_SESSION_TAKEN_OVER = 0x8E
RC_TOPIC_FILTER_INVALID = 0x8F
RC_TOPIC_NAME_INVALID = 0x90
RC_TOPIC_ALIAS_INVALID = 0x94
RC_PACKET_TOO_LARGE = 0x95
RC_QUOTA_EXCEEDED = 0x97
RC_QOS_NOT_SUPPORTED = 0x9B
RC_MAX_CONNECT_TIME = 0xA0
RC_NO_SUBSCRIPTION = 0x11

# Disconnect reasons (IOT_FACTS section 5)
AUTH_ERROR = "AUTH_ERROR"
CLIENT_INITIATED_DISCONNECT = "CLIENT_INITIATED_DISCONNECT"
CLIENT_ERROR = "CLIENT_ERROR"
CONNECTION_LOST = "CONNECTION_LOST"
DUPLICATE_CLIENTID = "DUPLICATE_CLIENTID"
MQTT_KEEP_ALIVE_TIMEOUT = "MQTT_KEEP_ALIVE_TIMEOUT"
SERVER_INITIATED_DISCONNECT = "SERVER_INITIATED_DISCONNECT"
THROTTLED = "THROTTLED"
CUSTOMAUTH_TTL_EXPIRATION = "CUSTOMAUTH_TTL_EXPIRATION"


class Transport(Protocol):
    async def send(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


@dataclass
class EmulatorConfig:
    authorizers: dict[str, AuthorizerBinding]
    engine: PolicyEngine
    default_authorizer: str | None = None
    region: str = "us-east-1"
    account: str = "123456789012"
    clock: Clock = field(default_factory=RealClock)  # authorizer TTLs, event timestamps
    keepalive_clock: Clock = field(default_factory=RealClock)  # keep-alive enforcement
    authorizer_timeout: float = AUTHORIZER_TIMEOUT_SECONDS
    connect_timeout: float = 10.0  # real seconds to wait for CONNECT (unverified for IoT)
    outbound_limit_bytes: int = 16 * 1024 * 1024  # per-connection queue (slow readers)
    server_name: str = "localhost"
    enforce: bool = True

    def arn(self, resource: str) -> str:
        return f"arn:aws:iot:{self.region}:{self.account}:{resource}"


@dataclass
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    props: codec.Properties
    expires_at: float | None = None  # clock.monotonic() deadline (MQTT 5 message expiry)
    _qos0: dict[tuple[int, bool], bytes] = field(default_factory=dict)
    _topic_bytes: bytes | None = None

    def encode(
        self, level: int, qos: int, retain: bool, packet_id: int | None, now: float
    ) -> bytes:
        if qos == 0:
            cached = self._qos0.get((level, retain))
            if cached is not None and self.expires_at is None:
                return cached
        if level == 4 and qos == 1 and packet_id is not None:
            # hot path (QoS 1 fan-out): header, topic and payload reused, only the id changes
            topic = self._topic_bytes
            if topic is None:
                topic = self._topic_bytes = codec.encode_utf8(self.topic)
            first = 0x32 | (0x01 if retain else 0)
            body_len = len(topic) + 2 + len(self.payload)
            return b"".join(
                (
                    bytes((first,)),
                    codec.encode_varint(body_len),
                    topic,
                    packet_id.to_bytes(2, "big"),
                    self.payload,
                )
            )
        props = codec.Properties()
        if level == 5 and self.props:
            props = codec.Properties(dict(self.props.values), list(self.props.user))
            if self.expires_at is not None:
                props.values[Prop.MESSAGE_EXPIRY_INTERVAL] = max(0, int(self.expires_at - now))
        data = codec.encode(
            codec.Publish(self.topic, self.payload, qos, retain, False, packet_id, props), level
        )
        if qos == 0 and self.expires_at is None:
            self._qos0[(level, retain)] = data
        return data


@dataclass
class SubOptions:
    qos: int
    no_local: bool = False
    retain_as_published: bool = False


@dataclass
class _Delivery:
    msg: Message
    qos: int
    retain: bool


def _message_props(props: codec.Properties) -> codec.Properties:
    out = codec.Properties()
    for p in codec.MESSAGE_PROPS:
        if p in props.values:
            out.values[p] = props.values[p]
    out.user = list(props.user)
    return out


class Session:
    """One MQTT connection."""

    def __init__(self, broker: Broker, transport: Transport, info: RequestInfo) -> None:
        self.broker = broker
        self.transport = transport
        self.info = info
        self.connection_id = str(uuid.uuid4())
        self.session_identifier = str(uuid.uuid4())
        self.level = 4
        self.client_id = ""
        self.principal = ""
        self.profile: str | None = None
        self.binding: AuthorizerBinding | None = None
        self.event: dict[str, Any] | None = None
        self.auth: AuthResult | None = None
        self.connected = False
        self.closing = False
        self.version_number = 0
        self.subscriptions: dict[str, SubOptions] = {}
        self.will: codec.Will | None = None
        self.keep_alive = KEEPALIVE_MAX
        self.last_seen = broker.config.keepalive_clock.monotonic()
        self.refresh_at = 0.0
        self.aliases: dict[int, str] = {}
        self.variables: dict[str, str] = {}
        self._decisions: dict[tuple[str, str], bool] = {}
        self._refresh_lock = asyncio.Lock()
        self._out: deque[bytes | _Delivery] = deque()
        self._out_bytes = 0
        self._wake = asyncio.Event()
        self._inflight: dict[int, Message] = {}
        self._inflight_free = asyncio.Event()
        self._next_pid = 0
        self._tasks: list[asyncio.Task[None]] = []
        self.closed = asyncio.Event()

    # ----------------------------------------------------------------- naming

    def __repr__(self) -> str:
        return f"<Session {self.client_id or '?'} {self.connection_id[:8]}>"

    def describe(self) -> str:
        return f"client={self.client_id or '-'}"

    # ----------------------------------------------------------------- output

    def send_packet(self, packet: codec.Packet) -> None:
        self._push(codec.encode(packet, self.level))

    def _push(self, item: bytes | _Delivery) -> None:
        if self.closing:
            return
        size = len(item) if isinstance(item, bytes) else len(item.msg.payload) + 64
        if self._out_bytes + size > self.broker.config.outbound_limit_bytes:
            # A receiver that does not keep up. IoT throttles such clients; the exact
            # behaviour is unverified: the emulator disconnects with THROTTLED.
            self.broker.spawn(self.close(THROTTLED, v5_code=RC_QUOTA_EXCEEDED))
            return
        self._out_bytes += size
        self._out.append(item)
        self._wake.set()

    def deliver(self, msg: Message, qos: int, retain: bool) -> None:
        self._push(_Delivery(msg, qos, retain))

    def _packet_id(self) -> int:
        for _ in range(65_535):
            self._next_pid = self._next_pid % 65_535 + 1
            if self._next_pid not in self._inflight:
                return self._next_pid
        raise RuntimeError("no free packet id")

    async def _writer(self) -> None:
        try:
            await self._write_loop()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a dead transport ends the session
            log.debug("writer for %s ended: %r", self.describe(), exc)
            self.broker.spawn(self.close(CONNECTION_LOST))

    async def _write_loop(self) -> None:
        out = self._out
        clock = self.broker.config.clock
        while True:
            if not out:
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = bytearray()
            while out and len(batch) < 65_536:
                item = out.popleft()
                if isinstance(item, bytes):
                    self._out_bytes -= len(item)
                    batch += item
                    continue
                self._out_bytes -= len(item.msg.payload) + 64
                msg = item.msg
                now = clock.monotonic()
                if msg.expires_at is not None and now >= msg.expires_at:
                    continue
                allowed = self._decisions.get(("iot:Receive", "topic/" + msg.topic))
                if allowed is None or now >= self.refresh_at:
                    allowed = await self.allowed_receive(msg.topic)
                if not allowed:
                    continue
                pid = None
                if item.qos:
                    if len(self._inflight) >= MAX_INFLIGHT:
                        # IOT_FACTS section 4: at most 100 unacknowledged QoS 1 messages.
                        if batch:
                            await self.transport.send(bytes(batch))
                            batch = bytearray()
                        while len(self._inflight) >= MAX_INFLIGHT:
                            self._inflight_free.clear()
                            await self._inflight_free.wait()
                    pid = self._packet_id()
                    self._inflight[pid] = msg
                batch += msg.encode(self.level, item.qos, item.retain, pid, now)
            if batch:
                await self.transport.send(bytes(batch))

    # ----------------------------------------------------------------- authorization

    def _check(self, action: str, resource: str) -> tuple[bool, str]:
        if not self.broker.config.enforce:
            return True, ALLOWED
        assert self.auth is not None
        result = self.auth.policy.evaluate(action, self.broker.config.arn(resource), self.variables)
        return result == ALLOWED, result

    async def _ensure_fresh(self) -> bool:
        """Re-invoke the authorizer once `refreshAfterInSeconds` has passed (IOT_FACTS
        section 2: the gateway caches the policy that long, then calls the Lambda again).
        """
        if self.broker.config.clock.monotonic() < self.refresh_at or self.closing:
            return not self.closing
        async with self._refresh_lock:
            if self.broker.config.clock.monotonic() < self.refresh_at:
                return True
            assert self.binding is not None and self.event is not None
            try:
                result = await self.broker.authorize(self.binding, self.event)
            except AuthRefused as exc:
                log.info("DENY refresh %s: %s", self.describe(), exc)
                self.broker.spawn(self.close(AUTH_ERROR, v5_code=RC_NOT_AUTHORIZED))
                return False
            self.auth = result
            self.principal = result.principal_id
            self.profile = self.broker.profile_for(self.connection_id)
            self._decisions.clear()
            self.refresh_at = self.broker.config.clock.monotonic() + result.refresh_after
            log.info(
                "ALLOW refresh %s principal=%s%s next_refresh=%ss",
                self.describe(),
                self.principal,
                f" profile={self.profile}" if self.profile else "",
                result.refresh_after,
            )
            return True

    async def allowed(self, action: str, resource: str, what: str) -> tuple[bool, str]:
        """Check `action` on `resource` with caching and one log line per new decision."""
        if not await self._ensure_fresh():
            return False, "REFRESH_FAILED"
        key = (action, resource)
        cached = self._decisions.get(key)
        if cached is not None:
            return cached, ALLOWED if cached else "DENIED"
        ok, result = self._check(action, resource)
        if len(self._decisions) >= 4096:
            self._decisions.clear()
        self._decisions[key] = ok
        verb = action.split(":", 1)[1].lower()
        if ok:
            log.info("ALLOW %s %s %s", verb, self.describe(), what)
        else:
            log.info("DENY %s %s %s: %s", verb, self.describe(), what, result)
        return ok, result

    async def allowed_receive(self, topic: str) -> bool:
        ok, _ = await self.allowed("iot:Receive", f"topic/{topic}", f"topic={topic}")
        return ok

    # ----------------------------------------------------------------- lifecycle

    def start_tasks(self) -> None:
        self._tasks.append(asyncio.create_task(self._writer()))
        self._tasks.append(asyncio.create_task(self._keepalive_watchdog()))
        if self.auth is not None:
            self._tasks.append(asyncio.create_task(self._ttl_timer(self.auth.disconnect_after)))

    async def _keepalive_watchdog(self) -> None:
        # IOT_FACTS section 4: dropped after 1.5 times the (clamped) keep-alive.
        kclock = self.broker.config.keepalive_clock
        limit = self.keep_alive * KEEPALIVE_GRACE
        while True:
            idle = kclock.monotonic() - self.last_seen
            if idle >= limit:
                log.info(
                    "CLOSE %s: no packet for %.0f s (keep-alive %d s)",
                    self.describe(),
                    idle,
                    self.keep_alive,
                )
                await self.close(MQTT_KEEP_ALIVE_TIMEOUT, v5_code=RC_KEEP_ALIVE_TIMEOUT)
                return
            await kclock.sleep(limit - idle)

    async def _ttl_timer(self, seconds: int) -> None:
        # IOT_FACTS section 2: a hard cap on the connection's life, not extended by refreshes.
        await self.broker.config.clock.sleep(seconds)
        log.info("CLOSE %s: disconnectAfterInSeconds=%d reached", self.describe(), seconds)
        await self.close(CUSTOMAUTH_TTL_EXPIRATION, v5_code=RC_MAX_CONNECT_TIME)

    async def close(
        self,
        reason: str,
        *,
        client_initiated: bool = False,
        v5_code: int | None = None,
        publish_will: bool = True,
    ) -> None:
        if self.closing:
            return
        self.closing = True
        current = asyncio.current_task()
        for t in self._tasks:
            if t is not current:
                t.cancel()
        broker = self.broker
        broker.unregister(self)
        if v5_code is not None and self.level == 5 and self.connected:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    self.transport.send(codec.encode(codec.Disconnect(v5_code), 5)), 1.0
                )
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.transport.close(), 3.0)
        if self.connected:
            if self.will is not None and publish_will:
                broker.publish_will(self, self.will)
            broker.lifecycle(
                "disconnected",
                self,
                clientInitiatedDisconnect=client_initiated,
                disconnectReason=reason,
            )
            log.info("DISCONNECT %s reason=%s", self.describe(), reason)
        self.closed.set()


class Broker:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.clients: dict[str, Session] = {}
        self.sessions: set[Session] = set()
        self._exact: dict[str, dict[Session, SubOptions]] = {}
        self._wild: dict[str, dict[Session, SubOptions]] = {}
        self.retained: dict[str, Message] = {}
        self._versions: dict[str, int] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._profiles: dict[str, str] = {}
        self.stats = {"connections": 0, "refused": 0, "protocol_errors": 0}
        for binding in config.authorizers.values():
            set_sink = getattr(binding.authorizer, "set_log_sink", None)
            if callable(set_sink):
                set_sink(self.authorizer_log_line)

    def authorizer_log_line(self, line: str) -> None:
        """The authorizer's decision line (INTERNALS.md): keep the profile for our log."""
        auth_log.debug("%s", line)
        try:
            record = json.loads(line)
        except ValueError:
            return
        if isinstance(record, dict):
            cid, profile = record.get("connection_id"), record.get("profile")
            if isinstance(cid, str) and isinstance(profile, str):
                self.note_profile(cid, profile)

    # ----------------------------------------------------------------- helpers

    def spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def note_profile(self, connection_id: str, profile: str | None) -> None:
        """Record the profile the authorizer logged for a connection (for log lines)."""
        if profile:
            if len(self._profiles) > 10_000:
                self._profiles.clear()
            self._profiles[connection_id] = profile

    def profile_for(self, connection_id: str) -> str | None:
        return self._profiles.get(connection_id)

    def lambda_context(self, name: str) -> LambdaContext:
        c = self.config
        return LambdaContext(
            invoked_function_arn=f"arn:aws:lambda:{c.region}:{c.account}:function:{name}",
            function_name=name,
            timeout_seconds=c.authorizer_timeout,
        )

    async def authorize(self, binding: AuthorizerBinding, event: dict[str, Any]) -> AuthResult:
        response = await invoke(
            binding, event, self.lambda_context(binding.name), self.config.authorizer_timeout
        )
        return validate_response(response, self.config.engine)

    def unregister(self, s: Session) -> None:
        self.sessions.discard(s)
        if self.clients.get(s.client_id) is s:
            del self.clients[s.client_id]
        for f in s.subscriptions:
            self._index_remove(f, s)
        s._inflight.clear()  # QoS 1 state is per connection (no persistent sessions)
        s._inflight_free.set()

    def _index(self, f: str) -> dict[str, dict[Session, SubOptions]]:
        return self._wild if is_wildcard(f) else self._exact

    def _index_remove(self, f: str, s: Session) -> None:
        idx = self._index(f)
        subs = idx.get(f)
        if subs is not None:
            subs.pop(s, None)
            if not subs:
                del idx[f]

    # ----------------------------------------------------------------- routing

    def route(self, msg: Message, origin: Session | None = None) -> int:
        """Queue `msg` for every matching subscriber; `iot:Receive` is checked per delivery."""
        targets: dict[Session, SubOptions] = {}
        subs = self._exact.get(msg.topic)
        if subs:
            targets.update(subs)
        for f, wsubs in self._wild.items():
            if matches(f, msg.topic):
                for s, o in wsubs.items():
                    prev = targets.get(s)
                    if prev is None or o.qos > prev.qos:
                        targets[s] = o
        n = 0
        for s, o in targets.items():
            if o.no_local and s is origin:
                continue
            s.deliver(msg, min(msg.qos, o.qos), msg.retain and o.retain_as_published)
            n += 1
        return n

    def lifecycle(self, event_type: str, s: Session, **extra: Any) -> None:
        """Publish a lifecycle event (IOT_FACTS section 5)."""
        cid = s.client_id
        if not cid or "#" in cid or "+" in cid:
            return  # client ids with # or + get no lifecycle events
        group = "subscriptions" if event_type in ("subscribed", "unsubscribed") else "presence"
        payload: dict[str, Any] = {
            "clientId": cid,
            "timestamp": int(self.config.clock.time() * 1000),
            "eventType": event_type,
        }
        if event_type != "connect_failed":
            payload["sessionIdentifier"] = s.session_identifier
        payload["principalIdentifier"] = s.principal or None
        if event_type in ("connected", "connect_failed"):
            payload["ipAddress"] = s.info.source_ip
        if event_type in ("connected", "disconnected"):
            payload["versionNumber"] = s.version_number
        payload.update(extra)
        topic = f"$aws/events/{group}/{event_type}/{cid}"
        body = json.dumps(payload, separators=(",", ":")).encode()
        self.route(Message(topic, body, 1, False, codec.Properties()))

    def publish_will(self, s: Session, will: codec.Will) -> None:
        """Publish the last will of a connection that ended without DISCONNECT, checked
        against the policy the connection held (it is closing, so no refresh)."""
        if topic_name_error(will.topic) or will.topic.startswith("$"):
            return
        ok, decision = s._check("iot:Publish", f"topic/{will.topic}")
        if will.retain and ok:
            ok, decision = s._check("iot:RetainPublish", f"topic/{will.topic}")
        if not ok:
            log.info("DENY will %s topic=%s: %s", s.describe(), will.topic, decision)
            return
        props = _message_props(will.properties)
        msg = Message(will.topic, will.payload, min(will.qos, 1), will.retain, props)
        if will.retain:
            self._store_retained(msg)
        log.info("PUBLISH will %s topic=%s", s.describe(), will.topic)
        self.route(msg, None)

    def _store_retained(self, msg: Message) -> None:
        # IOT_FACTS section 4: one retained message per topic; empty payload deletes.
        if msg.payload:
            self.retained[msg.topic] = Message(
                msg.topic, msg.payload, msg.qos, True, msg.props, msg.expires_at
            )
        else:
            self.retained.pop(msg.topic, None)

    def backend_publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        """HTTPS publish (IOT_FACTS section 8): authorised by IAM in AWS, not by IoT policy.
        Receive is still checked for each subscriber. Raises ValueError on a bad request.
        """
        err = topic_name_error(topic)
        if err:
            raise ValueError(err)
        if topic.startswith("$") and not topic.startswith(ALLOWED_RESERVED_PREFIXES):
            raise PermissionError(f"topic {topic!r} is reserved")
        if qos not in (0, 1):
            raise ValueError("qos must be 0 or 1")
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise OverflowError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
        msg = Message(topic, payload, qos, retain, codec.Properties())
        if retain:
            self._store_retained(msg)
        n = self.route(msg)
        log.info(
            "PUBLISH http topic=%s qos=%d retain=%s bytes=%d subscribers=%d",
            topic,
            qos,
            retain,
            len(payload),
            n,
        )

    # ----------------------------------------------------------------- connections

    async def close_all(self) -> None:
        sessions = list(self.sessions)
        await asyncio.gather(
            *(
                s.close(SERVER_INITIATED_DISCONNECT, v5_code=RC_SERVER_SHUTTING_DOWN)
                for s in sessions
            ),
            return_exceptions=True,
        )
        for t in list(self._background):
            t.cancel()

    async def serve(
        self, transport: Transport, info: RequestInfo, chunks: AsyncIterator[bytes]
    ) -> None:
        """Run one connection until it ends. Never raises for client misbehaviour."""
        s = Session(self, transport, info)
        self.sessions.add(s)
        decoder = codec.StreamDecoder(MAX_PACKET_BYTES)
        try:
            await self._serve(s, decoder, chunks)
        except codec.ProtocolError as exc:
            self.stats["protocol_errors"] += 1
            log.info("CLOSE %s: protocol error: %s", s.describe(), exc)
            code = RC_PACKET_TOO_LARGE if isinstance(exc, codec.PacketTooLarge) else exc.reason
            await s.close(CLIENT_ERROR, v5_code=code)
        except asyncio.CancelledError:
            await asyncio.shield(
                s.close(SERVER_INITIATED_DISCONNECT, v5_code=RC_SERVER_SHUTTING_DOWN)
            )
            raise
        except Exception:
            log.exception("CLOSE %s: internal error", s.describe())
            await s.close("SERVER_ERROR", v5_code=RC_UNSPECIFIED)
        else:
            await s.close(CONNECTION_LOST)
        finally:
            self.sessions.discard(s)

    async def _serve(
        self, s: Session, decoder: codec.StreamDecoder, chunks: AsyncIterator[bytes]
    ) -> None:
        kclock = self.config.keepalive_clock
        it = chunks.__aiter__()
        pending: deque[codec.Packet] = deque()
        # The first packet must be CONNECT, within connect_timeout (real time).
        try:
            async with asyncio.timeout(self.config.connect_timeout):
                while not pending:
                    data = await it.__anext__()
                    if data and not decoder.pending() and data[0] != 0x10:
                        # Not a CONNECT: no need to wait for a length that may never come.
                        raise codec.ProtocolError("first packet is not CONNECT")
                    pending.extend(decoder.feed(data))
        except (StopAsyncIteration, TimeoutError):
            log.info("CLOSE %s: no CONNECT received", s.describe())
            await s.close(CLIENT_ERROR)
            return
        first = pending.popleft()
        if not isinstance(first, codec.Connect):
            raise codec.ProtocolError(f"first packet is {type(first).__name__}, not CONNECT")
        if not await self._connect(s, first):
            return
        while not s.closing:
            while pending:
                if s.closing:
                    return
                await self._handle(s, pending.popleft())
            try:
                data = await it.__anext__()
            except StopAsyncIteration:
                return
            s.last_seen = kclock.monotonic()
            pending.extend(decoder.feed(data))

    async def _refuse(self, s: Session, v3: int, v5: int, reason: str, *, lifecycle: bool) -> bool:
        self.stats["refused"] += 1
        connack = codec.encode(codec.Connack(False, v5 if s.level == 5 else v3), s.level)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(s.transport.send(connack), 1.0)
        if lifecycle:
            self.lifecycle("connect_failed", s, connectFailureReason="AUTHORIZATION_FAILED")
        log.info("DENY connect %s: %s", s.describe(), reason)
        await s.close(AUTH_ERROR)
        return False

    async def _connect(self, s: Session, p: codec.Connect) -> bool:
        c = self.config
        s.level = p.level
        cid = p.client_id
        if not cid:
            if p.level == 4 and not p.clean_start:
                return await self._refuse(
                    s,
                    V3_IDENTIFIER_REJECTED,
                    RC_CLIENT_ID_INVALID,
                    "empty client id",
                    lifecycle=False,
                )
            cid = "iotws-" + uuid.uuid4().hex
            assigned = True
        else:
            assigned = False
        s.client_id = cid
        # IOT_FACTS section 4: at most 128 bytes, no leading `$`.
        if len(cid.encode("utf-8")) > MAX_CLIENT_ID_BYTES or cid.startswith("$"):
            return await self._refuse(
                s,
                V3_IDENTIFIER_REJECTED,
                RC_CLIENT_ID_INVALID,
                "client id over 128 bytes or starting with $",
                lifecycle=False,
            )
        iam = s.info.iam
        if iam is not None:
            # Cognito guest path (IOT_FACTS section 6): the SigV4 check at the upgrade already
            # identified the caller; the guest role's IAM policy decides and no Lambda runs.
            # Connections last up to 24 hours; there is no policy refresh.
            s.auth = AuthResult(
                principal_id=iam.identity_id,
                policy=iam.policy,
                documents=[],
                disconnect_after=IAM_CONNECTION_SECONDS,
                refresh_after=IAM_CONNECTION_SECONDS,
            )
            s.principal = iam.identity_id
            s.profile = iam.profile
            s.refresh_at = math.inf
            auth_label = "sigv4"
        else:
            name = select_authorizer_name(s.info, p.username) or c.default_authorizer
            binding = c.authorizers.get(name) if name else None
            if binding is None:
                return await self._refuse(
                    s,
                    V3_NOT_AUTHORIZED,
                    RC_NOT_AUTHORIZED,
                    f"no authorizer named {name!r}",
                    lifecycle=True,
                )
            s.binding = binding
            s.event = build_event(
                s.info,
                client_id=None if assigned else cid,
                username=p.username,
                password=p.password,
                token_key_name=binding.token_key_name,
                connection_id=s.connection_id,
            )
            # Token signing (IOT_FACTS sections 1 and 2): with signing on, the gateway checks
            # the signature itself and refuses a bad or missing one WITHOUT calling the Lambda.
            keys = signing_keys(binding.config)
            if keys is not None:
                refusal = check_request(
                    s.event.get("token"), s.info.headers, s.info.query, p.username, keys
                )
                if refusal is not None:
                    return await self._refuse(
                        s,
                        V3_NOT_AUTHORIZED,
                        RC_NOT_AUTHORIZED,
                        f"token signature check failed ({refusal}); authorizer not invoked",
                        lifecycle=True,
                    )
                s.event["signatureVerified"] = True
            try:
                result = await self.authorize(binding, s.event)
            except AuthRefused as exc:
                return await self._refuse(
                    s,
                    V3_NOT_AUTHORIZED,
                    RC_NOT_AUTHORIZED,
                    f"authorizer {binding.name}: {exc}",
                    lifecycle=True,
                )
            s.auth = result
            s.principal = result.principal_id
            s.profile = self.profile_for(s.connection_id)
            s.refresh_at = c.clock.monotonic() + result.refresh_after
            auth_label = binding.name
        s.variables = {
            "iot:ClientId": cid,
            "aws:SourceIp": s.info.source_ip,
            "iot:DomainName": c.server_name,
        }
        if iam is not None:
            s.variables.update(iam.variables)
        ok, decision = s._check("iot:Connect", f"client/{cid}")
        if not ok:
            return await self._refuse(
                s,
                V3_NOT_AUTHORIZED,
                RC_NOT_AUTHORIZED,
                f"iot:Connect on client/{cid}: {decision}",
                lifecycle=True,
            )
        # Take over an existing connection with the same client id (IOT_FACTS section 4).
        old = self.clients.get(cid)
        if old is not None and old is not s:
            log.info("CLOSE %s: client id taken over by a new connection", old.describe())
            await old.close(DUPLICATE_CLIENTID, v5_code=RC_SESSION_TAKEN_OVER)
        self.clients[cid] = s
        self._versions[cid] = self._versions.get(cid, 0) + 1
        s.version_number = self._versions[cid]
        # IOT_FACTS section 4: keep-alive 30..1200, 0 -> 1200.
        ka = p.keep_alive
        s.keep_alive = KEEPALIVE_MAX if ka == 0 or ka > KEEPALIVE_MAX else max(ka, KEEPALIVE_MIN)
        s.last_seen = c.keepalive_clock.monotonic()
        s.will = p.will
        props = codec.Properties()
        if p.level == 5:
            props.values.update(
                {
                    Prop.RECEIVE_MAXIMUM: MAX_INFLIGHT,
                    Prop.MAXIMUM_QOS: 1,
                    Prop.RETAIN_AVAILABLE: 1,
                    Prop.MAXIMUM_PACKET_SIZE: MAX_PACKET_BYTES,
                    Prop.TOPIC_ALIAS_MAXIMUM: TOPIC_ALIAS_MAXIMUM,
                    Prop.WILDCARD_SUBSCRIPTION_AVAILABLE: 1,
                    Prop.SUBSCRIPTION_IDENTIFIER_AVAILABLE: 0,
                    Prop.SHARED_SUBSCRIPTION_AVAILABLE: 0,
                }
            )
            if s.keep_alive != p.keep_alive:
                props.values[Prop.SERVER_KEEP_ALIVE] = s.keep_alive
            if assigned:
                props.values[Prop.ASSIGNED_CLIENT_IDENTIFIER] = cid
        # Persistent sessions are not emulated: every session starts clean.
        s.connected = True
        s.send_packet(codec.Connack(False, 0, props))
        s.start_tasks()
        self.stats["connections"] += 1
        log.info(
            "ALLOW connect %s principal=%s%s authorizer=%s keepalive=%ds mqtt=%s",
            s.describe(),
            s.principal,
            f" profile={s.profile}" if s.profile else "",
            auth_label,
            s.keep_alive,
            "5" if p.level == 5 else "3.1.1",
        )
        self.lifecycle("connected", s)
        return True

    # ----------------------------------------------------------------- packets

    async def _handle(self, s: Session, p: codec.Packet) -> None:
        if isinstance(p, codec.Publish):
            await self._on_publish(s, p)
        elif isinstance(p, codec.Puback):
            if s._inflight.pop(p.packet_id, None) is not None:
                s._inflight_free.set()
        elif isinstance(p, codec.Subscribe):
            await self._on_subscribe(s, p)
        elif isinstance(p, codec.Unsubscribe):
            self._on_unsubscribe(s, p)
        elif isinstance(p, codec.Pingreq):
            s.send_packet(codec.Pingresp())
        elif isinstance(p, codec.Disconnect):
            # MQTT 5 reason 0x04: disconnect with will message.
            await s.close(
                CLIENT_INITIATED_DISCONNECT, client_initiated=True, publish_will=p.reason == 0x04
            )
        elif isinstance(p, codec.Connect):
            raise codec.ProtocolError("second CONNECT on one connection", RC_PROTOCOL_ERROR)
        elif isinstance(p, codec.Unsupported):
            raise codec.ProtocolError(
                f"packet type {p.packet_type} is not supported (QoS 2 / AUTH)", RC_PROTOCOL_ERROR
            )
        else:
            raise codec.ProtocolError(
                f"{type(p).__name__} is not sent by clients", RC_PROTOCOL_ERROR
            )

    async def _forbid(self, s: Session, why: str) -> None:
        # A publish the policy does not allow closes the connection (IoT behaviour).
        log.info("CLOSE %s: %s", s.describe(), why)
        await s.close(AUTH_ERROR, v5_code=RC_NOT_AUTHORIZED)

    async def _on_publish(self, s: Session, p: codec.Publish) -> None:
        if p.qos == 2:
            # IOT_FACTS section 4 (mqtt.html): QoS 2 is not supported; no PUBACK is sent.
            log.info("DROP publish %s topic=%s: QoS 2 is not supported", s.describe(), p.topic)
            return
        topic = p.topic
        if s.level == 5:
            alias = p.properties.get(Prop.TOPIC_ALIAS)
            if alias is not None:
                if not 1 <= alias <= TOPIC_ALIAS_MAXIMUM:
                    raise codec.ProtocolError(
                        f"topic alias {alias} out of range", RC_TOPIC_ALIAS_INVALID
                    )
                if topic:
                    s.aliases[alias] = topic
                else:
                    found = s.aliases.get(alias)
                    if found is None:
                        raise codec.ProtocolError(f"unknown topic alias {alias}", RC_PROTOCOL_ERROR)
                    topic = found
        err = topic_name_error(topic)
        if err:
            log.info("CLOSE %s: publish to an invalid topic: %s", s.describe(), err)
            await s.close(CLIENT_ERROR, v5_code=RC_TOPIC_NAME_INVALID)
            return
        if len(p.payload) > MAX_PAYLOAD_BYTES:
            log.info("CLOSE %s: payload of %d bytes exceeds 128 KB", s.describe(), len(p.payload))
            await s.close(CLIENT_ERROR, v5_code=RC_PACKET_TOO_LARGE)
            return
        if topic.startswith("$") and not topic.startswith(ALLOWED_RESERVED_PREFIXES):
            await self._forbid(s, f"publish to reserved topic {topic}")
            return
        ok, decision = await s.allowed("iot:Publish", f"topic/{topic}", f"topic={topic}")
        if not ok:
            await self._forbid(s, f"iot:Publish on topic/{topic}: {decision}")
            return
        if p.retain:
            ok, decision = await s.allowed("iot:RetainPublish", f"topic/{topic}", f"topic={topic}")
            if not ok:
                await self._forbid(s, f"iot:RetainPublish on topic/{topic}: {decision}")
                return
        if p.qos == 1:
            assert p.packet_id is not None
            s.send_packet(codec.Puback(p.packet_id))
        if topic.startswith(BASIC_INGEST_PREFIX):
            return  # Basic Ingest goes to the rules engine only, never to subscribers
        props = _message_props(p.properties) if s.level == 5 else codec.Properties()
        expiry = props.get(Prop.MESSAGE_EXPIRY_INTERVAL)
        expires_at = self.config.clock.monotonic() + expiry if expiry is not None else None
        msg = Message(topic, p.payload, p.qos, p.retain, props, expires_at)
        if p.retain:
            self._store_retained(msg)
        self.route(msg, s)

    async def _on_subscribe(self, s: Session, p: codec.Subscribe) -> None:
        v5 = s.level == 5
        if len(p.requests) > MAX_FILTERS_PER_SUBSCRIBE:
            # IOT_FACTS section 4: 8 filters per SUBSCRIBE. What IoT does beyond that is
            # unverified: the emulator treats it as a client error.
            log.info("CLOSE %s: %d filters in one SUBSCRIBE (max 8)", s.describe(), len(p.requests))
            await s.close(CLIENT_ERROR, v5_code=RC_QUOTA_EXCEEDED)
            return
        if any(r.qos == 2 for r in p.requests):
            # IOT_FACTS section 4 (mqtt.html): no SUBACK when QoS 2 is requested.
            log.info("DROP subscribe %s: QoS 2 requested, no SUBACK (as IoT)", s.describe())
            return
        codes: list[int] = []
        granted: list[str] = []
        retained_out: list[tuple[str, SubOptions]] = []
        for r in p.requests:
            f = r.topic_filter
            err = topic_filter_error(f)
            if err:
                log.info("DENY subscribe %s filter=%s: %s", s.describe(), f, err)
                codes.append(RC_TOPIC_FILTER_INVALID if v5 else 0x80)
                continue
            ok, _ = await s.allowed("iot:Subscribe", f"topicfilter/{f}", f"filter={f}")
            if s.closing:
                return
            if not ok:
                codes.append(RC_NOT_AUTHORIZED if v5 else 0x80)
                continue
            is_new = f not in s.subscriptions
            if is_new and len(s.subscriptions) >= MAX_SUBSCRIPTIONS:
                log.info(
                    "DENY subscribe %s filter=%s: 50 subscriptions per connection", s.describe(), f
                )
                codes.append(RC_QUOTA_EXCEEDED if v5 else 0x80)
                continue
            opts = SubOptions(min(r.qos, 1), r.no_local and v5, r.retain_as_published and v5)
            s.subscriptions[f] = opts
            self._index(f).setdefault(f, {})[s] = opts
            codes.append(opts.qos)
            granted.append(f)
            # Retained messages are not sent to wildcard subscriptions (IOT_FACTS section 4).
            if not is_wildcard(f) and (
                r.retain_handling == 0 or (r.retain_handling == 1 and is_new)
            ):
                retained_out.append((f, opts))
        s.send_packet(codec.Suback(p.packet_id, codes))
        for f, opts in retained_out:
            msg = self.retained.get(f)
            if msg is not None:
                s.deliver(msg, min(msg.qos, opts.qos), True)
        if granted:
            self.lifecycle("subscribed", s, topics=granted)

    def _on_unsubscribe(self, s: Session, p: codec.Unsubscribe) -> None:
        codes: list[int] = []
        removed: list[str] = []
        for f in p.filters:
            if s.subscriptions.pop(f, None) is not None:
                self._index_remove(f, s)
                codes.append(0)
                removed.append(f)
            else:
                codes.append(RC_NO_SUBSCRIPTION)
        s.send_packet(codec.Unsuback(p.packet_id, codes))
        if removed:
            log.info("UNSUBSCRIBE %s filters=%s", s.describe(), ",".join(removed))
            self.lifecycle("unsubscribed", s, topics=removed)
