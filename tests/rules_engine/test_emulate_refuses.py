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


def test_rules_run_on_the_cognito_guest_path_too(tmp_path: Path) -> None:
    """A Cognito-only spec's rules run as well: a message over HTTP publish goes through the
    rule and its republish reaches the log (cloudwatch_logs) and the target topic."""
    import subprocess
    import sys
    import threading
    import time
    import urllib.request

    spec = tmp_path / "access.yaml"
    text = (REPO / "examples" / "cognito-unauth" / "access.yaml").read_text(encoding="utf-8")
    rules = (
        "\nrules:\n  audit:\n    sql: SELECT text, clientid() AS who FROM 'guests/dev/client'\n"
        "    cloudwatch_logs: [{log_group_name: /guests/audit}]\n"
    )
    spec.write_text(text + rules, encoding="utf-8")
    port = _free_port()
    cmd = [sys.executable, "-m", "iotws.cli", "emulate", "--spec", str(spec)]
    cmd += ["--build", str(tmp_path / "b"), "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)

    def wait_for(text: str) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = [line for line in list(lines) if text in line]
            if found:
                return found[0]
            assert proc.poll() is None, "".join(lines)
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not in:\n{''.join(lines)}")

    threading.Thread(target=pump, daemon=True).start()
    try:
        wait_for("Ctrl-C to stop")
        wait_for("guests_dev_audit  FROM 'guests/dev/client' -> cloudwatch_logs /guests/audit")
        req = urllib.request.Request(  # noqa: S310 - the local emulator
            f"http://127.0.0.1:{port}/topics/guests%2Fdev%2Fclient",
            data=b'{"text": "hi"}',
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310
            assert r.status == 200
        line = wait_for("cloudwatch_logs group=/guests/audit")
        assert '{"text":"hi","who":"n/a"}' in line  # clientid() is n/a over HTTP
    finally:
        proc.terminate()
        proc.wait(15)
