"""Persistent sessions (mqtt-persistent-sessions.html) and the MQTT 5 session features IoT
supports, exercised with third-party clients (paho-mqtt over WebSockets, MQTT.js with
node) and raw packets where a client library cannot express the case."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from emuhelpers import (
    REPO,
    PahoClient,
    RawClient,
    Running,
    StubAuthorizer,
    allow,
    open_policy,
    policy,
    v5_props,
    wait_for,
)
from paho.mqtt.packettypes import PacketTypes

from iotws_emulator import codec
from iotws_emulator.clock import ScaledClock
from iotws_emulator.codec import Prop


def paho_persistent(emulator: Running, cid: str) -> PahoClient:
    """paho-mqtt 3.1.1 over WebSockets with clean_session=False."""
    import paho.mqtt.client as mqtt

    c = emulator.client(cid)
    c.c = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=cid,
        transport="websockets",
        protocol=mqtt.MQTTv311,
        clean_session=False,
    )
    c.c.ws_set_options(path="/mqtt?x-amz-customauthorizer-name=test-authorizer")
    c.c.on_connect = c._on_connect
    c.c.on_disconnect = c._on_disconnect
    c.c.on_message = lambda cl, u, m: c.messages.put(m)
    c.c.on_subscribe = lambda cl, u, mid, codes, props: c.acks.put(("suback", codes))
    c.c.on_publish = lambda cl, u, mid, rc, props: c.acks.put(("puback", mid))
    c.c.on_unsubscribe = lambda cl, u, mid, codes, props: c.acks.put(("unsuback", codes))
    return c


def session_present(c: PahoClient) -> bool:
    return bool(c.flags.session_present)


@pytest.fixture(autouse=True)
def _record_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    original = PahoClient._on_connect

    def on_connect(self: PahoClient, c: Any, u: Any, flags: Any, rc: Any, props: Any) -> None:
        self.flags = flags
        original(self, c, u, flags, rc, props)

    monkeypatch.setattr(PahoClient, "_on_connect", on_connect)


def publisher(emulator: Running) -> PahoClient:
    p = emulator.client("publisher")
    p.connect()
    return p


def raw_connect(
    emulator: Running, cid: str, *, clean: bool, level: int = 4, **props: Any
) -> tuple[RawClient, codec.Connack]:
    raw = RawClient(emulator.tcp_port or 0, level)
    properties = codec.Properties({int(k): v for k, v in props.items()})
    raw.send_packet(codec.Connect("MQTT", level, clean, 60, cid, properties=properties))
    connack = raw.recv()
    assert isinstance(connack, codec.Connack), connack
    return raw, connack


# --------------------------------------------------------------------------- paho 3.1.1


def test_paho_clean_session_false_gets_offline_qos1_on_resume(emulator: Running) -> None:
    c = paho_persistent(emulator, "persist-1")
    c.connect()
    assert not session_present(c)
    assert c.subscribe("t/s") == [1]
    c.close()
    assert wait_for(lambda: "persist-1" in emulator.broker.stored)
    p = publisher(emulator)
    p.publish_acked("t/s", b"while offline")  # QoS 1: stored
    p.publish("t/s", b"qos0 is not stored", qos=0)
    time.sleep(0.2)
    again = paho_persistent(emulator, "persist-1")
    again.connect()
    assert session_present(again)  # session present = 1
    m = again.get()
    assert (m.topic, m.payload, m.qos) == ("t/s", b"while offline", 1)
    assert again.nothing()
    # the subscription was kept: live messages arrive without subscribing again
    p.publish_acked("t/s", b"live")
    assert again.get().payload == b"live"
    again.close()
    p.close()


def test_clean_start_ends_the_stored_session(emulator: Running) -> None:
    c = paho_persistent(emulator, "persist-2")
    c.connect()
    assert c.subscribe("t/s2") == [1]
    c.close()
    assert wait_for(lambda: "persist-2" in emulator.broker.stored)
    clean = emulator.client("persist-2")  # clean session 1
    clean.connect()
    assert not session_present(clean)
    assert "persist-2" not in emulator.broker.stored
    p = publisher(emulator)
    p.publish_acked("t/s2", b"x")
    assert clean.nothing()
    clean.close()
    p.close()


def test_unacknowledged_qos1_is_redelivered_with_dup(emulator: Running) -> None:
    raw, ack = raw_connect(emulator, "dup-1", clean=False)
    assert not ack.session_present
    raw.send_packet(codec.Subscribe(1, [codec.SubscriptionRequest("t/d", 1)]))
    assert isinstance(raw.recv(), codec.Suback)
    p = publisher(emulator)
    p.publish_acked("t/d", b"needs an ack")
    first = raw.recv()
    assert isinstance(first, codec.Publish) and not first.dup
    raw.close()  # no PUBACK
    assert wait_for(lambda: "dup-1" in emulator.broker.stored)
    raw2, ack2 = raw_connect(emulator, "dup-1", clean=False)
    assert ack2.session_present
    again = raw2.recv()
    assert isinstance(again, codec.Publish)
    assert (again.payload, again.dup, again.packet_id) == (b"needs an ack", True, first.packet_id)
    raw2.send_packet(codec.Puback(again.packet_id or 0))
    assert raw2.silent()
    raw2.close()
    p.close()


def test_takeover_moves_the_session_and_ends_the_old_connection(emulator: Running) -> None:
    old = paho_persistent(emulator, "persist-3")
    old.connect()
    assert old.subscribe("t/s3") == [1]
    new = paho_persistent(emulator, "persist-3")
    new.connect()
    assert old.disconnected.wait(5)  # DUPLICATE_CLIENTID
    assert session_present(new)
    p = publisher(emulator)
    p.publish_acked("t/s3", b"to the new connection")
    assert new.get().payload == b"to the new connection"
    new.close()
    p.close()


def test_session_expires(start_emulator: Any) -> None:
    emu = start_emulator(clock=ScaledClock(1000), session_expiry=300)
    c = paho_persistent(emu, "persist-4")
    c.connect()
    assert c.subscribe("t/s4") == [1]
    c.close()
    assert wait_for(lambda: "persist-4" in emu.broker.stored)
    # 300 emulated seconds = 0.3 s
    assert wait_for(lambda: "persist-4" not in emu.broker.stored, 3)
    again = paho_persistent(emu, "persist-4")
    again.connect()
    assert not session_present(again)
    again.close()


def test_resume_needs_connect_and_each_stored_message_needs_receive(start_emulator: Any) -> None:
    def docs(event: dict[str, Any], n: int) -> list[Any]:
        cid = event["protocolData"]["mqtt"].get("clientId")
        if cid == "persist-5" and n >= 4:  # the third connection of persist-5
            return [policy(allow("iot:Subscribe", "topicfilter/*"))]  # no iot:Connect
        return [open_policy()]

    auth = StubAuthorizer(docs)
    emu = start_emulator(auth)
    c = paho_persistent(emu, "persist-5")
    c.connect()  # call 1
    assert c.subscribe("t/#") == [1]
    c.close()
    assert wait_for(lambda: "persist-5" in emu.broker.stored)
    p = publisher(emu)  # call 2
    p.publish_acked("t/secret/x", b"never received")  # t/secret/* has no iot:Receive
    p.publish_acked("t/open", b"received")
    again = paho_persistent(emu, "persist-5")
    again.connect()  # call 3
    assert session_present(again)
    assert again.get().payload == b"received"
    assert again.nothing()
    again.close()
    assert wait_for(lambda: "persist-5" in emu.broker.stored)
    refused = paho_persistent(emu, "persist-5")
    assert refused.connect(expect_ok=False).value == 0x87  # call 4: Connect not allowed
    assert "persist-5" in emu.broker.stored  # not resumed by a refused connection
    p.close()


# --------------------------------------------------------------------------- MQTT 5


def test_paho_mqtt5_clean_start_false_with_session_expiry(emulator: Running) -> None:
    props = v5_props(PacketTypes.CONNECT, SessionExpiryInterval=600)
    c = emulator.client("v5-persist", protocol=5)
    c.connect(properties=props, clean_start=False)
    assert c.subscribe("t/v5") == [1]
    c.close()
    assert wait_for(lambda: "v5-persist" in emulator.broker.stored)
    p = publisher(emulator)
    p.publish_acked("t/v5", b"stored for v5")
    again = emulator.client("v5-persist", protocol=5)
    again.connect(properties=props, clean_start=False)
    assert session_present(again)
    assert again.get().payload == b"stored for v5"
    again.close()
    p.close()


def test_mqtt5_session_expiry_zero_keeps_nothing(emulator: Running) -> None:
    raw, ack = raw_connect(emulator, "v5-zero", clean=False, level=5)
    assert not ack.session_present
    raw.close()
    time.sleep(0.2)
    assert "v5-zero" not in emulator.broker.stored


def test_mqtt5_session_expiry_is_capped_and_told(start_emulator: Any) -> None:
    emu = start_emulator(session_expiry=3600)
    raw, ack = raw_connect(
        emu, "v5-cap", clean=False, level=5, **{str(int(Prop.SESSION_EXPIRY_INTERVAL)): 86_400}
    )
    assert ack.properties.get(Prop.SESSION_EXPIRY_INTERVAL) == 3600
    raw.close()


def test_mqtt5_receive_maximum_is_honoured(emulator: Running) -> None:
    raw, _ = raw_connect(
        emulator, "v5-rm", clean=True, level=5, **{str(int(Prop.RECEIVE_MAXIMUM)): 2}
    )
    raw.send_packet(codec.Subscribe(1, [codec.SubscriptionRequest("t/rm", 1)]))
    assert isinstance(raw.recv(), codec.Suback)
    p = publisher(emulator)
    for i in range(5):
        p.publish_acked("t/rm", str(i).encode())
    got = [raw.recv(), raw.recv()]
    assert all(isinstance(g, codec.Publish) for g in got)
    assert raw.silent(0.5)  # the third waits for a PUBACK
    first = got[0]
    assert isinstance(first, codec.Publish)
    raw.send_packet(codec.Puback(first.packet_id or 0))
    third = raw.recv()
    assert isinstance(third, codec.Publish) and third.payload == b"2"
    raw.close()
    p.close()


def test_mqtt5_maximum_packet_size_is_honoured(emulator: Running) -> None:
    raw, _ = raw_connect(
        emulator, "v5-mps", clean=True, level=5, **{str(int(Prop.MAXIMUM_PACKET_SIZE)): 200}
    )
    raw.send_packet(codec.Subscribe(1, [codec.SubscriptionRequest("t/mps", 1)]))
    assert isinstance(raw.recv(), codec.Suback)
    p = publisher(emulator)
    p.publish_acked("t/mps", b"x" * 500)  # larger than the client accepts: discarded
    p.publish_acked("t/mps", b"small")
    got = raw.recv()
    assert isinstance(got, codec.Publish) and got.payload == b"small"
    raw.close()
    p.close()


def test_mqtt5_will_delay_interval(start_emulator: Any) -> None:
    emu = start_emulator(clock=ScaledClock(1000))
    watcher = emu.client("watcher")
    watcher.connect()
    assert watcher.subscribe("t/will") == [1]

    def connect_with_will(cid: str) -> RawClient:
        raw = RawClient(emu.tcp_port or 0, 5)
        will = codec.Will(
            "t/will", cid.encode(), 1, False, codec.Properties({Prop.WILL_DELAY_INTERVAL: 300})
        )
        props = codec.Properties({Prop.SESSION_EXPIRY_INTERVAL: 600})
        raw.send_packet(codec.Connect("MQTT", 5, False, 60, cid, will=will, properties=props))
        assert isinstance(raw.recv(), codec.Connack)
        return raw

    gone = connect_with_will("will-1")
    t0 = time.monotonic()
    gone.close()  # connection lost: the will waits 300 emulated seconds (0.3 s)
    m = watcher.get(5)
    assert m.payload == b"will-1" and time.monotonic() - t0 >= 0.25
    back = connect_with_will("will-2")
    back.close()
    back = connect_with_will("will-2")  # back within the delay: no will
    assert watcher.nothing(0.8)
    back.close()
    watcher.close()


# --------------------------------------------------------------------------- MQTT.js


def test_mqttjs_mqtt5_persistent_session(emulator: Running) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: install Node.js 20+ (needed by `make web`)")
    script = Path(__file__).parent / "js" / "persistent_session.mjs"
    url = f"ws://127.0.0.1:{emulator.port}/mqtt?x-amz-customauthorizer-name=test-authorizer"

    def run(step: str) -> dict[str, Any]:
        proc = subprocess.run(
            [node, str(script), url, "mqttjs-1", "t/js", step],
            capture_output=True,
            text=True,
            timeout=20,
            cwd=REPO,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        return result

    assert run("subscribe") == {"sessionPresent": False}
    assert wait_for(lambda: "mqttjs-1" in emulator.broker.stored)
    p = publisher(emulator)
    p.publish_acked("t/js", b"offline for MQTT.js")
    got = run("resume")
    assert got == {
        "sessionPresent": True,
        "topic": "t/js",
        "payload": "offline for MQTT.js",
        "qos": 1,
    }
    p.close()


def test_mqtt5_disconnect_can_end_the_session(emulator: Running) -> None:
    expiry = {str(int(Prop.SESSION_EXPIRY_INTERVAL)): 600}
    raw, _ = raw_connect(emulator, "v5-end", clean=False, level=5, **expiry)
    raw.send_packet(codec.Disconnect(0, codec.Properties({Prop.SESSION_EXPIRY_INTERVAL: 0})))
    assert raw.closed()
    time.sleep(0.2)
    assert "v5-end" not in emulator.broker.stored
    kept, _ = raw_connect(emulator, "v5-keep", clean=False, level=5, **expiry)
    kept.send_packet(codec.Disconnect())
    assert kept.closed()
    assert wait_for(lambda: "v5-keep" in emulator.broker.stored)
