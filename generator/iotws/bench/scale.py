"""Emulator scale: many concurrent authorized WebSocket connections, one broadcast to all
of them, and connects per second with authorization, in one bounded run.

The harness cannot be the bottleneck: each client is a bare asyncio stream speaking just
enough WebSocket (RFC 6455: an upgrade request, then binary frames with a zero masking key,
which is legal and needs no per-byte work), with pre-encoded MQTT packets; subscribers only
count the bytes they receive. The emulator runs as its own process (`iotws emulate` with the
example's spec, the real packaged authorizer and policy evaluation on every connect,
subscribe and delivery, `--no-throttle`); its resident memory is read from
/proc/<pid>/status before and after the connections are opened.

Bounded: IOTWS_BENCH_CONNECTIONS connections (default 10,000), each phase with a deadline;
a phase that misses it reports what it reached.
"""

from __future__ import annotations

import asyncio
import base64
import os
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

from iotws.bench import Row
from iotws.bench.emulator import CLIENT_PREFIX, Target, emulator_target
from iotws_emulator import codec

GROUP = "emulator scale"
CONNECTIONS = int(os.environ.get("IOTWS_BENCH_CONNECTIONS", "10000"))
CONCURRENCY = 64  # connects in flight at once
CONNECT_DEADLINE = 240.0  # seconds for all connections
BROADCAST_DEADLINE = 60.0
BROADCAST_TOPIC = "seed/dev/server"  # every user of the example's spec may receive it
MAX_RSS_KIB_PER_CONNECTION = 100
MIN_CONNECTS_PER_SECOND = 2000
MAX_BROADCAST_SECONDS = 2.0
_ZERO_MASK = b"\x00\x00\x00\x00"


def _frame(payload: bytes) -> bytes:
    """A masked binary WebSocket frame with a zero masking key (payload sent as is)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x82, 0x80 | n))
    elif n < 65_536:
        head = bytes((0x82, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x82, 0x80 | 127)) + n.to_bytes(8, "big")
    return head + _ZERO_MASK + payload


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readexactly(2)
    n = head[1] & 0x7F
    if n == 126:
        n = int.from_bytes(await reader.readexactly(2), "big")
    elif n == 127:
        n = int.from_bytes(await reader.readexactly(8), "big")
    return await reader.readexactly(n)


class Conn:
    __slots__ = ("reader", "writer", "received")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.received = 0


async def _open(host: str, port: int, path: str, connect: bytes, subscribe: bytes) -> Conn:
    reader, writer = await asyncio.open_connection(host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"upgrade refused: {head[:80]!r}")
    writer.write(_frame(connect))
    connack = await _read_frame(reader)
    if len(connack) < 4 or connack[0] != 0x20 or connack[3] != 0:
        raise RuntimeError(f"CONNACK refused: {connack!r}")
    writer.write(_frame(subscribe))
    suback = await _read_frame(reader)
    if suback[0] != 0x90 or suback[-1] != 0:
        raise RuntimeError(f"SUBACK refused: {suback!r}")
    return Conn(reader, writer)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def _count(conn: Conn, expected: int, done: asyncio.Event, counter: list[int]) -> None:
    while conn.received < expected:
        data = await conn.reader.read(65_536)
        if not data:
            return
        conn.received += len(data)
    counter[0] += 1
    if counter[0] >= counter[1]:
        done.set()


async def _scale(target: Target, pid: int, n: int) -> list[Row]:
    rows: list[Row] = []
    host_port = target.url[len("ws://") :].split("/", 1)[0]
    host, port_text = host_port.rsplit(":", 1)
    path = f"/mqtt?token={quote(target.token or '')}"
    subscribe = codec.encode(codec.Subscribe(1, [codec.SubscriptionRequest(BROADCAST_TOPIC, 0)]))
    rss_before = _rss_kib(pid)
    sem = asyncio.Semaphore(CONCURRENCY)
    conns: list[Conn] = []
    failures: list[str] = []

    async def one(i: int) -> None:
        connect = codec.encode(codec.Connect("MQTT", 4, True, 1200, f"{CLIENT_PREFIX}k{i}"))
        async with sem:
            try:
                conns.append(await _open(host, int(port_text), path, connect, subscribe))
            except (OSError, RuntimeError, asyncio.IncompleteReadError) as exc:
                failures.append(str(exc))

    start = time.perf_counter()
    try:
        await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(n))), CONNECT_DEADLINE)
    except TimeoutError:
        failures.append(f"deadline of {CONNECT_DEADLINE:.0f} s")
    elapsed = time.perf_counter() - start
    held = len(conns)
    rss_after = _rss_kib(pid)
    rate = held / elapsed if elapsed else 0.0
    note = f" ({len(failures)} failed: {failures[0]})" if failures else ""
    rows.append(
        Row(
            GROUP,
            f"authorized ws connections held{note}",
            float(held),
            "conns",
            f">= {n}",
            held >= n,
        )
    )
    rows.append(
        Row(
            GROUP,
            "connects with authorization + subscribe, ws",
            rate,
            "conn/s",
            f">= {MIN_CONNECTS_PER_SECOND}",
            rate >= MIN_CONNECTS_PER_SECOND,
        )
    )
    per_conn = (rss_after - rss_before) / held if held else 0.0
    rows.append(
        Row(
            GROUP,
            f"emulator RSS per connection ({rss_before // 1024} -> {rss_after // 1024} MiB)",
            per_conn,
            "KiB",
            f"<= {MAX_RSS_KIB_PER_CONNECTION}",
            per_conn <= MAX_RSS_KIB_PER_CONNECTION,
        )
    )
    if held:
        payload = b"broadcast-to-all"
        expected = len(_frame(codec.encode(codec.Publish(BROADCAST_TOPIC, payload, 0)))) - 4
        done = asyncio.Event()
        counter = [0, held]
        readers = [asyncio.create_task(_count(c, expected, done, counter)) for c in conns]
        url = f"http://{host_port}/topics/{quote(BROADCAST_TOPIC, safe='')}?qos=0"
        request = urllib.request.Request(url, data=payload, method="POST")  # noqa: S310
        start = time.perf_counter()
        await asyncio.to_thread(urllib.request.urlopen, request, timeout=30)
        try:
            await asyncio.wait_for(done.wait(), BROADCAST_DEADLINE)
        except TimeoutError:
            pass
        took = time.perf_counter() - start
        rows.append(
            Row(
                GROUP,
                f"broadcast to {held} subscribers: delivered to {counter[0]}, time",
                took,
                "s",
                f"< {MAX_BROADCAST_SECONDS:g} s, all delivered",
                counter[0] == held and took < MAX_BROADCAST_SECONDS,
            )
        )
        for t in readers:
            t.cancel()
    for c in conns:
        c.writer.close()
    return rows


def run() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="iotws-bench-scale-") as tmp:
        with emulator_target(Path(tmp)) as (emu_ws, _emu_tcp):
            assert emu_ws.pid is not None
            return asyncio.run(_scale(emu_ws, emu_ws.pid, CONNECTIONS))
