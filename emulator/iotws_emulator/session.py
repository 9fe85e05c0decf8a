"""One MQTT connection: its state, authorization cache, outbound queue and in-flight QoS 1
messages, timers and close.

Public interface (used by the broker and the packet handler):

- `Session.deliver(msg, qos, retain)`: queue a message for the client. `iot:Receive` is
  checked in the writer task when the message goes out, so a slow or refreshing receiver
  never holds up a publisher.
- `Session.send_packet(packet)`: queue a control packet (CONNACK, SUBACK, ...).
- `Session.allowed(action, resource, what)`: policy check with a per-connection cache and
  one log line per new decision; refreshes the grant first once `refreshAfterInSeconds`
  has passed (custom-auth-lambda.html).
- `Session.acknowledge(packet_id)`: a PUBACK from the client frees an in-flight slot.
- `Session.start_tasks()`, `Session.close(reason, ...)`.

The session talks to its broker through `SessionHost` only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Protocol

from iotws.iot.facts import (
    AUTH_ERROR,
    BYTES_PER_SECOND,
    CONNECTION_LOST,
    CUSTOMAUTH_TTL_EXPIRATION,
    KEEPALIVE_MAX,
    MAX_INFLIGHT,
    MQTT_KEEP_ALIVE_TIMEOUT,
    PUBLISHES_PER_SECOND,
    THROTTLED,
)
from iotws_emulator import codec
from iotws_emulator.auth import AuthRefused, RequestInfo
from iotws_emulator.authn import Grant
from iotws_emulator.codec import Prop
from iotws_emulator.config import EmulatorConfig
from iotws_emulator.limits import (
    KEEPALIVE_GRACE,
    RC_KEEP_ALIVE_TIMEOUT,
    RC_MAX_CONNECT_TIME,
    RC_NOT_AUTHORIZED,
    RC_QUOTA_EXCEEDED,
)
from iotws_emulator.policy import ALLOWED

log = logging.getLogger("iotws.emulator")


class Transport(Protocol):
    async def send(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


class SessionHost(Protocol):
    """What a session needs from its broker."""

    config: EmulatorConfig

    def spawn(self, coro: Awaitable[Any]) -> None: ...

    def detach(self, s: Session) -> None:
        """Forget the session's client id and subscriptions (it is closing)."""
        ...

    def session_ended(
        self, s: Session, reason: str, *, client_initiated: bool, publish_will: bool
    ) -> None:
        """The connection is closed: will message and `disconnected` lifecycle event."""
        ...

    def decided(self, s: Session, action: str, resource: str, allowed: bool, reason: str) -> None:
        """An authorization decision was made for `s` (observers: the local console)."""
        ...


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
        self,
        level: int,
        qos: int,
        retain: bool,
        packet_id: int | None,
        now: float,
        dup: bool = False,
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
            first = 0x32 | (0x01 if retain else 0) | (0x08 if dup else 0)
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
            codec.Publish(self.topic, self.payload, qos, retain, dup, packet_id, props), level
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
class Delivery:
    msg: Message
    qos: int
    retain: bool
    dup: bool = False  # a redelivery of an unacknowledged QoS 1 message
    packet_id: int | None = None  # its original packet id (MQTT 3.1.1 section 4.4)


class StoredSession:
    """A persistent session whose client is offline (mqtt-persistent-sessions.html): its
    subscriptions stay in the broker's index with this object as the subscriber, and QoS 1
    messages routed to it are stored until the client resumes or the session expires. QoS 0
    messages are not stored.
    """

    def __init__(
        self,
        client_id: str,
        subscriptions: dict[str, SubOptions],
        pending: deque[Delivery],
        expiry: int,
        limit: int,
    ) -> None:
        self.client_id = client_id
        self.subscriptions = subscriptions
        self.pending = pending
        self.expiry = expiry
        self.limit = limit
        self.dropped = 0
        self.expiry_task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<StoredSession {self.client_id} pending={len(self.pending)}>"

    def deliver(self, msg: Message, qos: int, retain: bool) -> None:
        if qos == 0:
            return
        if len(self.pending) >= self.limit:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.info(
                    "DROP stored message client=%s topic=%s: %d messages already stored "
                    "for the offline session",
                    self.client_id,
                    msg.topic,
                    self.limit,
                )
            return
        self.pending.append(Delivery(msg, qos, retain))


def message_props(props: codec.Properties) -> codec.Properties:
    """The MQTT 5 properties of a PUBLISH that travel with the message to subscribers."""
    out = codec.Properties()
    for p in codec.MESSAGE_PROPS:
        if p in props.values:
            out.values[p] = props.values[p]
    out.user = list(props.user)
    return out


class Session:
    """One MQTT connection."""

    def __init__(self, host: SessionHost, transport: Transport, info: RequestInfo) -> None:
        self.host = host
        self.config = host.config
        self.transport = transport
        self.info = info
        self.connection_id = str(uuid.uuid4())
        self.session_identifier = str(uuid.uuid4())
        self.level = 4
        self.client_id = ""
        self.principal = ""
        self.profile: str | None = None
        self.grant: Grant | None = None
        self.connected = False
        self.connected_at: float | None = None  # wall-clock time of the accepted CONNECT
        self.closing = False
        self.version_number = 0
        self.subscriptions: dict[str, SubOptions] = {}
        self.will: codec.Will | None = None
        self.keep_alive = KEEPALIVE_MAX
        self.last_seen = self.config.keepalive_clock.monotonic()
        self.refresh_at = 0.0
        self.aliases: dict[int, str] = {}
        self.variables: dict[str, str] = {}
        self._decisions: dict[tuple[str, str], bool] = {}
        self._refresh_lock = asyncio.Lock()
        self._out: deque[bytes | Delivery] = deque()
        self._out_bytes = 0
        self._wake = asyncio.Event()
        self._inflight: dict[int, Delivery] = {}
        self.receive_maximum = MAX_INFLIGHT  # MQTT 5: min(IoT's 100, the client's)
        self.max_packet_out: int | None = None  # MQTT 5: the client's Maximum Packet Size
        self.session_expiry = 0  # seconds the session outlives the connection; 0: clean
        self.resume: deque[Delivery] = deque()  # stored messages still to deliver
        self._rate_at = self.config.keepalive_clock.monotonic()
        self._publish_tokens = float(PUBLISHES_PER_SECOND)
        self._byte_tokens = float(BYTES_PER_SECOND)
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

    def _push(self, item: bytes | Delivery) -> None:
        if self.closing:
            return
        size = len(item) if isinstance(item, bytes) else len(item.msg.payload) + 64
        if self._out_bytes + size > self.config.outbound_limit_bytes:
            # A receiver that does not keep up. IoT throttles such clients; the exact
            # behaviour is unverified: the emulator disconnects with THROTTLED.
            self.host.spawn(self.close(THROTTLED, v5_code=RC_QUOTA_EXCEEDED))
            return
        self._out_bytes += size
        self._out.append(item)
        self._wake.set()

    def deliver(self, msg: Message, qos: int, retain: bool) -> None:
        self._push(Delivery(msg, qos, retain))

    def acknowledge(self, packet_id: int) -> None:
        if self._inflight.pop(packet_id, None) is not None:
            self._inflight_free.set()

    def drop_inflight(self) -> None:
        self._inflight.clear()
        self._inflight_free.set()

    def take_unfinished(self) -> deque[Delivery]:
        """QoS 1 messages not yet acknowledged (as DUP redeliveries with their packet ids),
        then stored ones not yet replayed, then QoS 1 messages still queued: what a
        persistent session keeps when its connection ends."""
        out: deque[Delivery] = deque()
        for pid, d in self._inflight.items():
            out.append(Delivery(d.msg, 1, d.retain, True, pid))
        out.extend(self.resume)
        for item in self._out:
            if isinstance(item, Delivery) and item.qos:
                out.append(item)
        self.resume = deque()
        self.drop_inflight()
        return out

    def over_rate(self, nbytes: int) -> str | None:
        """Why one more inbound PUBLISH of `nbytes` exceeds IoT's per-connection throttles
        (100 publishes and 512 KB per second, token buckets refilled continuously in real
        time, one second of burst), or None."""
        now = self.config.keepalive_clock.monotonic()
        elapsed = now - self._rate_at
        self._rate_at = now
        self._publish_tokens = min(
            float(PUBLISHES_PER_SECOND), self._publish_tokens + elapsed * PUBLISHES_PER_SECOND
        )
        self._byte_tokens = min(
            float(BYTES_PER_SECOND), self._byte_tokens + elapsed * BYTES_PER_SECOND
        )
        if self._publish_tokens < 1:
            return f"more than {PUBLISHES_PER_SECOND} publishes per second"
        if self._byte_tokens < nbytes:
            return f"more than {BYTES_PER_SECOND // 1024} KB per second"
        self._publish_tokens -= 1
        self._byte_tokens -= nbytes
        return None

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
            self.host.spawn(self.close(CONNECTION_LOST))

    async def _write_loop(self) -> None:
        out = self._out
        clock = self.config.clock
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
                    limit = self.receive_maximum
                    if len(self._inflight) >= limit:
                        # mqtt.html: at most 100 unacknowledged QoS 1 messages (MQTT 5: or
                        # the client's Receive Maximum, when lower).
                        if batch:
                            await self.transport.send(bytes(batch))
                            batch = bytearray()
                        while len(self._inflight) >= limit:
                            self._inflight_free.clear()
                            await self._inflight_free.wait()
                    pid = item.packet_id
                    if pid is None or pid in self._inflight:
                        pid = self._packet_id()
                    self._inflight[pid] = item
                data = msg.encode(self.level, item.qos, item.retain, pid, now, item.dup)
                if self.max_packet_out is not None and len(data) > self.max_packet_out:
                    # MQTT 5 section 3.1.2.11.4: a packet larger than the client's Maximum
                    # Packet Size is discarded as if it had been delivered.
                    log.info(
                        "DROP %s topic=%s: %d bytes exceed the client's Maximum Packet Size %d",
                        self.describe(),
                        msg.topic,
                        len(data),
                        self.max_packet_out,
                    )
                    if pid is not None:
                        self.acknowledge(pid)
                    continue
                batch += data
            if batch:
                await self.transport.send(bytes(batch))

    # ----------------------------------------------------------------- authorization

    def set_grant(self, grant: Grant) -> None:
        self.grant = grant
        self.principal = grant.principal
        self.profile = grant.profile
        self.refresh_at = self.config.clock.monotonic() + grant.refresh_after

    def check(self, action: str, resource: str) -> tuple[bool, str]:
        """The policy's answer now, without refresh, cache or log."""
        if not self.config.enforce:
            return True, ALLOWED
        assert self.grant is not None
        result = self.grant.policy.evaluate(action, self.config.arn(resource), self.variables)
        return result == ALLOWED, result

    async def _ensure_fresh(self) -> bool:
        """Invoke the authorizer again once `refreshAfterInSeconds` has passed
        (custom-auth-lambda.html: the gateway caches the policy that long)."""
        if self.config.clock.monotonic() < self.refresh_at or self.closing:
            return not self.closing
        async with self._refresh_lock:
            if self.config.clock.monotonic() < self.refresh_at:
                return True
            assert self.grant is not None
            try:
                grant = await self.grant.refresh()
            except AuthRefused as exc:
                log.info("DENY refresh %s: %s", self.describe(), exc)
                self.host.spawn(self.close(AUTH_ERROR, v5_code=RC_NOT_AUTHORIZED))
                return False
            self.set_grant(grant)
            self._decisions.clear()
            log.info(
                "ALLOW refresh %s principal=%s%s next_refresh=%ss",
                self.describe(),
                self.principal,
                f" profile={self.profile}" if self.profile else "",
                grant.refresh_after,
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
        ok, result = self.check(action, resource)
        if len(self._decisions) >= 4096:
            self._decisions.clear()
        self._decisions[key] = ok
        self.host.decided(self, action, resource, ok, result)
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
        if self.grant is not None:
            self._tasks.append(asyncio.create_task(self._ttl_timer(self.grant.disconnect_after)))
            if self.grant.refreshable:
                self._tasks.append(asyncio.create_task(self._refresh_timer()))
        if self.resume:
            self._tasks.append(asyncio.create_task(self._replay()))

    async def _replay(self) -> None:
        # mqtt-persistent-sessions.html: on resume, stored messages are sent at a maximum
        # rate of 10 messages per second.
        kclock = self.config.keepalive_clock
        while self.resume:
            self._push(self.resume.popleft())
            if self.resume:
                await kclock.sleep(0.1)

    async def _keepalive_watchdog(self) -> None:
        # mqtt.html: dropped after 1.5 times the (clamped) keep-alive.
        kclock = self.config.keepalive_clock
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

    async def _refresh_timer(self) -> None:
        # custom-auth-lambda.html: the gateway calls the authorizer again every
        # refreshAfterInSeconds, whatever the client sends (a client that only pings is
        # re-authorized too); a denial ends the connection.
        clock = self.config.clock
        while not self.closing:
            await clock.sleep(max(0.0, self.refresh_at - clock.monotonic()))
            if not await self._ensure_fresh():
                return

    async def _ttl_timer(self, seconds: int) -> None:
        # custom-auth-lambda.html: a hard cap on the connection's life, not extended by
        # refreshes.
        await self.config.clock.sleep(seconds)
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
        self.host.detach(self)
        if v5_code is not None and self.level == 5 and self.connected:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    self.transport.send(codec.encode(codec.Disconnect(v5_code), 5)), 1.0
                )
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.transport.close(), 3.0)
        if self.connected:
            self.host.session_ended(
                self, reason, client_initiated=client_initiated, publish_will=publish_will
            )
        self.closed.set()
