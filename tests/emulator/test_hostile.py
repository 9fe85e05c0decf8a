"""Hostile and broken input never crashes the server; memory stays bounded."""

from __future__ import annotations

import gc
import socket
import time
import tracemalloc
from typing import Any

import pytest
from emuhelpers import Running, wait_for
from websockets.sync.client import connect as ws_connect

from iotws_emulator import codec


def assert_raw_still_serving(emulator: Running, cid: str) -> None:
    """Like assert_still_serving with a raw client: paho's select() loop cannot handle
    file descriptors above 1,024, which this process has while it holds idle sockets."""
    raw = emulator.raw()
    assert raw.connect(cid).code == 0
    raw.send_packet(codec.Subscribe(1, [codec.SubscriptionRequest("t/probe", 1)]))
    assert isinstance(raw.recv(), codec.Suback)
    raw.send_packet(codec.Publish("t/probe", b"ok", qos=1, packet_id=5))
    got = {type(raw.recv()).__name__, type(raw.recv()).__name__}
    assert got == {"Puback", "Publish"}
    raw.close()


def assert_still_serving(emulator: Running, cid: str = "probe") -> None:
    c = emulator.client(cid)
    c.connect()
    assert c.subscribe("t/probe") == [1]
    c.publish_acked("t/probe", b"ok")
    assert c.get().payload == b"ok"
    c.close()


CONNECT = codec.encode(codec.Connect("MQTT", 4, True, 60, "h1"))


@pytest.mark.parametrize(
    "data",
    [
        CONNECT[:5],  # truncated CONNECT, then EOF
        b"\x10\xff\xff\xff\xff\x7f",  # remaining length longer than 4 bytes
        b"\x10\xff\xff\xff\x7f",  # 268 MB remaining length: refused before buffering
        b"GET / HTTP/1.1\r\n\r\n",  # garbage (HTTP) before CONNECT
        b"\x00" * 64,  # reserved packet type 0
        b"\x30\x05\x00\x01t" + b"x" * 2 + CONNECT,  # PUBLISH before CONNECT
        codec.encode(codec.Connect("MQIsdp", 3, True, 60, "old")),  # MQTT 3.1
        b"\x10\x0c\x00\x04MQTT\x04\x03\x00\x3c\x00\x00",  # reserved connect flag
        b"\x10\x0a\x00\x04MQTT\x04\x02\x00\x3c\x00\x05ab",  # client id overruns packet
        b"\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x02\xff\xfe",  # invalid UTF-8 id
    ],
    ids=[
        "truncated",
        "5-byte-length",
        "huge-length",
        "http-garbage",
        "type-0",
        "publish-first",
        "mqtt-3.1",
        "reserved-flag",
        "overrun",
        "bad-utf8",
    ],
)
def test_malformed_before_connect(emulator: Running, data: bytes) -> None:
    raw = emulator.raw()
    raw.send(data)
    if data == CONNECT[:5]:
        raw.sock.shutdown(socket.SHUT_WR)
    assert raw.closed(5)
    assert_still_serving(emulator)


@pytest.mark.parametrize(
    "packet",
    [
        b"\x82\x02\x00\x01",  # SUBSCRIBE without filters
        b"\x80\x05\x00\x01\x00\x01a",  # SUBSCRIBE with wrong flags
        b"\x82\x06\x00\x01\x00\x01a\x04",  # SUBSCRIBE options reserved bits (v3)
        b"\x50\x02\x00\x01",  # PUBREC (QoS 2 flow)
        b"\x20\x02\x00\x00",  # CONNACK from a client
        b"\x36\x05\x00\x01a\x00\x01",  # PUBLISH QoS 3
        b"\x32\x03\x00\x01a",  # QoS 1 PUBLISH missing packet id
        codec.encode(codec.Connect("MQTT", 4, True, 60, "again")),  # second CONNECT
    ],
    ids=["sub-empty", "sub-flags", "sub-opts", "pubrec", "connack", "qos3", "no-pid", "connect2"],
)
def test_protocol_errors_after_connect(emulator: Running, packet: bytes) -> None:
    raw = emulator.raw()
    assert raw.connect("bad-after").code == 0
    raw.send(packet)
    assert raw.closed(5)
    assert_still_serving(emulator)


def test_websocket_garbage_text_frames_and_wrong_path(emulator: Running) -> None:
    url = f"ws://127.0.0.1:{emulator.port}/mqtt"
    with ws_connect(url, subprotocols=["mqtt"]) as ws:  # type: ignore[list-item]
        ws.send("text is not MQTT")
        with pytest.raises(Exception):  # noqa: B017 - the server closes the connection
            ws.recv(timeout=5)
    with ws_connect(url, subprotocols=["mqtt"]) as ws:  # type: ignore[list-item]
        # one WebSocket message carrying CONNECT + PINGREQ, then a split PINGREQ
        ws.send(codec.encode(codec.Connect("MQTT", 4, True, 60, "split")) + b"\xc0\x00\xc0")
        got = ws.recv(timeout=5)
        assert isinstance(got, bytes) and got[:1] == b"\x20"  # CONNACK (+ the first PINGRESP)
        ws.send(b"\x00")
        while len(got) < 8:
            more = ws.recv(timeout=5)
            assert isinstance(more, bytes)
            got += more
        assert got == b"\x20\x02\x00\x00\xd0\x00\xd0\x00"
    with pytest.raises(Exception):  # noqa: B017 - 404 on another path
        ws_connect(f"ws://127.0.0.1:{emulator.port}/other", open_timeout=5)
    assert_still_serving(emulator)


def test_oversized_websocket_message_is_refused(emulator: Running) -> None:
    url = f"ws://127.0.0.1:{emulator.port}/mqtt"
    with ws_connect(url, subprotocols=["mqtt"], max_size=None) as ws:  # type: ignore[list-item]
        ws.send(codec.encode(codec.Connect("MQTT", 4, True, 60, "huge")))
        ws.recv(timeout=5)
        ws.send(b"\x30" + codec.encode_varint(3_000_000) + b"\x00\x01t" + b"x" * 3_000_000)
        with pytest.raises(Exception):  # noqa: B017 - closed by the server
            for _ in range(3):
                ws.recv(timeout=5)
    assert_still_serving(emulator)


def test_many_idle_connections(emulator: Running) -> None:
    """2,000 idle TCP connections (no CONNECT), then a normal client still works."""
    assert emulator.tcp_port is not None
    socks: list[socket.socket] = []
    try:
        for _ in range(2000):
            socks.append(socket.create_connection(("127.0.0.1", emulator.tcp_port), timeout=5))
        assert_raw_still_serving(emulator, "after-idle")
    finally:
        for s in socks:
            s.close()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and len(emulator.broker.sessions) > 0:
        time.sleep(0.05)
    assert len(emulator.broker.sessions) == 0


def test_slow_reader_is_cut_off_and_others_carry_on(start_emulator: Any) -> None:
    emu = start_emulator(outbound_limit_bytes=256 * 1024)
    slow = emu.raw()
    slow.connect("slow")
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.send_packet(codec.Subscribe(1, [codec.SubscriptionRequest("t/flood", 0)]))
    assert isinstance(slow.recv(), codec.Suback)
    fast = emu.client("fast")
    fast.connect()
    assert fast.subscribe("t/flood", qos=0) == [0]
    pub = emu.raw()
    pub.connect("flooder")
    chunk = codec.encode(codec.Publish("t/flood", b"z" * 8192))
    # 12 MB in paced groups: the fast reader keeps up, the slow one never reads, so its
    # queue passes the 256 KB limit once the kernel's socket buffers are full.
    for _ in range(30):
        pub.send(chunk * 50)
        for _ in range(50):
            fast.get(10)
        if "slow" not in emu.broker.clients:
            break
    assert wait_for(lambda: "slow" not in emu.broker.clients, 5)  # disconnected: THROTTLED
    slow.close()
    assert_still_serving(emu)


def test_memory_bounded_across_connect_publish_cycles(emulator: Running) -> None:
    def cycle(n: int) -> None:
        for i in range(n):
            raw = emulator.raw()
            raw.connect(f"mem-{i % 7}")
            raw.send_packet(codec.Subscribe(1, [codec.SubscriptionRequest(f"t/m/{i}", 1)]))
            raw.recv()
            raw.send_packet(codec.Publish(f"t/m/{i}", b"x" * 1024, qos=1, packet_id=2))
            raw.recv()
            raw.recv()
            raw.send_packet(codec.Disconnect())
            raw.close()

    cycle(50)  # warm up caches and allocators
    time.sleep(0.2)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        cycle(300)
        assert wait_idle(emulator)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # the broker's per-connection state is released; allow small allocator noise
    assert after - before < 2_000_000, after - before
    assert len(emulator.broker.sessions) == 0
    assert not emulator.broker._exact and not emulator.broker._wild


def wait_idle(emulator: Running, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not emulator.broker.sessions:
            return True
        time.sleep(0.02)
    return False
