"""Answers instead of silence: what `make demo` runs (`iotws emulate` without -v) logs
the authorizer's reason for every refused connection, never the token or the secret;
its banner prints commands that work here (the venv's Python, `make token`); a port in
use says `make demo PORT=...`."""

from __future__ import annotations

import os
import queue
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import jwt
import paho.mqtt.client as mqtt
import pytest

REPO = Path(__file__).resolve().parents[2]
SPEC = "examples/custom-authorizer/access.yaml"
SECRET = "tour-test-secret-0123456789-abcdefghijklmnop"
IOTWS = str(Path(sys.executable).with_name("iotws"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Emulator:
    def __init__(self, port: int, log: Path, proc: subprocess.Popen[bytes]) -> None:
        self.port, self.log, self.proc = port, log, proc

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    tmp = tmp_path_factory.mktemp("emu")
    port = free_port()
    log = tmp / "emulator.log"
    env = {**os.environ, "IOTWS_JWT_SECRET": SECRET}
    with log.open("wb") as fh:
        proc = subprocess.Popen(  # the command `make demo` runs, as it runs it
            [
                IOTWS,
                "emulate",
                "--spec",
                SPEC,
                "--build",
                str(tmp / "build"),
                "--serve",
                "examples/custom-authorizer/web",
                "--port",
                str(port),
                "--secret-env",
                "IOTWS_JWT_SECRET",
            ],
            cwd=REPO,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    emu = Emulator(port, log, proc)
    try:
        deadline = time.monotonic() + 60
        while "Ctrl-C to stop" not in emu.text():
            assert proc.poll() is None, emu.text()
            assert time.monotonic() < deadline, emu.text()
            time.sleep(0.1)
        yield emu
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def connect(port: int, token: str | None, client_id: str) -> int:
    """Connect with paho-mqtt over WebSockets; the CONNACK reason (0: accepted)."""
    path = "/mqtt?x-amz-customauthorizer-name=seed-dev-authorizer"
    if token is not None:
        path += "&token=" + quote(token, safe="")
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, transport="websockets"
    )
    client.ws_set_options(path=path)
    result: queue.Queue[int] = queue.Queue()
    client.on_connect = lambda c, u, f, rc, p=None: result.put(int(rc.value))
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    try:
        return result.get(timeout=10)
    finally:
        client.loop_stop()
        client.disconnect()


def token(secret: str = SECRET, **overrides: object) -> str:
    now = int(time.time())
    claims = {
        "sub": "alice",
        "aud": "seed-web",
        "role": "user",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        **overrides,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


@pytest.mark.parametrize(
    ("make_token", "client_id", "reason"),
    [
        (lambda: token(iat=1, nbf=1, exp=100), "u-alice-1", "expired"),
        (
            lambda: token()[:-2] + ("AA" if not token().endswith("AA") else "BB"),
            "u-alice-2",
            "bad_signature",
        ),
        (
            lambda: token(secret="another-secret-of-sufficient-length-123"),
            "u-alice-3",
            "bad_signature",
        ),
        (lambda: token(aud="someone-else"), "u-alice-4", "wrong_audience"),
        (lambda: token(), "u-bob-1", "bad_client_id"),
    ],
    ids=["expired", "tampered", "wrong-secret", "wrong-audience", "foreign-client-id"],
)
def test_every_refusal_logs_the_authorizers_reason(
    emulator: Emulator, make_token: object, client_id: str, reason: str
) -> None:
    tok = make_token()  # type: ignore[operator]
    assert connect(emulator.port, tok, client_id) != 0
    deadline = time.monotonic() + 5
    pattern = re.compile(rf"DENY connect client={re.escape(client_id)}: .*, reason {reason}\b")
    while not any(pattern.search(line) for line in emulator.text().splitlines()):
        assert time.monotonic() < deadline, emulator.text()[-3000:]
        time.sleep(0.05)
    text = emulator.text()
    assert tok not in text and tok.split(".")[2] not in text  # never the token
    assert SECRET not in text  # never the secret


def test_valid_token_and_guest_connect(emulator: Emulator) -> None:
    assert connect(emulator.port, token(), "u-alice-9") == 0
    assert connect(emulator.port, None, "anon-9") == 0


def test_banner_commands_work_here(emulator: Emulator) -> None:
    text = emulator.text()
    python = next(line.split()[0] for line in text.splitlines() if "publish.py" in line)
    assert python != "python" and Path(REPO, python).exists(), python
    assert "make token SUB=alice" in text
    publish = next(line.strip() for line in text.splitlines() if "publish.py" in line)
    out = subprocess.run(
        shlex.split(publish), cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr


def test_port_in_use_says_make_demo_port(emulator: Emulator) -> None:
    out = subprocess.run(
        [IOTWS, "emulate", "--spec", SPEC, "--port", str(emulator.port)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode != 0
    assert re.search(r"make demo PORT=\d+", out.stderr), out.stderr
    assert "Traceback" not in out.stderr
