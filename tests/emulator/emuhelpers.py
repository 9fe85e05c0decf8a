"""Helpers for the emulator and end-to-end tests: stub authorizers, policies, a running
emulator handle, a paho-mqtt client wrapper and a raw MQTT client for hostile input."""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from iotws_emulator import codec
from iotws_emulator.server import Emulator, EmulatorThread

ARN = "arn:aws:iot:us-east-1:123456789012:"
AUTH_NAME = "test-authorizer"
REPO = Path(__file__).resolve().parents[2]
EXAMPLE_SPEC = REPO / "examples" / "custom-authorizer" / "access.yaml"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions: str | list[str], *resources: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": [ARN + r for r in resources]}


def deny(actions: str | list[str], *resources: str) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": actions, "Resource": [ARN + r for r in resources]}


def open_policy() -> dict[str, Any]:
    """Everything under `t/` and the lifecycle topics; `t/secret/*` is never received."""
    return policy(
        allow("iot:Connect", "client/*"),
        allow("iot:Subscribe", "topicfilter/t/*", "topicfilter/$aws/events/*", "topicfilter/#"),
        allow(["iot:Publish", "iot:Receive"], "topic/t/*", "topic/$aws/events/*"),
        allow("iot:RetainPublish", "topic/t/retained/*"),
        deny("iot:Receive", "topic/t/secret/*"),
    )


class StubAuthorizer:
    """A stand-in Lambda: returns `response(event)` and records every event."""

    def __init__(
        self,
        docs: list[Any] | Callable[[dict[str, Any], int], list[Any]] | None = None,
        *,
        response: dict[str, Any] | None = None,
        refresh: int = 3600,
        disconnect: int | Callable[[dict[str, Any]], int] = 86400,
        delay: float = 0.0,
        error: Exception | None = None,
    ) -> None:
        self.docs = docs if docs is not None else [open_policy()]
        self.response = response
        self.refresh = refresh
        self.disconnect = disconnect
        self.delay = delay
        self.error = error
        self.events: list[dict[str, Any]] = []
        self.contexts: list[Any] = []

    def invoke(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        self.events.append(json.loads(json.dumps(event)))
        self.contexts.append(context)
        if self.delay:
            time.sleep(self.delay)
        if self.error is not None:
            raise self.error
        if self.response is not None:
            return self.response
        docs = self.docs(event, len(self.events)) if callable(self.docs) else self.docs
        return {
            "isAuthenticated": True,
            "principalId": "stubPrincipal1",
            "disconnectAfterInSeconds": (
                self.disconnect(event) if callable(self.disconnect) else self.disconnect
            ),
            "refreshAfterInSeconds": self.refresh,
            "policyDocuments": docs,
        }


class Running:
    """A started emulator and helpers bound to it."""

    def __init__(self, thread: EmulatorThread) -> None:
        self.thread = thread
        self.emu: Emulator = thread.emulator
        self.port = self.emu.port
        self.tcp_port = self.emu.tcp_port
        self.broker = self.emu.broker

    def client(self, client_id: str = "c1", **kw: Any) -> PahoClient:
        kw.setdefault("query", f"x-amz-customauthorizer-name={AUTH_NAME}")
        port = self.tcp_port if kw.get("transport") == "tcp" else self.port
        return PahoClient(port, client_id, **kw)

    def raw(self) -> RawClient:
        assert self.tcp_port is not None
        return RawClient(self.tcp_port)


# --------------------------------------------------------------------------- paho


class PahoClient:
    """paho-mqtt 2.x over WebSockets (or TCP) with blocking helpers."""

    def __init__(
        self,
        port: int | None,
        client_id: str,
        *,
        query: str = "",
        protocol: int = 4,
        keepalive: int = 60,
        username: str | None = None,
        password: str | bytes | None = None,
        transport: str = "websockets",
        headers: dict[str, str] | None = None,
        will: tuple[str, bytes, int, bool] | None = None,
    ) -> None:
        assert port is not None
        self.port = port
        self.keepalive = keepalive
        self.v5 = protocol == 5
        self.c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            transport=transport,  # type: ignore[arg-type]
            protocol=mqtt.MQTTv5 if self.v5 else mqtt.MQTTv311,
        )
        if transport == "websockets":
            self.c.ws_set_options(path="/mqtt" + (f"?{query}" if query else ""), headers=headers)
        if username is not None or password is not None:
            self.c.username_pw_set(username, password)  # type: ignore[arg-type]
        if will is not None:
            self.c.will_set(*will)
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.acks: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.connack: Any = None
        self.connack_props: Any = None
        self.connected = threading.Event()
        self.connack_seen = threading.Event()
        self.disconnected = threading.Event()
        self.disconnect_reason: Any = None
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_message = lambda c, u, m: self.messages.put(m)
        self.c.on_subscribe = lambda c, u, mid, codes, props: self.acks.put(("suback", codes))
        self.c.on_publish = lambda c, u, mid, rc, props: self.acks.put(("puback", mid))
        self.c.on_unsubscribe = lambda c, u, mid, codes, props: self.acks.put(("unsuback", codes))

    def _on_connect(self, c: Any, u: Any, flags: Any, rc: Any, props: Any) -> None:
        self.connack = rc
        self.connack_props = props
        self.connack_seen.set()
        if not rc.is_failure:
            self.connected.set()

    def _on_disconnect(self, c: Any, u: Any, flags: Any, rc: Any, props: Any) -> None:
        self.disconnect_reason = rc
        self.disconnected.set()

    def connect(
        self,
        *,
        expect_ok: bool = True,
        timeout: float = 5,
        properties: Any = None,
        clean_start: bool | None = None,
    ) -> Any:
        self.c.reconnect_delay_set(60, 60)
        extra: dict[str, Any] = {} if clean_start is None else {"clean_start": clean_start}
        self.c.connect(
            "127.0.0.1", self.port, keepalive=self.keepalive, properties=properties, **extra
        )
        self.c.loop_start()
        assert self.connack_seen.wait(timeout) or self.disconnected.wait(0.1), "no CONNACK"
        if expect_ok:
            assert self.connected.is_set(), f"connect refused: {self.connack}"
        return self.connack

    def subscribe(self, *filters: str, qos: int = 1, timeout: float = 5, **opts: Any) -> list[int]:
        if self.v5:
            options = SubscribeOptions(qos=qos, **opts)
            self.c.subscribe([(f, options) for f in filters])
        else:
            self.c.subscribe([(f, qos) for f in filters])
        kind, codes = self.acks.get(timeout=timeout)
        assert kind == "suback"
        return [int(getattr(c, "value", c)) for c in codes]

    def publish(
        self,
        topic: str,
        payload: bytes | str,
        qos: int = 1,
        retain: bool = False,
        properties: Any = None,
    ) -> mqtt.MQTTMessageInfo:
        return self.c.publish(topic, payload, qos=qos, retain=retain, properties=properties)

    def publish_acked(self, topic: str, payload: bytes | str, **kw: Any) -> None:
        info = self.publish(topic, payload, qos=1, **kw)
        info.wait_for_publish(timeout=5)
        assert info.is_published()

    def get(self, timeout: float = 5) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=timeout)

    def nothing(self, wait: float = 0.3) -> bool:
        try:
            m = self.messages.get(timeout=wait)
        except queue.Empty:
            return True
        raise AssertionError(f"unexpected message on {m.topic}: {m.payload!r}")

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def v5_props(packet_type: int, **values: Any) -> Properties:
    p = Properties(packet_type)
    for k, v in values.items():
        setattr(p, k, v)
    return p


# --------------------------------------------------------------------------- raw


class RawClient:
    """A blocking raw MQTT client over TCP: sends any bytes, decodes replies with our codec."""

    def __init__(self, port: int, level: int = 4) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.decoder = codec.StreamDecoder(1 << 24, level)
        self.level = level
        self.pending: list[codec.Packet] = []

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_packet(self, packet: codec.Packet) -> None:
        self.send(codec.encode(packet, self.level))

    def connect(self, client_id: str = "raw1", keep_alive: int = 60, **kw: Any) -> codec.Connack:
        self.send_packet(codec.Connect("MQTT", self.level, True, keep_alive, client_id, **kw))
        p = self.recv()
        assert isinstance(p, codec.Connack), p
        return p

    def recv(self, timeout: float = 5) -> codec.Packet:
        deadline = time.monotonic() + timeout
        while not self.pending:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.pending.extend(self.decoder.feed(data))
        return self.pending.pop(0)

    def silent(self, wait: float = 0.3) -> bool:
        try:
            p = self.recv(wait)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected packet {p}")

    def closed(self, timeout: float = 5) -> bool:
        """True when the server closes the connection within `timeout` (packets are skipped)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.recv(max(0.01, deadline - time.monotonic()))
            except ConnectionError:
                return True
            except TimeoutError:
                return False
            except OSError:
                return True
        return False

    def close(self) -> None:
        self.sock.close()


def wait_for(pred: Callable[[], bool], timeout: float = 5, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return pred()
