"""The MQTT packet handler: one connection from CONNECT to close.

`MqttHandler.serve` reads packets from a transport, authenticates the CONNECT through the
broker's `Authenticator` (authn.py), enforces the policy on PUBLISH and SUBSCRIBE, and hands
accepted messages to the broker for routing. Limits and reason codes are in limits.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from iotws.iot.facts import (
    AUTH_ERROR,
    CLIENT_ERROR,
    CLIENT_ID_MAX_BYTES,
    CLIENT_INITIATED_DISCONNECT,
    CLIENT_PUBLISHABLE_RESERVED_PREFIXES,
    CONNECTION_LOST,
    CONNECTS_PER_SECOND_PER_CLIENT_ID,
    DUPLICATE_CLIENTID,
    KEEPALIVE_MAX,
    KEEPALIVE_MIN,
    MAX_FILTERS_PER_SUBSCRIBE,
    MAX_INFLIGHT,
    MAX_PAYLOAD_BYTES,
    MAX_SUBSCRIPTIONS,
    SERVER_ERROR,
    SERVER_INITIATED_DISCONNECT,
    THROTTLED,
    TOPIC_ALIAS_MAXIMUM,
)
from iotws.iot.topics import (
    is_wildcard,
    shared_filter_error,
    shared_parts,
    topic_filter_error,
    topic_name_error,
)
from iotws_emulator import codec
from iotws_emulator.auth import RequestInfo
from iotws_emulator.authn import ConnectRefused, ConnectRequest
from iotws_emulator.codec import Prop
from iotws_emulator.limits import (
    MAX_PACKET_BYTES,
    RC_CLIENT_ID_INVALID,
    RC_CONNECTION_RATE_EXCEEDED,
    RC_MESSAGE_RATE_TOO_HIGH,
    RC_NO_SUBSCRIPTION,
    RC_NOT_AUTHORIZED,
    RC_PACKET_TOO_LARGE,
    RC_PROTOCOL_ERROR,
    RC_QUOTA_EXCEEDED,
    RC_SERVER_SHUTTING_DOWN,
    RC_SESSION_TAKEN_OVER,
    RC_TOPIC_ALIAS_INVALID,
    RC_TOPIC_FILTER_INVALID,
    RC_TOPIC_NAME_INVALID,
    RC_UNSPECIFIED,
    V3_IDENTIFIER_REJECTED,
    V3_NOT_AUTHORIZED,
    V3_SERVER_UNAVAILABLE,
)
from iotws_emulator.session import Message, Session, SubOptions, Transport, message_props

if TYPE_CHECKING:  # the broker owns the handler; imported for types only
    from iotws_emulator.broker import Broker

log = logging.getLogger("iotws.emulator")


class MqttHandler:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.config = broker.config
        self._connect_times: dict[str, float] = {}  # client id -> last CONNECT (real time)

    async def serve(
        self, transport: Transport, info: RequestInfo, chunks: AsyncIterator[bytes]
    ) -> None:
        """Run one connection until it ends. Never raises for client misbehaviour."""
        broker = self.broker
        s = Session(broker, transport, info)
        broker.register(s)
        decoder = codec.StreamDecoder(MAX_PACKET_BYTES)
        try:
            await self._serve(s, decoder, chunks)
        except codec.ProtocolError as exc:
            broker.stats["protocol_errors"] += 1
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
            await s.close(SERVER_ERROR, v5_code=RC_UNSPECIFIED)
        else:
            await s.close(CONNECTION_LOST)
        finally:
            broker.sessions.discard(s)

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

    # ----------------------------------------------------------------- CONNECT

    async def _refuse(self, s: Session, v3: int, v5: int, reason: str, *, lifecycle: bool) -> bool:
        self.broker.stats["refused"] += 1
        connack = codec.encode(codec.Connack(False, v5 if s.level == 5 else v3), s.level)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(s.transport.send(connack), 1.0)
        if lifecycle:
            self.broker.lifecycle("connect_failed", s, connectFailureReason="AUTHORIZATION_FAILED")
        log.info("DENY connect %s: %s", s.describe(), reason)
        self.broker.decided(s, "iot:Connect", f"client/{s.client_id}", False, reason)
        await s.close(AUTH_ERROR)
        return False

    async def _connect(self, s: Session, p: codec.Connect) -> bool:
        c = self.config
        broker = self.broker
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
        # mqtt.html: at most 128 bytes, no leading `$`.
        if len(cid.encode("utf-8")) > CLIENT_ID_MAX_BYTES or cid.startswith("$"):
            return await self._refuse(
                s,
                V3_IDENTIFIER_REJECTED,
                RC_CLIENT_ID_INVALID,
                "client id over 128 bytes or starting with $",
                lifecycle=False,
            )
        if c.throttle:
            # Quotas page: 1 CONNECT per second per client id (checked before the authorizer
            # runs). IoT's answer is unverified: MQTT 5 "Connection rate exceeded" (0x9F),
            # MQTT 3.1.1 "Server unavailable" (3).
            now = c.keepalive_clock.monotonic()
            last = self._connect_times.get(cid)
            if len(self._connect_times) > 100_000:
                self._connect_times.clear()
            self._connect_times[cid] = now
            if last is not None and now - last < 1.0 / CONNECTS_PER_SECOND_PER_CLIENT_ID:
                return await self._refuse(
                    s,
                    V3_SERVER_UNAVAILABLE,
                    RC_CONNECTION_RATE_EXCEEDED,
                    "more than 1 CONNECT per second for this client id (THROTTLED; "
                    "iotws emulate --no-throttle turns IoT's throttles off)",
                    lifecycle=False,
                )
        try:
            grant = await broker.authenticator.authenticate(
                ConnectRequest(s.info, p, cid, assigned, s.connection_id)
            )
        except ConnectRefused as exc:
            return await self._refuse(s, exc.v3, exc.v5, exc.reason, lifecycle=exc.lifecycle)
        s.set_grant(grant)
        s.variables = {
            "iot:ClientId": cid,
            "aws:SourceIp": s.info.source_ip,
            "iot:DomainName": c.server_name,
            **grant.variables,
        }
        ok, decision = s.check("iot:Connect", f"client/{cid}")
        if not ok:
            return await self._refuse(
                s,
                V3_NOT_AUTHORIZED,
                RC_NOT_AUTHORIZED,
                f"iot:Connect on client/{cid}: {decision}",
                lifecycle=True,
            )
        # Take over an existing connection with the same client id (mqtt.html).
        old = broker.clients.get(cid)
        if old is not None and old is not s:
            log.info("CLOSE %s: client id taken over by a new connection", old.describe())
            await old.close(DUPLICATE_CLIENTID, v5_code=RC_SESSION_TAKEN_OVER)
        broker.clients[cid] = s
        s.version_number = broker.next_version(cid)
        session_present = self._session(s, p)
        # mqtt.html: keep-alive 30..1200, 0 -> 1200.
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
                    Prop.SHARED_SUBSCRIPTION_AVAILABLE: 1,
                }
            )
            if s.keep_alive != p.keep_alive:
                props.values[Prop.SERVER_KEEP_ALIVE] = s.keep_alive
            if assigned:
                props.values[Prop.ASSIGNED_CLIENT_IDENTIFIER] = cid
            asked = p.properties.get(Prop.SESSION_EXPIRY_INTERVAL, 0)
            if asked != s.session_expiry:
                props.values[Prop.SESSION_EXPIRY_INTERVAL] = s.session_expiry
            receive_max = p.properties.get(Prop.RECEIVE_MAXIMUM)
            if receive_max:
                s.receive_maximum = min(MAX_INFLIGHT, receive_max)
            s.max_packet_out = p.properties.get(Prop.MAXIMUM_PACKET_SIZE)
        s.connected = True
        s.connected_at = time.time()
        broker.decided(s, "iot:Connect", f"client/{cid}", True, decision)
        s.send_packet(codec.Connack(session_present, 0, props))
        s.start_tasks()
        broker.stats["connections"] += 1
        log.info(
            "ALLOW connect %s principal=%s%s authorizer=%s keepalive=%ds mqtt=%s%s",
            s.describe(),
            s.principal,
            f" profile={s.profile}" if s.profile else "",
            grant.label,
            s.keep_alive,
            "5" if p.level == 5 else "3.1.1",
            (f" session=resumed({len(s.resume)} stored)" if session_present else " session=new")
            + (f" expiry={s.session_expiry}s" if s.session_expiry else ""),
        )
        broker.lifecycle("connected", s)
        return True

    def _session(self, s: Session, p: codec.Connect) -> bool:
        """Persistent sessions (mqtt-persistent-sessions.html, mqtt.html "MQTT 5 supported
        features"): MQTT 3.1.1 clean session 0 keeps the session for the configured expiry
        (1 hour by default); MQTT 5 keeps it for the client's Session Expiry Interval, at
        most that long. A clean start discards a stored session. Runs after iot:Connect was
        allowed, so a session is only resumed by a connection the policy still admits; each
        stored message still needs iot:Receive when it is delivered. Returns session present.
        """
        broker = self.broker
        limit = self.config.session_expiry
        if p.level == 5:
            asked = p.properties.get(Prop.SESSION_EXPIRY_INTERVAL, 0)
            s.session_expiry = min(asked, limit)
        else:
            s.session_expiry = 0 if p.clean_start else limit
        stored = broker.stored.get(s.client_id)
        if stored is None:
            return False
        if p.clean_start:
            log.info("END session client=%s: clean start", s.client_id)
            broker.end_stored(stored)
            return False
        broker.resume(s, stored)
        return True

    # ----------------------------------------------------------------- packets

    async def _handle(self, s: Session, p: codec.Packet) -> None:
        if isinstance(p, codec.Publish):
            await self._on_publish(s, p)
        elif isinstance(p, codec.Puback):
            s.acknowledge(p.packet_id)
        elif isinstance(p, codec.Subscribe):
            await self._on_subscribe(s, p)
        elif isinstance(p, codec.Unsubscribe):
            self._on_unsubscribe(s, p)
        elif isinstance(p, codec.Pingreq):
            s.send_packet(codec.Pingresp())
        elif isinstance(p, codec.Disconnect):
            expiry = p.properties.get(Prop.SESSION_EXPIRY_INTERVAL)
            if expiry is not None:
                # MQTT 5 section 3.14.2.2.2: a new expiry at DISCONNECT; a session that was
                # to end with the connection cannot be made persistent there.
                if s.session_expiry == 0 and expiry > 0:
                    raise codec.ProtocolError(
                        "DISCONNECT sets a session expiry on a session that had none",
                        RC_PROTOCOL_ERROR,
                    )
                s.session_expiry = min(expiry, self.config.session_expiry)
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
            # mqtt.html: QoS 2 is not supported; no PUBACK is sent.
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
        if self.config.throttle:
            over = s.over_rate(len(p.payload) + len(topic))
            if over is not None:
                # life-cycle-events.html: THROTTLED, "disconnected for exceeding a
                # throttling limit"; MQTT 5 DISCONNECT 0x96 "Message rate too high".
                log.info(
                    "CLOSE %s: %s (THROTTLED; iotws emulate --no-throttle turns IoT's "
                    "throttles off)",
                    s.describe(),
                    over,
                )
                await s.close(THROTTLED, v5_code=RC_MESSAGE_RATE_TOO_HIGH)
                return
        if topic.startswith("$") and not topic.startswith(CLIENT_PUBLISHABLE_RESERVED_PREFIXES):
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
        props = message_props(p.properties) if s.level == 5 else codec.Properties()
        expiry = props.get(Prop.MESSAGE_EXPIRY_INTERVAL)
        expires_at = self.config.clock.monotonic() + expiry if expiry is not None else None
        msg = Message(topic, p.payload, p.qos, p.retain, props, expires_at)
        self.broker.dispatch(msg, s, "mqtt")

    async def _on_subscribe(self, s: Session, p: codec.Subscribe) -> None:
        broker = self.broker
        v5 = s.level == 5
        if len(p.requests) > MAX_FILTERS_PER_SUBSCRIBE:
            # Quotas page: 8 filters per SUBSCRIBE. What IoT does beyond that is
            # unverified: the emulator treats it as a client error.
            log.info("CLOSE %s: %d filters in one SUBSCRIBE (max 8)", s.describe(), len(p.requests))
            await s.close(CLIENT_ERROR, v5_code=RC_QUOTA_EXCEEDED)
            return
        if any(r.qos == 2 for r in p.requests):
            # mqtt.html: no SUBACK when QoS 2 is requested.
            log.info("DROP subscribe %s: QoS 2 requested, no SUBACK (as IoT)", s.describe())
            return
        codes: list[int] = []
        granted: list[str] = []
        retained_out: list[tuple[str, SubOptions]] = []
        for r in p.requests:
            f = r.topic_filter
            shared = shared_parts(f) is not None
            err = shared_filter_error(f) if shared else topic_filter_error(f)
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
            opts = SubOptions(
                min(r.qos, 1), r.no_local and v5 and not shared, r.retain_as_published and v5
            )
            s.subscriptions[f] = opts
            broker.index_add(f, s, opts)
            codes.append(opts.qos)
            granted.append(f)
            # topics.html: retained messages are not sent to wildcard subscriptions.
            # MQTT 5 section 4.8.2: nor to shared subscriptions.
            if (
                not shared
                and not is_wildcard(f)
                and (r.retain_handling == 0 or (r.retain_handling == 1 and is_new))
            ):
                retained_out.append((f, opts))
        s.send_packet(codec.Suback(p.packet_id, codes))
        for f, opts in retained_out:
            msg = broker.retained.get(f)
            if msg is not None:
                s.deliver(msg, min(msg.qos, opts.qos), True)
        if granted:
            broker.lifecycle("subscribed", s, topics=granted)

    def _on_unsubscribe(self, s: Session, p: codec.Unsubscribe) -> None:
        codes: list[int] = []
        removed: list[str] = []
        for f in p.filters:
            if s.subscriptions.pop(f, None) is not None:
                self.broker.index_remove(f, s)
                codes.append(0)
                removed.append(f)
            else:
                codes.append(RC_NO_SUBSCRIPTION)
        s.send_packet(codec.Unsuback(p.packet_id, codes))
        if removed:
            log.info("UNSUBSCRIBE %s filters=%s", s.describe(), ",".join(removed))
            self.broker.lifecycle("unsubscribed", s, topics=removed)
