"""The IoT Core message broker: client registry, routing, retained messages, lifecycle
events, and the two seams a rules engine uses.

One `Broker` per emulator. Each MQTT connection is a `Session` (session.py) driven by the
packet handler (handler.py); authentication is in authn.py.

Seams for server-side code (a local rules engine, in-process Lambdas):

- **Observe every message**: `Broker.add_listener(callback)` registers
  `callback(published: Published) -> None`, called on the broker's event loop for every
  message the broker accepts: client PUBLISHes (after the policy allowed them, including
  Basic Ingest `$aws/rules/...` topics that no subscriber receives), wills, `POST /topics`,
  lifecycle events (`$aws/events/...`) and messages published with `Broker.publish`.
  `Published` carries the topic, payload, QoS, retain flag, the publishing client id and
  principal (None when the message does not come from an MQTT client) and a `source`
  (`"mqtt"`, `"will"`, `"http"`, `"lifecycle"` or the name given to `publish`). Listeners
  must not block: run slow work in a task or a thread. A listener that raises is logged and
  the others still run.
- **Publish from the server**: `Broker.publish(topic, payload, qos=0, retain=False,
  source="server")` routes a message to subscribers (each delivery still needs
  `iot:Receive`), stores it when retained and tells the listeners; it returns the number of
  subscribers and raises ValueError/PermissionError/OverflowError on a bad topic, QoS or
  size, like IoT's HTTPS Publish API (API_iotdata_Publish.html). Call it on the broker's
  loop; from another thread use `Broker.publish_threadsafe`.

AWS behaviour implemented here cites its AWS page; where AWS documents nothing the
choice is marked "unverified".
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from iotws.iot.facts import (
    BASIC_INGEST_PREFIX,
    CLIENT_PUBLISHABLE_RESERVED_PREFIXES,
    MAX_PAYLOAD_BYTES,
    SERVER_INITIATED_DISCONNECT,
)
from iotws.iot.topics import is_wildcard, matches, shared_parts, topic_name_error
from iotws_emulator import codec
from iotws_emulator.auth import RequestInfo
from iotws_emulator.authn import Authenticator
from iotws_emulator.codec import Prop
from iotws_emulator.config import EmulatorConfig
from iotws_emulator.handler import MqttHandler
from iotws_emulator.limits import RC_SERVER_SHUTTING_DOWN
from iotws_emulator.session import (
    Message,
    Session,
    StoredSession,
    SubOptions,
    Transport,
    message_props,
)

log = logging.getLogger("iotws.emulator")


@dataclass(frozen=True)
class Published:
    """One message the broker accepted (see the module docstring)."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    client_id: str | None
    principal: str | None
    source: str
    user_properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Decided:
    """One authorization decision: the session it was made for, the action and resource
    (`client/{id}`, `topic/{name}`, `topicfilter/{filter}`), the answer and the reason
    (the evaluator's result, or why a CONNECT was refused before any policy was read)."""

    session: Session
    action: str
    resource: str
    allowed: bool
    reason: str


Listener = Callable[[Published], None]
DecisionListener = Callable[[Decided], None]
Subscriber = Session | StoredSession


class Broker:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.clients: dict[str, Session] = {}
        self.sessions: set[Session] = set()
        self._exact: dict[str, dict[Subscriber, SubOptions]] = {}
        self._wild: dict[str, dict[Subscriber, SubOptions]] = {}
        # shared subscriptions: full `$share/{name}/{filter}` -> members, in join order
        self._shared: dict[str, dict[Subscriber, SubOptions]] = {}
        self._shared_next: dict[str, int] = {}  # round-robin position per shared filter
        self.stored: dict[str, StoredSession] = {}  # persistent sessions of offline clients
        self.retained: dict[str, Message] = {}
        self._versions: dict[str, int] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._listeners: list[Listener] = []
        self._decision_listeners: list[DecisionListener] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.stats = {"connections": 0, "refused": 0, "protocol_errors": 0}
        self.authenticator = Authenticator(config)
        self.handler = MqttHandler(self)

    # ----------------------------------------------------------------- helpers

    def spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def add_listener(self, listener: Listener) -> None:
        """Call `listener` for every message the broker accepts (module docstring)."""
        self._listeners.append(listener)

    def add_decision_listener(self, listener: DecisionListener) -> None:
        """Call `listener` for every new authorization decision (CONNECT, and each
        Publish/Subscribe/Receive decision a session makes before caching it)."""
        self._decision_listeners.append(listener)

    def decided(self, s: Session, action: str, resource: str, allowed: bool, reason: str) -> None:
        if not self._decision_listeners:
            return
        record = Decided(s, action, resource, allowed, reason)
        for listener in list(self._decision_listeners):
            try:
                listener(record)
            except Exception:  # noqa: BLE001 - an observer's failure never stops a decision
                log.exception("decision listener %r failed", listener)

    def _notify(self, msg: Message, origin: Session | None, source: str) -> None:
        if not self._listeners:
            return
        published = Published(
            topic=msg.topic,
            payload=msg.payload,
            qos=msg.qos,
            retain=msg.retain,
            client_id=origin.client_id if origin is not None else None,
            principal=origin.principal if origin is not None else None,
            source=source,
            user_properties=tuple(msg.props.user),
        )
        for listener in list(self._listeners):
            try:
                listener(published)
            except Exception:  # noqa: BLE001 - one listener's failure never stops routing
                log.exception("listener %r failed on topic=%s", listener, msg.topic)

    # ----------------------------------------------------------------- registry

    def register(self, s: Session) -> None:
        self.sessions.add(s)

    def detach(self, s: Session) -> None:
        self.sessions.discard(s)
        owner = self.clients.get(s.client_id) is s
        if owner:
            del self.clients[s.client_id]
        if owner and s.connected and s.session_expiry > 0:
            self._store(s)
            return
        for f in s.subscriptions:
            self.index_remove(f, s)
        s.drop_inflight()

    # ----------------------------------------------------------------- persistent sessions

    def _store(self, s: Session) -> None:
        """Keep a persistent session whose connection ended (mqtt-persistent-sessions.html):
        its subscriptions stay indexed and QoS 1 messages are stored until it resumes or
        expires."""
        stored = StoredSession(
            s.client_id,
            dict(s.subscriptions),
            s.take_unfinished(),
            s.session_expiry,
            self.config.max_stored_messages,
        )
        for f, opts in stored.subscriptions.items():
            self.index_remove(f, s)
            self.index_add(f, stored, opts)
        self.stored[s.client_id] = stored
        stored.expiry_task = asyncio.ensure_future(self._expire(stored))
        log.info(
            "STORE session client=%s subscriptions=%d pending=%d expiry=%ds",
            s.client_id,
            len(stored.subscriptions),
            len(stored.pending),
            stored.expiry,
        )

    async def _expire(self, stored: StoredSession) -> None:
        await self.config.clock.sleep(stored.expiry)
        if self.stored.get(stored.client_id) is stored:
            log.info(
                "EXPIRE session client=%s: not resumed within %ds; %d stored messages discarded",
                stored.client_id,
                stored.expiry,
                len(stored.pending),
            )
            self.end_stored(stored)

    def end_stored(self, stored: StoredSession) -> None:
        """Discard a stored session (expired, or a clean start for its client id)."""
        if self.stored.get(stored.client_id) is stored:
            del self.stored[stored.client_id]
        for f in stored.subscriptions:
            self.index_remove(f, stored)
        if stored.expiry_task is not None and stored.expiry_task is not asyncio.current_task():
            stored.expiry_task.cancel()

    def resume(self, s: Session, stored: StoredSession) -> None:
        """Give a stored session to a new connection of its client."""
        self.stored.pop(stored.client_id, None)
        if stored.expiry_task is not None:
            stored.expiry_task.cancel()
        for f, opts in stored.subscriptions.items():
            self.index_remove(f, stored)
            self.index_add(f, s, opts)
        s.subscriptions = dict(stored.subscriptions)
        s.resume = stored.pending

    def session_ended(
        self, s: Session, reason: str, *, client_initiated: bool, publish_will: bool
    ) -> None:
        if s.will is not None and publish_will:
            delay = s.will.properties.get(Prop.WILL_DELAY_INTERVAL, 0) if s.level == 5 else 0
            # MQTT 5 section 3.1.3.2.2: the will is published when the Will Delay Interval
            # has passed or the session ends, whichever is first, and not at all when the
            # client connects again before that.
            delay = min(delay, s.session_expiry)
            if delay > 0:
                self.spawn(self._delayed_will(s, s.will, delay, self._versions.get(s.client_id)))
            else:
                self.publish_will(s, s.will)
        self.lifecycle(
            "disconnected",
            s,
            clientInitiatedDisconnect=client_initiated,
            disconnectReason=reason,
        )
        log.info("DISCONNECT %s reason=%s", s.describe(), reason)

    async def _delayed_will(
        self, s: Session, will: codec.Will, delay: int, version: int | None
    ) -> None:
        await self.config.clock.sleep(delay)
        if self._versions.get(s.client_id) == version:
            self.publish_will(s, will)
        else:
            log.info("DROP will %s: the client connected again within %ds", s.describe(), delay)

    def next_version(self, client_id: str) -> int:
        self._versions[client_id] = self._versions.get(client_id, 0) + 1
        return self._versions[client_id]

    def _index(self, f: str) -> dict[str, dict[Subscriber, SubOptions]]:
        if shared_parts(f) is not None:
            return self._shared
        return self._wild if is_wildcard(f) else self._exact

    def index_add(self, f: str, s: Subscriber, opts: SubOptions) -> None:
        self._index(f).setdefault(f, {})[s] = opts

    def index_remove(self, f: str, s: Subscriber) -> None:
        idx = self._index(f)
        subs = idx.get(f)
        if subs is not None:
            subs.pop(s, None)
            if not subs:
                del idx[f]

    # ----------------------------------------------------------------- routing

    def route(self, msg: Message, origin: Session | None = None) -> int:
        """Queue `msg` for every matching subscriber; `iot:Receive` is checked per delivery."""
        targets: dict[Subscriber, SubOptions] = {}
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
        # Shared subscriptions (mqtt.html "MQTT 5 supported features"): each message goes
        # to one member of the group, in turn. iot:Receive is checked for that member.
        for f, members in self._shared.items():
            parts = shared_parts(f)
            if parts is None or not members or not matches(parts[1], msg.topic):
                continue
            turn = self._shared_next.get(f, 0) % len(members)
            self._shared_next[f] = turn + 1
            s, o = list(members.items())[turn]
            s.deliver(msg, min(msg.qos, o.qos), msg.retain and o.retain_as_published)
            n += 1
        return n

    def dispatch(self, msg: Message, origin: Session | None, source: str) -> int:
        """Store a retained message, tell the listeners, route to subscribers (Basic Ingest
        topics go to the rules engine only, never to subscribers: iot-basic-ingest.html)."""
        if msg.topic.startswith(BASIC_INGEST_PREFIX):
            self._notify(msg, origin, source)
            return 0
        if msg.retain:
            self._store_retained(msg)
        self._notify(msg, origin, source)
        return self.route(msg, origin)

    def lifecycle(self, event_type: str, s: Session, **extra: Any) -> None:
        """Publish a lifecycle event (life-cycle-events.html)."""
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
        self.dispatch(Message(topic, body, 1, False, codec.Properties()), None, "lifecycle")

    def publish_will(self, s: Session, will: codec.Will) -> None:
        """Publish the last will of a connection that ended without DISCONNECT, checked
        against the policy the connection held (it is closing, so no refresh)."""
        if topic_name_error(will.topic) or will.topic.startswith("$"):
            return
        ok, decision = s.check("iot:Publish", f"topic/{will.topic}")
        if will.retain and ok:
            ok, decision = s.check("iot:RetainPublish", f"topic/{will.topic}")
        if not ok:
            log.info("DENY will %s topic=%s: %s", s.describe(), will.topic, decision)
            return
        props = message_props(will.properties)
        msg = Message(will.topic, will.payload, min(will.qos, 1), will.retain, props)
        log.info("PUBLISH will %s topic=%s", s.describe(), will.topic)
        self.dispatch(msg, s, "will")

    def _store_retained(self, msg: Message) -> None:
        # topics.html: one retained message per topic; an empty payload deletes it.
        if msg.payload:
            self.retained[msg.topic] = Message(
                msg.topic, msg.payload, msg.qos, True, msg.props, msg.expires_at
            )
        else:
            self.retained.pop(msg.topic, None)

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 0,
        retain: bool = False,
        *,
        source: str = "server",
    ) -> int:
        """Publish from server-side code (module docstring); returns the subscriber count.
        Raises ValueError, PermissionError or OverflowError on a request IoT refuses."""
        err = topic_name_error(topic)
        if err:
            raise ValueError(err)
        if topic.startswith("$") and not topic.startswith(CLIENT_PUBLISHABLE_RESERVED_PREFIXES):
            raise PermissionError(f"topic {topic!r} is reserved")
        if qos not in (0, 1):
            raise ValueError("qos must be 0 or 1")
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise OverflowError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
        msg = Message(topic, payload, qos, retain, codec.Properties())
        return self.dispatch(msg, None, source)

    def publish_threadsafe(
        self, topic: str, payload: bytes, qos: int = 0, retain: bool = False, *, source: str
    ) -> Future[int]:
        """`publish` from another thread (an in-process Lambda); the future has the result."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the broker is not running")

        async def run() -> int:
            return self.publish(topic, payload, qos, retain, source=source)

        return asyncio.run_coroutine_threadsafe(run(), loop)

    def backend_publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        """HTTPS publish (API_iotdata_Publish.html): authorised by IAM in AWS, not by IoT
        policy. Receive is still checked for each subscriber. Raises ValueError on a bad
        request."""
        n = self.publish(topic, payload, qos, retain, source="http")
        log.info(
            "PUBLISH http topic=%s qos=%d retain=%s bytes=%d subscribers=%d",
            topic,
            qos,
            retain,
            len(payload),
            n,
        )

    # ----------------------------------------------------------------- connections

    def bind_loop(self) -> None:
        """Remember the running loop (for `publish_threadsafe`)."""
        self._loop = asyncio.get_running_loop()

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
        await self.handler.serve(transport, info, chunks)
