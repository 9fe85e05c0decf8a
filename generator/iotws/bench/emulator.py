"""Emulator throughput against Mosquitto, with the same client harness, in one run.

Both brokers run as separate processes on 127.0.0.1: `iotws emulate` with the example's
spec (the real packaged authorizer, policies enforced on every publish and delivery) and
Debian's `mosquitto` with a generated WebSocket listener. The harness (asyncio,
`websockets` client, the emulator's own MQTT codec) publishes as fast as the broker takes
it and counts deliveries:

- publish throughput: QoS 0 and 1, 1-to-1 and 1-to-10 fan-out, 64-byte and 4 KiB payloads
  (delivered messages per second); target >= 0.5 x Mosquitto's over WebSockets;
- lost messages at QoS 1 (target 0);
- connects per second (the emulator runs the authorizer and compiles the policy on each;
  Mosquitto allows anonymous clients, so it is the upper bound, not a like-for-like).

Bounded: fixed message counts and a timeout per scenario; the whole module takes well under
two minutes.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from iotws.bench import Row
from iotws.paths import examples_dir
from iotws.spec.model import load_spec
from iotws.tokens import claims_for, mint_hs256
from iotws_emulator import codec

GROUP = "emulator"
SPEC = examples_dir() / "custom-authorizer" / "access.yaml"
SUBJECT = "bench"
CLIENT_PREFIX = f"u-{SUBJECT}-"  # the spec's user profile connects as u-{sub}-*
TOPIC = "seed/dev/users/bench/out"  # the spec's user profile may publish and receive it
SECRET_ENV = "IOTWS_BENCH_SECRET"  # noqa: S105 - a variable name, not a secret
SCENARIO_TIMEOUT = 20.0
CONNECTS = 200
MESSAGES_1TO1 = 3000
MESSAGES_FANOUT = 800
WINDOW = 100  # QoS 1 publishes in flight (IoT allows 100, docs/data-plane.md#qos-and-keep-alive)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"broker exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def stop_process(proc: subprocess.Popen[Any], grace: float = 10) -> None:
    """Stop a broker process: SIGTERM, and SIGKILL if it has not exited after `grace`
    seconds (the end-to-end tests stop their `iotws emulate` processes with it too)."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@dataclass
class Target:
    name: str
    url: str  # ws://host:port/mqtt, or tcp://host:port
    token: str | None = None  # emulator: a user token for the spec's hs256 authorizer
    pid: int | None = None  # the broker's process (for its resident memory)

    def ws_url(self) -> str:
        return self.url + (f"?token={self.token}" if self.token else "")

    def username(self) -> str | None:
        # over TCP the token travels in the user-name query
        # (docs/custom-authorizer.md#where-credentials-travel)
        return f"bench?token={self.token}" if self.token and self.url.startswith("tcp") else None


class _Ws:
    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def send(self, data: bytes) -> None:
        await self.ws.send(data)

    async def chunks(self) -> Any:
        async for data in self.ws:
            yield data

    async def close(self) -> None:
        await self.ws.close()


class _Tcp:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def chunks(self) -> Any:
        while data := await self.reader.read(65_536):
            yield data

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


@contextmanager
def emulator_target(work: Path) -> Iterator[tuple[Target, Target]]:
    secret = os.urandom(24).hex()
    spec = load_spec(SPEC)
    port, tcp_port = free_port(), free_port()
    env = {**os.environ, SECRET_ENV: secret}
    cmd = [sys.executable, "-m", "iotws.cli", "emulate", "--spec", str(SPEC)]
    cmd += ["--build", str(work / "build"), "--port", str(port), "--secret-env", SECRET_ENV]
    cmd += ["--no-throttle"]  # the harness publishes far beyond IoT's per-connection limits
    cmd += ["--tcp-port", str(tcp_port)]
    log = (work / "emulator.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_port(port, proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):  # noqa: S310
            pass
        token = mint_hs256(secret.encode(), claims_for(spec, SUBJECT, "user"), ttl_seconds=3600)
        wait_port(tcp_port, proc)
        yield (
            Target("emulator", f"ws://127.0.0.1:{port}/mqtt", token, proc.pid),
            Target("emulator", f"tcp://127.0.0.1:{tcp_port}", token, proc.pid),
        )
    finally:
        stop_process(proc)
        log.close()


def mosquitto_exe() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto") if Path(p).exists()), None
    )


@contextmanager
def _mosquitto(exe: str, work: Path, websockets: bool) -> Iterator[Target]:
    port = free_port()
    conf = work / f"mosquitto-{'ws' if websockets else 'tcp'}.conf"
    conf.write_text(
        f"listener {port}{'' if websockets else ' 127.0.0.1'}\n"
        + ("protocol websockets\n" if websockets else "")
        + "allow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages 100\n"
        "persistence false\nlog_dest none\n"
    )
    proc = subprocess.Popen(
        [exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_port(port, proc, 15)
        url = f"ws://127.0.0.1:{port}/mqtt" if websockets else f"tcp://127.0.0.1:{port}"
        yield Target("mosquitto", url)
    finally:
        if proc.poll() is None:
            stop_process(proc)


@contextmanager
def mosquitto_target(work: Path) -> Iterator[tuple[Target | None, str]]:
    """Mosquitto over WebSockets; when its WebSocket listener cannot start, over plain TCP,
    said in the note.

    Debian 12's mosquitto 2.0.11 exits "Unable to start any listening sockets" when its
    only listener is a WebSocket one; with a TCP listener beside it, the WebSocket
    listener starts but libwebsockets binds it to 0.0.0.0 whatever address or
    `bind_interface` is configured. Benchmarks here listen on 127.0.0.1 only, so that
    work-around is not used and the reference falls back to TCP.
    """
    exe = mosquitto_exe()
    if exe is None:
        yield None, "mosquitto not found (`make browser` installs it): emulator figures only"
        return
    try:
        with _mosquitto(exe, work, websockets=True) as target:
            yield target, "mosquitto over WebSockets"
            return
    except RuntimeError:
        pass
    with _mosquitto(exe, work, websockets=False) as target:
        yield (
            target,
            (
                "mosquitto's WebSocket listener did not start here: both brokers compared over "
                "plain MQTT/TCP with the same harness"
            ),
        )


# --------------------------------------------------------------------------- harness


class HarnessClient:
    """One MQTT 3.1.1 client over WebSockets, using the emulator's codec."""

    def __init__(self, ws: Any) -> None:
        self.codec = codec
        self.ws = ws
        self.decoder = codec.StreamDecoder(1 << 24, 4)
        self.received = 0
        self.seen: set[int] = set()
        self.acks = 0
        self.ack_event = asyncio.Event()
        self.suback: asyncio.Future[Any] | None = None
        self.done = asyncio.Event()
        self.expect = 0
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, target: Target, client_id: str) -> HarnessClient:
        conn: _Ws | _Tcp
        if target.url.startswith("tcp://"):
            host, port = target.url[len("tcp://") :].rsplit(":", 1)
            conn = _Tcp(*await asyncio.open_connection(host, int(port)))
        else:
            conn = _Ws(
                await connect(
                    target.ws_url(),
                    subprotocols=["mqtt"],  # type: ignore[list-item]
                    compression=None,
                    max_size=None,
                    ping_interval=None,
                )
            )
        c = cls(conn)
        hello = codec.Connect("MQTT", 4, True, 600, client_id, username=target.username())
        await conn.send(codec.encode(hello))
        packets: list[Any] = []
        async for data in conn.chunks():
            packets = c.decoder.feed(data)
            if packets:
                break
        if not packets or not isinstance(packets[0], codec.Connack) or packets[0].code != 0:
            await conn.close()
            raise RuntimeError(f"{target.name} refused {client_id}: {packets}")
        c._task = asyncio.create_task(c._read())
        return c

    async def _read(self) -> None:
        codec = self.codec
        try:
            async for data in self.ws.chunks():
                acks = bytearray()
                for p in self.decoder.feed(data):
                    if isinstance(p, codec.Publish):
                        self.received += 1
                        self.seen.add(int.from_bytes(p.payload[:4], "big"))
                        if p.qos == 1 and p.packet_id is not None:
                            acks += codec.encode(codec.Puback(p.packet_id))
                        if self.expect and len(self.seen) >= self.expect:
                            self.done.set()
                    elif isinstance(p, codec.Puback):
                        self.acks += 1
                        self.ack_event.set()
                    elif isinstance(p, codec.Suback) and self.suback is not None:
                        self.suback.set_result(p.codes)
                if acks:
                    await self.ws.send(bytes(acks))
        except Exception:  # noqa: BLE001, S110 - connection closed at the end of a run
            pass

    async def subscribe(self, topic: str, qos: int) -> None:
        codec = self.codec
        self.suback = asyncio.get_running_loop().create_future()
        await self.ws.send(
            codec.encode(codec.Subscribe(1, [codec.SubscriptionRequest(topic, qos)]))
        )
        codes = await asyncio.wait_for(self.suback, 10)
        if codes != [qos]:
            raise RuntimeError(f"subscription to {topic} refused: {codes}")

    async def close(self) -> None:
        with suppress(Exception):
            await self.ws.send(self.codec.encode(self.codec.Disconnect()))
        with suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 5)
        if self._task is not None:
            self._task.cancel()


async def _throughput(
    target: Target, qos: int, fanout: int, size: int, n: int
) -> tuple[float, int]:
    """Delivered messages per second and the number of messages lost."""
    subs = [await HarnessClient.open(target, f"{CLIENT_PREFIX}s{i}") for i in range(fanout)]
    pub = await HarnessClient.open(target, f"{CLIENT_PREFIX}p")
    try:
        for s in subs:
            await s.subscribe(TOPIC, qos)
            s.expect = n
        pad = b"x" * (size - 4)
        start = time.perf_counter()
        inflight_base = 0
        for i in range(n):
            pid = (i % 65_535) + 1 if qos else None
            if qos:
                while i - pub.acks - inflight_base >= WINDOW:
                    pub.ack_event.clear()
                    await asyncio.wait_for(pub.ack_event.wait(), SCENARIO_TIMEOUT)
            await pub.ws.send(
                codec.encode(codec.Publish(TOPIC, i.to_bytes(4, "big") + pad, qos, packet_id=pid))
            )
        deadline = start + SCENARIO_TIMEOUT
        for s in subs:
            remaining = deadline - time.perf_counter()
            if remaining > 0:
                try:
                    await asyncio.wait_for(s.done.wait(), remaining)
                except TimeoutError:
                    pass
        elapsed = time.perf_counter() - start
        delivered = sum(len(s.seen) for s in subs)
        lost = n * fanout - delivered
        return delivered / elapsed, lost
    finally:
        for c in [*subs, pub]:
            await c.close()


async def _connect_rate(target: Target, count: int, concurrency: int = 10) -> float:
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            c = await HarnessClient.open(target, f"{CLIENT_PREFIX}c{i}")
            await c.close()

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return count / (time.perf_counter() - start)


SCENARIOS = [(qos, fanout, size) for qos in (0, 1) for fanout in (1, 10) for size in (64, 4096)]


def _label(qos: int, fanout: int, size: int) -> str:
    size_text = f"{size} B" if size < 1024 else f"{size // 1024} KiB"
    return f"publish QoS {qos} 1-to-{fanout} {size_text}"


def run() -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="iotws-bench-") as tmp:
        work = Path(tmp)
        with emulator_target(work) as (emu_ws, emu_tcp), mosquitto_target(work) as (mosq, note):
            print(f"bench emulator: {note}", file=sys.stderr)
            # like for like: the emulator on the transport the reference runs on
            emu = emu_tcp if mosq is not None and mosq.url.startswith("tcp") else emu_ws
            via = "tcp" if emu is emu_tcp else "ws"
            for qos, fanout, size in SCENARIOS:
                n = MESSAGES_1TO1 if fanout == 1 else MESSAGES_FANOUT
                rate, lost = asyncio.run(_throughput(emu, qos, fanout, size, n))
                name = f"{_label(qos, fanout, size)} {via} (enforced)"
                if mosq is not None:
                    ref = asyncio.run(_throughput(mosq, qos, fanout, size, n))[0]
                    ref_name = f"mosquitto {via}"
                    ok = rate >= 0.5 * ref
                    rows.append(
                        Row(GROUP, name, rate, "msg/s", ">= 0.5 x mosquitto", ok, ref, ref_name)
                    )
                else:
                    rows.append(Row(GROUP, name, rate, "msg/s"))
                if qos == 1:
                    lost_name = f"{_label(qos, fanout, size)} {via} lost"
                    rows.append(Row(GROUP, lost_name, float(lost), "msgs", "0", lost == 0))
            if emu is emu_tcp:
                rate, lost = asyncio.run(_throughput(emu_ws, 1, 1, 64, MESSAGES_1TO1))
                rows.append(Row(GROUP, f"{_label(1, 1, 64)} ws (enforced)", rate, "msg/s"))
                rows.append(
                    Row(GROUP, f"{_label(1, 1, 64)} ws lost", float(lost), "msgs", "0", lost == 0)
                )
            conn_rate = asyncio.run(_connect_rate(emu_ws, CONNECTS))
            conn_ref = asyncio.run(_connect_rate(mosq, CONNECTS)) if mosq else None
            ref_via = "tcp" if mosq and mosq.url.startswith("tcp") else "ws"
            rows.append(
                Row(
                    GROUP,
                    "connects with authorization ws",
                    conn_rate,
                    "conn/s",
                    reference=conn_ref,
                    reference_name=f"mosquitto {ref_via}, anonymous" if conn_ref else "",
                )
            )
    return rows
