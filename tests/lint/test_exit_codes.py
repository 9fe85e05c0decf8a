"""`iotws lint` exit codes: cfn-lint's bitmask (2 error, 4 warning, 8 info) filtered by
`--fail-on`, 1 for bad input; and resources that can never match are errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from iotws.cli import main

ARN = "arn:aws:iot:us-east-1:123456789012:"
CONNECT = {"Effect": "Allow", "Action": "iot:Connect", "Resource": ARN + "client/dev-1"}


def _write(tmp_path: Path, name: str, *statements: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(
        json.dumps({"Version": "2012-10-17", "Statement": [CONNECT, *statements]}),
        encoding="utf-8",
    )
    return str(path)


def _allow(action: str, *resources: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": [ARN + r for r in resources]}


# One statement per level: an error (a topic resource with '+', never matches), a warning
# (Subscribe without Receive: nothing delivered), an info ('+' in a topic filter).
ERROR = _allow("iot:Receive", "topic/rooms/+/messages")
WARNING = _allow("iot:Subscribe", "topicfilter/news")
INFO = [_allow("iot:Subscribe", "topicfilter/rooms/+"), _allow("iot:Receive", "topic/rooms/*")]


@pytest.mark.parametrize(
    ("statements", "fail_on", "expected"),
    [
        ([], "warning", 0),
        ([ERROR], "warning", 2),
        ([WARNING], "warning", 4),
        ([*INFO], "warning", 0),
        ([*INFO], "info", 8),
        ([ERROR, WARNING], "warning", 6),
        ([ERROR, WARNING, *INFO], "info", 14),
        ([ERROR, WARNING, *INFO], "error", 2),
        ([WARNING, *INFO], "error", 0),
        ([ERROR, WARNING, *INFO], "none", 0),
    ],
)
def test_bitmask(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    statements: list[dict[str, Any]],
    fail_on: str,
    expected: int,
) -> None:
    path = _write(tmp_path, "p.json", *statements)
    assert main(["lint", "--policy", path, "--fail-on", fail_on]) == expected
    _, err = capsys.readouterr()
    assert f"exit code {expected} (--fail-on {fail_on})" in err


def test_default_fails_on_warnings_like_cfn_lint(tmp_path: Path) -> None:
    assert main(["lint", "--policy", _write(tmp_path, "w.json", WARNING)]) == 4


@pytest.mark.parametrize("action", ["iot:Receive", "iot:Publish", "iot:RetainPublish"])
@pytest.mark.parametrize("resource", ["topic/rooms/+/messages", "topic/rooms/#", "topic/a+b"])
def test_topic_resource_with_mqtt_wildcards_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], action: str, resource: str
) -> None:
    """Topic names cannot contain + or #, and in policies they are literal: such a
    resource can never match a real topic."""
    path = _write(tmp_path, "p.json", _allow(action, resource))
    code = main(["lint", "--policy", path, "--json"])
    found = json.loads(capsys.readouterr().out)
    assert ("IOTWS005", "error") in [(f["id"], f["severity"]) for f in found]
    assert code & 2


def test_bad_input_exits_1_not_a_finding_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lint", "--policy", str(tmp_path / "missing.json")]) == 1
    _, err = capsys.readouterr()
    assert err.startswith("iotws lint: error:") and "Traceback" not in err
