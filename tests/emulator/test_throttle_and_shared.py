"""IoT's per-connection throttles (quotas page: 1 CONNECT per second per client id, 100
publishes and 512 KB per second per connection) and shared subscriptions
(`$share/{ShareName}/{TopicFilter}`, mqtt.html)."""

from __future__ import annotations

import json
import time
from typing import Any

from emuhelpers import RawClient, Running, StubAuthorizer, allow, open_policy, policy

from iotws_emulator import codec

NOT_AUTHORIZED_V5 = 0x87


def raw_connect(emu: Running, cid: str, level: int = 4) -> tuple[RawClient, codec.Connack]:
    raw = RawClient(emu.tcp_port or 0, level)
    raw.send_packet(codec.Connect("MQTT", level, True, 60, cid))
    ack = raw.recv()
    assert isinstance(ack, codec.Connack)
    return raw, ack


def lifecycle_watcher(emu: Running) -> Any:
    w = emu.client("watcher")
    w.connect()
    assert w.subscribe("$aws/events/presence/disconnected/+") == [1]
    return w


# --------------------------------------------------------------------------- throttles


def test_one_connect_per_second_per_client_id(start_emulator: Any) -> None:
    emu = start_emulator(throttle=True)
    raw, ack = raw_connect(emu, "cr")
    assert ack.code == 0
    raw.close()
    again, ack = raw_connect(emu, "cr")  # within the second
    assert ack.code == 3  # MQTT 3.1.1: server unavailable
    again.close()
    v5, ack = raw_connect(emu, "cr", level=5)
    assert ack.code == 0x9F  # MQTT 5: connection rate exceeded
    v5.close()
    other, ack = raw_connect(emu, "cr-other")  # other client ids are not affected
    assert ack.code == 0
    other.close()
    time.sleep(1.1)
    later, ack = raw_connect(emu, "cr")
    assert ack.code == 0
    later.close()


def test_more_than_100_publishes_per_second_is_throttled(start_emulator: Any) -> None:
    emu = start_emulator(throttle=True)
    w = lifecycle_watcher(emu)
    raw, _ = raw_connect(emu, "fast", level=5)
    for _ in range(150):
        raw.send_packet(codec.Publish("t/rate", b"x", qos=0))
    got = raw.recv()
    assert isinstance(got, codec.Disconnect) and got.reason == 0x96  # message rate too high
    ev = json.loads(w.get().payload)
    assert (ev["clientId"], ev["disconnectReason"]) == ("fast", "THROTTLED")
    w.close()


def test_more_than_512_kb_per_second_is_throttled(start_emulator: Any) -> None:
    emu = start_emulator(throttle=True)
    w = lifecycle_watcher(emu)
    raw, _ = raw_connect(emu, "big")
    for _ in range(5):  # 640 KB in well under a second
        raw.send_packet(codec.Publish("t/rate", b"x" * 128 * 1024, qos=0))
    assert raw.closed()
    ev = json.loads(w.get().payload)
    assert (ev["clientId"], ev["disconnectReason"]) == ("big", "THROTTLED")
    w.close()


def test_throttles_can_be_switched_off(start_emulator: Any) -> None:
    emu = start_emulator(throttle=False)
    sub = emu.client("sub")
    sub.connect()
    assert sub.subscribe("t/rate") == [1]
    raw, _ = raw_connect(emu, "fast")
    for i in range(150):
        raw.send_packet(codec.Publish("t/rate", str(i).encode(), qos=0))
    for _ in range(150):
        sub.get()
    raw.close()
    sub.close()


# --------------------------------------------------------------------------- $share


SHARE_POLICY = policy(allow("iot:Subscribe", "topicfilter/$share/*"))


def test_shared_subscription_delivers_each_message_to_one_member(start_emulator: Any) -> None:
    emulator = start_emulator(StubAuthorizer([open_policy(), SHARE_POLICY]))
    a = emulator.client("member-a", protocol=5)
    b = emulator.client("member-b")  # IoT supports shared subscriptions on 3.1.1 too
    for c in (a, b):
        c.connect()
        assert c.subscribe("$share/workers/t/jobs") == [1]
    assert a.connack_props.SharedSubscriptionAvailable == 1
    p = emulator.client("producer")
    p.connect()
    for i in range(10):
        p.publish_acked("t/jobs", str(i).encode())
    got: list[bytes] = []
    deadline = time.monotonic() + 5
    while len(got) < 10 and time.monotonic() < deadline:
        for c in (a, b):
            while not c.messages.empty():
                got.append(c.messages.get().payload)
        time.sleep(0.05)
    assert sorted(got) == sorted(str(i).encode() for i in range(10))  # each exactly once
    assert a.nothing(0.2) and b.nothing(0.2)
    for c in (a, b, p):
        c.close()


def test_shared_subscribe_is_authorized_on_the_full_filter(start_emulator: Any) -> None:
    doc = policy(
        allow("iot:Connect", "client/*"),
        allow("iot:Subscribe", "topicfilter/$share/workers/t/*"),
        allow(["iot:Publish", "iot:Receive"], "topic/t/*"),
    )
    emu = start_emulator(StubAuthorizer([doc]))
    c = emu.client("member", protocol=5)
    c.connect()
    assert c.subscribe("$share/workers/t/jobs", "t/jobs", "$share/other/t/jobs") == [
        1,
        NOT_AUTHORIZED_V5,
        NOT_AUTHORIZED_V5,
    ]
    c.publish_acked("t/jobs", b"one")
    assert c.get().payload == b"one"
    assert c.nothing()
    c.close()


def test_shared_subscription_still_needs_receive(start_emulator: Any) -> None:
    emulator = start_emulator(StubAuthorizer([open_policy(), SHARE_POLICY]))
    c = emulator.client("member")
    c.connect()
    assert c.subscribe("$share/g/t/#") == [1]
    p = emulator.client("producer")
    p.connect()
    p.publish_acked("t/secret/x", b"hidden")  # open_policy denies Receive on t/secret/*
    p.publish_acked("t/ok", b"shown")
    assert c.get().payload == b"shown"
    assert c.nothing()
    c.close()
    p.close()


def test_malformed_shared_filters_are_refused(start_emulator: Any) -> None:
    emu = start_emulator(StubAuthorizer([open_policy(), SHARE_POLICY]))
    filters = ["$share/g", "$share//t/a", "$share/g+/t/a", "$share/g/t/#/x"]
    for level, code in ((5, 0x8F), (4, 0x80)):
        raw, _ = raw_connect(emu, f"m{level}", level)
        raw.send_packet(codec.Subscribe(1, [codec.SubscriptionRequest(f, 1) for f in filters]))
        ack = raw.recv()
        assert isinstance(ack, codec.Suback) and ack.codes == [code] * 4
        raw.close()
