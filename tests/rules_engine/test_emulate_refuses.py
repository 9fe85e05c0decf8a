"""`iotws emulate` refuses to start on a rule it cannot run exactly: one clear error naming
the rule and the unsupported part, exit 2, no traceback, no port opened."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from iotws.cli import main

REPO = Path(__file__).resolve().parents[2]
CHAT = (REPO / "examples" / "chat" / "access.yaml").read_text(encoding="utf-8")
CHAT_SQL = "SELECT text, topic(4) AS room"
CHAT_LAMBDA = "lambda: [{function: chat_message}]"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        (CHAT_SQL, "SELECT upper(text) AS text, topic(4) AS room", "upper() (character 8)"),
        (
            CHAT_LAMBDA,
            "sqs: [{queue_url: 'https://sqs.us-east-1.amazonaws.com/123456789012/q'}]",
            "the sqs action is not emulated",
        ),
        (CHAT_LAMBDA, "lambda: [{function: no_such_function}]", "lambda function no_such_function"),
    ],
    ids=["unsupported function", "unsupported action", "unknown function"],
)
def test_emulate_refuses_a_rule_it_cannot_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, words: str
) -> None:
    assert old in CHAT
    spec = tmp_path / "access.yaml"
    spec.write_text(CHAT.replace(old, new, 1), encoding="utf-8")
    port = _free_port()
    argv = ["emulate", "--spec", str(spec), "--build", str(tmp_path / "b"), "--port", str(port)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "iotws emulate: error: rule chat_dev_chat_message: " in err
    assert words in err
    assert "Traceback" not in err
    with socket.socket() as s:  # the port was never opened (or is free again)
        s.bind(("127.0.0.1", port))


def test_emulate_refuses_a_bad_backends_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "access.yaml"
    spec.write_text(CHAT, encoding="utf-8")
    (tmp_path / "emulator.json").write_text(
        json.dumps({"functions": {"presence": {"environment": {"TOPIC_PREFIX": "x"}}}})
    )
    argv = ["emulate", "--spec", str(spec), "--build", str(tmp_path / "b"), "--port", "0"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "emulator.json: functions.presence.environment" in err
    assert "TOPIC_PREFIX is set by the emulator" in err
