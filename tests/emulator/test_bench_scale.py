"""The scale benchmark's harness works end to end (a small run: `make bench` runs 10,000)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from iotws.bench import harness, scale
from iotws.bench.emulator import emulator_target, stop_process


def test_scale_harness_holds_connections_and_broadcasts(tmp_path: Path) -> None:
    with emulator_target(tmp_path) as (ws, _tcp):
        assert ws.pid is not None
        rows = asyncio.run(scale._scale(ws, ws.pid, 30))
    by_name = {r.name.split(" (")[0].split(":")[0]: r for r in rows}
    assert by_name["authorized ws connections held"].value == 30
    assert by_name["emulator RSS per connection"].unit == "KiB"
    broadcast = by_name["broadcast to 30 subscribers"]
    assert "delivered to 30," in next(r.name for r in rows if r.name.startswith("broadcast"))
    assert broadcast.value > 0


def test_publish_harness_counts_every_message_through_the_null_broker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(harness, "MESSAGES", 2000)

    async def run() -> tuple[float, int]:
        broker = harness.NullBroker()
        port = await broker.start()
        try:
            return await harness._measure("127.0.0.1", port, None)
        finally:
            await broker.stop()

    rate, delivered = asyncio.run(run())
    assert delivered == 2000 * harness.FANOUT  # every message reached every subscriber
    assert rate > 0


@pytest.mark.parametrize("ignores_sigterm", [False, True], ids=["terminates", "killed"])
def test_stop_process_ends_the_process(ignores_sigterm: bool) -> None:
    # The benchmark and the end-to-end fixtures stop their brokers with it.
    code = "import signal, time\n"
    if ignores_sigterm:
        code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    code += "print('ready', flush=True)\ntime.sleep(60)\n"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    stop_process(proc, grace=0.5)
    assert proc.returncode == (-signal.SIGKILL if ignores_sigterm else -signal.SIGTERM)
