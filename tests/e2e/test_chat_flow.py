"""The chat example end to end, locally: `iotws emulate --spec examples/chat/access.yaml`
(what `make demo EXAMPLE=chat` runs) with its two topic rules, the chat_message and presence
Lambdas in-process and DynamoDB in a local moto. Two users in two headless Chromium pages see
each other online, exchange messages through the rule and the Lambda, and see the other leave.
A third-party MQTT client (paho) does the same over WebSockets."""

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

import paho.mqtt.client as mqtt
import pytest

from iotws.bench.emulator import stop_process

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "chat"
PREFIX = "chat/dev"
TOKEN_RE = re.compile(r"^\s+(eyJ[\w-]+\.[\w-]+\.[\w-]+)\s*$", re.M)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ChatEmulator:
    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc = proc
        self.port = port
        self.lines: list[str] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return "\n".join(self.lines)

    def tokens(self) -> list[str]:
        return TOKEN_RE.findall(self.log())

    def wait_log(self, pattern: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.log()):
                return
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} not in the emulator log:\n{self.log()[-6000:]}")


@pytest.fixture(scope="module")
def chat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatEmulator]:
    vendor = EXAMPLE / "web" / "vendor" / "mqtt.min.js"
    assert vendor.is_file(), f"{vendor} is missing: run `make web` first"
    build = tmp_path_factory.mktemp("chat-build")
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
        "--port",
        str(port),
        "--serve",
        str(EXAMPLE / "web"),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    emu = ChatEmulator(proc, port)

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            emu.lines.append(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    try:
        deadline = time.monotonic() + 90
        while "Ctrl-C to stop" not in emu.log():
            if proc.poll() is not None:
                raise AssertionError(f"iotws emulate exited {proc.returncode}:\n{emu.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"emulator did not start:\n{emu.log()}")
            time.sleep(0.1)
        yield emu
    finally:
        stop_process(proc, grace=15)


def test_banner_says_how_to_open_two_users(chat: ChatEmulator) -> None:
    log = chat.log()
    assert len(chat.tokens()) == 2
    assert f"page with the token:  {chat.base}/?token=" in log
    assert "a second user, sub=devuser2" in log
    assert "chat_dev_chat_message  FROM 'chat/dev/rooms/+/messages/in'" in log
    assert "chat_dev_presence  FROM '$aws/events/presence/+/+'" in log
    with urllib.request.urlopen(f"{chat.base}/config.json") as r:  # noqa: S310 - local
        cfg = json.load(r)
    assert cfg["prefix"] == PREFIX and cfg["authorizerName"] == "chat-dev-authorizer"


def _open(browser: Any, base: str, token: str) -> tuple[Any, Any]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/?token={token}&room=lobby")
    page.wait_for_function("window.iotwsChat && window.iotwsChat.state === 'connected'")
    return context, page


def _wait_online(page: Any, client_id: str, present: bool = True) -> None:
    page.wait_for_function(
        "([id, present]) => window.iotwsChat.online.includes(id) === present",
        arg=[client_id, present],
        timeout=15_000,
    )


def _wait_message(page: Any, sender: str, text: str) -> None:
    page.wait_for_function(
        """([sender, text]) => window.iotwsChat.messages.some(
               (m) => m.client_id === sender && m.text === text)""",
        arg=[sender, text],
        timeout=15_000,
    )


def test_two_users_in_chromium(chat: ChatEmulator, browser: Any) -> None:
    token_a, token_b = chat.tokens()
    ctx_a, page_a = _open(browser, chat.base, token_a)
    ctx_b, page_b = _open(browser, chat.base, token_b)
    try:
        id_a = page_a.evaluate("window.iotwsChat.clientId")
        id_b = page_b.evaluate("window.iotwsChat.clientId")
        assert id_a.startswith("devuser-") and id_b.startswith("devuser2-")

        # GIVEN both connected, THEN each sees both online (presence rule + Lambda + DynamoDB)
        for page in (page_a, page_b):
            _wait_online(page, id_a)
            _wait_online(page, id_b)
        assert id_b in page_a.locator("#online").inner_text()

        # WHEN A sends, THEN B gets it through the chat_message rule and Lambda
        page_a.fill("#text", "hello from A <b>not bold</b>")
        page_a.click("#send-btn")
        _wait_message(page_b, id_a, "hello from A <b>not bold</b>")
        _wait_message(page_a, id_a, "hello from A <b>not bold</b>")
        assert "hello from A <b>not bold</b>" in page_b.locator("#messages").inner_text()
        assert page_b.locator("#messages b").count() == 0  # shown as text, never as HTML
        page_b.fill("#text", "hi A, B here")
        page_b.click("#send-btn")
        _wait_message(page_a, id_b, "hi A, B here")
        chat.wait_log(r"RULE chat_dev_chat_message fired topic=chat/dev/rooms/lobby/messages/in")
        chat.wait_log(r"LAMBDA chat_message ok")

        # WHEN B leaves, THEN A sees B go offline
        ctx_b.close()
        _wait_online(page_a, id_b, present=False)
        _wait_online(page_a, id_a)
        chat.wait_log(
            rf"LAMBDA presence ok .*\"client_id\": \"{re.escape(id_b)}\", \"online\": false"
        )
        assert page_a.evaluate("window.iotwsChat.errors") == []
    finally:
        ctx_a.close()


def _paho(chat: ChatEmulator, token: str, client_id: str) -> tuple[mqtt.Client, list[Any]]:
    got: list[Any] = []
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, transport="websockets")
    c.ws_set_options(path=f"/mqtt?x-amz-customauthorizer-name=chat-dev-authorizer&token={token}")
    c.on_message = lambda _c, _u, m: got.append((m.topic, json.loads(m.payload)))
    connected = threading.Event()
    c.on_connect = lambda _c, _u, _f, rc, _p: connected.set() if rc == 0 else None
    c.connect("127.0.0.1", chat.port, 60)
    c.loop_start()
    assert connected.wait(10), chat.log()[-3000:]
    return c, got


def _until(cond: Any, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_third_party_client_through_the_rules(chat: ChatEmulator) -> None:
    token_a, token_b = chat.tokens()
    a, got_a = _paho(chat, token_a, "devuser-paho1")
    b, got_b = _paho(chat, token_b, "devuser2-paho1")
    try:
        b.subscribe([(f"{PREFIX}/rooms/paho/messages", 1), (f"{PREFIX}/presence", 1)])
        assert _until(
            lambda: any(
                t == f"{PREFIX}/presence" and "devuser-paho1" in m["online"] for t, m in got_b
            )
        ), got_b
        # The client's payload cannot forge the sender or the room: the rule selects `text`
        # only and takes the room from the topic, the sender from the connection.
        forged = {"text": "x", "client_id": "devuser2-paho1", "room": "other"}
        a.publish(f"{PREFIX}/rooms/paho/messages/in", json.dumps(forged), qos=1)
        assert _until(lambda: any(t.endswith("/rooms/paho/messages") for t, _ in got_b))
        (msg,) = [m for t, m in got_b if t.endswith("/rooms/paho/messages")]
        assert (msg["client_id"], msg["room"], msg["text"]) == ("devuser-paho1", "paho", "x")
        # A rejected message (empty text) reaches nobody and stops nothing
        a.publish(f"{PREFIX}/rooms/paho/messages/in", json.dumps({"text": "  "}), qos=1)
        chat.wait_log(r'"reason": "text_empty"')
        a.publish(f"{PREFIX}/rooms/paho/messages/in", json.dumps({"text": "after"}), qos=1)
        assert _until(lambda: any(m.get("text") == "after" for _, m in got_b))
        assert not any(m.get("text") == "  " for _, m in got_b)
    finally:
        for c in (a, b):
            c.disconnect()
            c.loop_stop()
