"""examples/chat/web: the page's topics and URL match the spec and the Lambdas (Node.js)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "examples" / "chat" / "web"
CHAT_JS = WEB / "chat.js"


@pytest.fixture(scope="module")
def lib() -> Any:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: install Node.js 20+ (needed by `make web`)")

    def call(expression: str) -> Any:
        script = (
            f"const lib = require({str(CHAT_JS)!r});\n"
            "let out; try { out = " + expression + "; } catch (e) { out = {error: e.message}; }\n"
            "process.stdout.write(JSON.stringify(out));\n"
        )
        proc = subprocess.run(
            [node, "-e", script], capture_output=True, text=True, timeout=30, check=False
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    return call


def test_room_topics_follow_the_spec(lib: Any) -> None:
    assert lib("lib.roomTopics('chat/dev', 'lobby')") == {
        "publish": "chat/dev/rooms/lobby/messages/in",
        "subscribe": "chat/dev/rooms/lobby/messages",
    }
    for bad in ("a/b", "+", "#", "", "x" * 65, "$aws"):
        assert "error" in lib(f"lib.roomTopics('chat/dev', {json.dumps(bad)})")


def test_config(lib: Any) -> None:
    cfg = lib(
        "lib.mergeConfig({url: 'wss://h-ats.iot.us-east-1.amazonaws.com/mqtt',"
        " authorizerName: 'chat-dev-authorizer', tokenKeyName: 'token', prefix: '/chat/dev/',"
        " mode: 'hs256'}, '?token=a%2Bb&room=general')"
    )
    assert cfg["prefix"] == "chat/dev" and cfg["room"] == "general" and cfg["token"] == "a+b"
    # The URL with the authorizer name and the token is the client module's (tests/client).


def test_client_id_follows_the_sub_rule(lib: Any) -> None:
    # `sub` as the client module reads it from the token (unverified: the authorizer verifies)
    client_id = lib("lib.chooseClientId({}, 'alice', require('crypto').webcrypto)")
    assert re.fullmatch(r"alice-[0-9a-f]{8}", client_id)
    given = lib("lib.chooseClientId({clientId: 'x-1'}, 'alice', require('crypto').webcrypto)")
    assert given == "x-1"


def test_messages_as_the_lambdas_publish_them(lib: Any) -> None:
    message = {"id": "r1", "room": "lobby", "client_id": "alice-1", "text": "hi", "ts": 1}
    assert lib(f"lib.parseChatMessage({json.dumps(json.dumps(message))})") == message
    assert lib("lib.parseChatMessage('not json')") is None
    assert lib("lib.parseChatMessage('{\"text\": 1}')") is None
    presence = {"type": "presence", "change": {}, "online": ["a-1", 2, "b-1"], "truncated": False}
    assert lib(f"lib.parsePresence({json.dumps(json.dumps(presence))})") == ["a-1", "b-1"]


def test_page_loads_mqtt_then_chat_and_never_uses_inner_html() -> None:
    page = (WEB / "index.html").read_text(encoding="utf-8")
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert scripts == ["./vendor/mqtt.min.js", "./vendor/iotws-client.js", "./chat.js"]
    for element_id in ("status", "messages", "online", "room", "text", "send-btn", "client-id"):
        assert f'id="{element_id}"' in page
    assert "innerHTML" not in CHAT_JS.read_text(encoding="utf-8")
