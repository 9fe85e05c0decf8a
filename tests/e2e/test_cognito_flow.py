"""The Cognito guest flow in headless Chromium: `iotws emulate` with the cognito-unauth
example's spec serves its page; the page gets guest credentials from the emulator's fake
Cognito Identity (GetId, GetCredentialsForIdentity), presigns a SigV4 WebSocket URL
(docs/cognito-guests.md#binding-the-client-id), connects, subscribes under the guest IAM policy and
receives a
message published with boto3's `iot-data` client."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from iotws.bench.emulator import stop_process

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "cognito-unauth"
PREFIX = "guests/dev"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Guests:
    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc = proc
        self.port = port
        self.lines: list[str] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return "\n".join(self.lines)

    def wait_log(self, pattern: str, timeout: float = 5) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.log())
            if m:
                return m.group(0)
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} not in the emulator log:\n{self.log()}")


@pytest.fixture(scope="module")
def guests_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guests]:
    for name in ("iotws-client.js", "mqtt.min.js"):
        assert (EXAMPLE / "web" / "vendor" / name).is_file(), f"{name} missing: run `make web`"
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "iotws.cli",
        "emulate",
        "--spec",
        str(EXAMPLE / "access.yaml"),
        "--build",
        str(tmp_path_factory.mktemp("cognito-build")),
        "--port",
        str(port),
        "--serve",
        str(EXAMPLE / "web"),
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    g = Guests(proc, port)

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            g.lines.append(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    try:
        g.wait_log(r"Ctrl-C to stop", timeout=30)
        yield g
    finally:
        stop_process(proc)


def test_config_json_has_the_guest_page_keys(guests_emulator: Guests) -> None:
    with urllib.request.urlopen(f"{guests_emulator.base}/config.json") as r:  # noqa: S310
        cfg = json.load(r)
    host = f"127.0.0.1:{guests_emulator.port}"
    assert cfg["endpoint"] == f"ws://{host}"
    assert cfg["cognitoEndpoint"] == f"http://{host}/cognito"
    assert cfg["region"] == "us-east-1"
    assert re.fullmatch(r"us-east-1:[0-9a-f-]{36}", cfg["identityPoolId"])
    assert cfg["clientId"] == "guest-{identity_id}"
    assert cfg["subscribe"] == f"{PREFIX}/server"
    assert cfg["publish"] == f"{PREFIX}/client"


def test_guest_page_connects_and_receives(guests_emulator: Guests, page: Any) -> None:
    base = guests_emulator.base
    page.goto(f"{base}/?autoconnect=1")
    page.wait_for_function(
        "window.iotwsGuest && (window.iotwsGuest.connected || window.iotwsGuest.errors.length)",
        timeout=15_000,
    )
    assert page.evaluate("window.iotwsGuest.errors") == []
    identity = page.evaluate("window.iotwsGuest.identityId")
    assert re.fullmatch(r"us-east-1:[0-9a-f-]{36}", identity)
    assert page.evaluate("window.iotwsGuest.clientId") == f"guest-{identity}"
    guests_emulator.wait_log(
        rf"ALLOW upgrade sigv4 from 127\.0\.0\.1: key=ASIA\w+ identity={identity}"
    )
    guests_emulator.wait_log(rf"ALLOW connect client=guest-{identity} .*profile=guest")
    guests_emulator.wait_log(rf"ALLOW subscribe client=guest-{identity} filter={PREFIX}/server")

    iot = boto3.client(
        "iot-data",
        endpoint_url=base,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    iot.publish(topic=f"{PREFIX}/server", qos=1, payload=b'{"text": "hello guests"}')
    page.wait_for_function(
        "window.iotwsGuest.messages.some(m => m.payload.indexOf('hello guests') >= 0)",
        timeout=10_000,
    )
    assert "hello guests" in page.inner_text("#messages")
    # the page never sent an unsigned or badly signed upgrade
    assert "DENY upgrade" not in guests_emulator.log()


def test_unsigned_upgrade_is_refused_with_403(guests_emulator: Guests) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with pytest.raises(InvalidStatus) as info:
        connect(
            f"ws://127.0.0.1:{guests_emulator.port}/mqtt",
            subprotocols=["mqtt"],  # type: ignore[list-item]
            open_timeout=5,
        ).close()
    assert info.value.response.status_code == 403
    guests_emulator.wait_log(r"DENY upgrade sigv4 from 127\.0\.0\.1: missing X-Amz-Algorithm")
