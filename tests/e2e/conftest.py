"""End-to-end fixtures: `iotws emulate` as a subprocess with the example's spec, the real
packaged authorizer and the real evaluator, serving the example page; Debian's Chromium
driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from iotws.bench.emulator import stop_process

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "custom-authorizer"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class EmulatorProcess:
    proc: subprocess.Popen[str]
    port: int
    lines: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return "\n".join(self.lines)

    def dev_token(self) -> str:
        m = re.search(r"^\s+(eyJ[\w-]+\.[\w-]+\.[\w-]+)\s*$", self.log(), re.M)
        assert m, f"no dev token in the banner:\n{self.log()}"
        return m.group(1)

    def wait_log(self, pattern: str, timeout: float = 5) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.log())
            if m:
                return m.group(0)
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} not in the emulator log:\n{self.log()}")


@pytest.fixture(scope="session")
def emulator_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    vendor = EXAMPLE / "web" / "vendor" / "mqtt.min.js"
    assert vendor.is_file(), f"{vendor} is missing: run `make web` first"
    build = tmp_path_factory.mktemp("e2e-build")
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "iotws.cli",
        "emulate",
        "--spec",
        str(EXAMPLE / "access.yaml"),
        "--build",
        str(build),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--serve",
        str(EXAMPLE / "web"),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    ep = EmulatorProcess(proc, port)

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            ep.lines.append(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"iotws emulate exited {proc.returncode}:\n{ep.log()}")
            try:
                with urllib.request.urlopen(f"{ep.base}/healthz", timeout=1) as r:  # noqa: S310
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"emulator did not start:\n{ep.log()}")
            time.sleep(0.1)
        ep.wait_log(r"Ctrl-C to stop")
        yield ep
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Module scope: Playwright's sync API keeps an event loop running while it is open,
    # which would break asyncio.run() in tests that happen to run after this module.
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), "Debian's chromium is missing: run `make browser`"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()
