"""The broker's seams for server-side code (a rules engine, in-process Lambdas): the
listener that sees every accepted message and `Broker.publish`."""

from __future__ import annotations

import threading
import urllib.request
from typing import Any

from emuhelpers import Running, StubAuthorizer, allow, open_policy, policy, wait_for

from iotws_emulator.broker import Published


def _collect(emulator: Running) -> list[Published]:
    seen: list[Published] = []
    lock = threading.Lock()

    def listener(p: Published) -> None:
        with lock:
            seen.append(p)

    emulator.broker.add_listener(listener)
    return seen


def test_listener_sees_client_http_lifecycle_and_basic_ingest(start_emulator: Any) -> None:
    ingest = policy(allow("iot:Publish", "topic/$aws/rules/myrule/*"))
    emulator = start_emulator(StubAuthorizer([open_policy(), ingest]))
    seen = _collect(emulator)
    c = emulator.client("c1")
    c.connect()
    c.publish_acked("t/a", b"from-client")
    c.publish_acked("$aws/rules/myrule/x", b"ingest")
    req = urllib.request.Request(  # noqa: S310 - local emulator
        f"{emulator.emu.http_url}/topics/t%2Fb?qos=1", data=b"from-http", method="POST"
    )
    with urllib.request.urlopen(req) as r:  # noqa: S310
        assert r.status == 200
    assert wait_for(lambda: any(p.source == "http" for p in seen))
    by_topic = {p.topic: p for p in seen}
    client = by_topic["t/a"]
    assert (client.payload, client.qos, client.client_id, client.source) == (
        b"from-client",
        1,
        "c1",
        "mqtt",
    )
    assert client.principal == "stubPrincipal1"
    assert by_topic["$aws/rules/myrule/x"].payload == b"ingest"
    http = by_topic["t/b"]
    assert (http.client_id, http.principal, http.source) == (None, None, "http")
    connected = by_topic["$aws/events/presence/connected/c1"]
    assert connected.source == "lifecycle" and b'"eventType":"connected"' in connected.payload
    c.close()


def test_a_failing_listener_does_not_stop_routing(emulator: Running) -> None:
    def broken(p: Published) -> None:
        raise RuntimeError("listener bug")

    emulator.broker.add_listener(broken)
    c = emulator.client("c1")
    c.connect()
    assert c.subscribe("t/a") == [1]
    c.publish_acked("t/a", b"still delivered")
    assert c.get().payload == b"still delivered"
    c.close()


def test_server_side_publish_reaches_subscribers_and_listeners(emulator: Running) -> None:
    seen = _collect(emulator)
    c = emulator.client("c1")
    c.connect()
    assert c.subscribe("t/out", "t/secret/x") == [1, 1]
    n = emulator.broker.publish_threadsafe("t/out", b"republished", 1, source="republish")
    assert n.result(5) == 1
    m = c.get()
    assert (m.topic, m.payload) == ("t/out", b"republished")
    # iot:Receive is still checked per delivery: t/secret/* is denied by the policy
    emulator.broker.publish_threadsafe("t/secret/x", b"hidden", 1, source="republish").result(5)
    assert c.nothing()
    assert any(p.topic == "t/out" and p.source == "republish" for p in seen)
    c.close()
