"""Publish throughput with a harness that cannot be the bottleneck, and the proof that it
is not: the same harness against a null broker.

The harness speaks plain MQTT 3.1.1 over TCP with pre-encoded packets: one publisher writes
QoS 0 PUBLISH packets in large batches, subscribers only count the bytes they receive. The
null broker accepts every CONNECT and SUBSCRIBE and forwards PUBLISH packets' bytes to the
subscribers unparsed: the most a broker could do with this harness. Rows: the null broker,
the emulator (`iotws emulate --no-throttle`, policies enforced on every publish and
delivery) and Mosquitto (`set_tcp_nodelay true`), with the harness at least 3 times faster
than the brokers it measures.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from iotws.bench import Row
from iotws.bench.emulator import (
    CLIENT_PREFIX,
    TOPIC,
    Target,
    emulator_target,
    free_port,
    mosquitto_exe,
    stop_process,
    wait_port,
)
from iotws_emulator import codec

GROUP = "publish harness"
MESSAGES = 20_000
FANOUT = 4
PAYLOAD = 64
BATCH = 500  # packets per write
DEADLINE = 30.0


def _split(buf: bytearray) -> list[bytes]:
    """Whole MQTT packets at the front of `buf` (removed from it)."""
    out: list[bytes] = []
    while len(buf) >= 2:
        n, mult, i = 0, 1, 1
        while True:
            if i >= len(buf):
                return out
            b = buf[i]
            n += (b & 0x7F) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
        if len(buf) < i + n:
            return out
        out.append(bytes(buf[: i + n]))
        del buf[: i + n]
    return out


class NullBroker:
    """Forwards every PUBLISH to every subscriber, unparsed; answers CONNECT/SUBSCRIBE."""

    def __init__(self) -> None:
        self.subscribers: list[asyncio.StreamWriter] = []
        self.handlers: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None

    async def start(self, port: int = 0) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", port)
        return int(self.server.sockets[0].getsockname()[1])

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.handlers.add(task)
        buf = bytearray()
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(262_144):
                buf += data
                out = bytearray()
                for packet in _split(buf):
                    kind = packet[0] >> 4
                    if kind == 1:
                        writer.write(b"\x20\x02\x00\x00")
                    elif kind == 8:
                        writer.write(b"\x90\x03" + packet[2:4] + b"\x00")
                        self.subscribers.append(writer)
                    elif kind == 3:
                        out += packet
                if out:
                    for sub in self.subscribers:
                        sub.write(out)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for t in self.handlers:
            t.cancel()
        await asyncio.gather(*self.handlers, return_exceptions=True)


async def _open(
    host: str, port: int, client_id: str, username: str | None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(codec.encode(codec.Connect("MQTT", 4, True, 600, client_id, username=username)))
    ack = await reader.readexactly(4)
    if ack[0] != 0x20 or ack[3] != 0:
        raise RuntimeError(f"CONNACK refused: {ack!r}")
    return reader, writer


async def _measure(host: str, port: int, username: str | None) -> tuple[float, int]:
    """Delivered messages per second and the number delivered (QoS 0, 1 publisher,
    FANOUT subscribers)."""
    packet = codec.encode(codec.Publish(TOPIC, b"x" * PAYLOAD, 0))
    batch = packet * BATCH
    expected = len(packet) * MESSAGES
    subs = []
    for i in range(FANOUT):
        r, w = await _open(host, port, f"{CLIENT_PREFIX}h{i}", username)
        w.write(codec.encode(codec.Subscribe(1, [codec.SubscriptionRequest(TOPIC, 0)])))
        suback = await r.readexactly(5)
        if suback[0] != 0x90 or suback[4] != 0:
            raise RuntimeError(f"SUBACK refused: {suback!r}")
        subs.append((r, w))
    pr, pw = await _open(host, port, f"{CLIENT_PREFIX}hp", username)

    async def count(r: asyncio.StreamReader) -> int:
        got = 0
        while got < expected:
            data = await r.read(262_144)
            if not data:
                break
            got += len(data)
        return got

    start = time.perf_counter()
    counters = [asyncio.create_task(count(r)) for r, _ in subs]
    for _ in range(MESSAGES // BATCH):
        pw.write(batch)
        await pw.drain()
    done, _ = await asyncio.wait(counters, timeout=DEADLINE)
    elapsed = time.perf_counter() - start
    received = sum(t.result() for t in done) // len(packet)
    for t in counters:
        t.cancel()
    for _, w in [*subs, (pr, pw)]:
        w.close()
    return received / elapsed, received


async def _serve_null(port: int) -> None:
    broker = NullBroker()
    await broker.start(port)
    await asyncio.Event().wait()  # until the process is stopped


def _null_rate() -> float:
    """The null broker in a process of its own, as the brokers it is compared with."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "iotws.bench.harness", "--null-broker", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, proc, 15)
        return asyncio.run(_measure("127.0.0.1", port, None))[0]
    finally:
        stop_process(proc)


def _mosquitto_rate(work: Path) -> float | None:
    exe = mosquitto_exe()
    if exe is None:
        return None
    port = free_port()
    conf = work / "mosquitto-harness.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
        "max_queued_messages 0\npersistence false\nlog_dest none\n"
    )
    proc = subprocess.Popen(
        [exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_port(port, proc, 15)
        return asyncio.run(_measure("127.0.0.1", port, None))[0]
    finally:
        if proc.poll() is None:
            stop_process(proc)


def _emulator_rate(target: Target) -> float:
    host, port = target.url[len("tcp://") :].rsplit(":", 1)
    return asyncio.run(_measure(host, int(port), target.username()))[0]


def run() -> list[Row]:
    rows: list[Row] = []
    label = f"QoS 0 1-to-{FANOUT} {PAYLOAD} B tcp, pre-encoded"
    null = _null_rate()
    with tempfile.TemporaryDirectory(prefix="iotws-bench-harness-") as tmp:
        work = Path(tmp)
        with emulator_target(work) as (_ws, tcp):
            emu = _emulator_rate(tcp)
        mosq = _mosquitto_rate(work)
    rows.append(Row(GROUP, f"null broker {label}", null, "msg/s"))
    brokers = [("emulator (enforced)", emu)] + ([("mosquitto", mosq)] if mosq else [])
    for name, rate in brokers:
        rows.append(
            Row(
                GROUP,
                f"{name} {label}",
                rate,
                "msg/s",
                "harness >= 3 x broker",
                null >= 3 * rate,
                null,
                "null broker",
            )
        )
    return rows


if __name__ == "__main__":  # `python -m iotws.bench.harness --null-broker PORT`
    if len(sys.argv) == 3 and sys.argv[1] == "--null-broker":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve_null(int(sys.argv[2])))
    else:
        sys.exit("usage: python -m iotws.bench.harness --null-broker PORT")
