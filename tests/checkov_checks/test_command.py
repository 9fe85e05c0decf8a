"""`iotws checkov [DIR ...]`: the one command users run the checks with."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from iotws import cli
from iotws.checkov_checks import CHECKS_DIR
from iotws.commands import checkov as checkov_command
from iotws.commands.checkov import build_command, check_ids, checkov_env

from .conftest import Report

CLEAN_STACK = """
resource "aws_iot_topic_rule" "messages" {
  name        = "demo_dev_messages"
  enabled     = true
  sql         = "SELECT * FROM 'demo/dev/rooms/+/messages'"
  sql_version = "2016-03-23"

  lambda {
    function_arn = "arn:aws:lambda:us-east-1:123456789012:function:backend"
  }

  error_action {
    cloudwatch_logs {
      log_group_name = "/iotws/rule-errors"
      role_arn       = "arn:aws:iam::123456789012:role/rule"
    }
  }
}

resource "aws_lambda_permission" "messages" {
  statement_id   = "AllowIoTRule"
  action         = "lambda:InvokeFunction"
  function_name  = "backend"
  principal      = "iot.amazonaws.com"
  source_arn     = aws_iot_topic_rule.messages.arn
  source_account = "123456789012"
}
"""


def test_the_command_line_is_the_documented_one() -> None:
    argv = build_command(Path("stack"))
    assert argv[:3] == [sys.executable, "-m", "checkov.main"]
    assert argv[3:] == [
        "-d",
        "stack",
        "--framework",
        "terraform",
        "--skip-download",
        "--external-checks-dir",
        str(CHECKS_DIR),
        "--compact",
        "--quiet",
    ]
    only = build_command("stack", iotws_only=True)
    assert only[-2:] == ["--check", ",".join(check_ids())]


def test_checkov_runs_offline() -> None:
    env = checkov_env({"PATH": "/usr/bin"})
    assert env["CKV_SKIP_PACKAGE_UPDATE_CHECK"] == "true"
    assert env["PATH"] == "/usr/bin"


def test_a_missing_directory_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = cli.main(["checkov", str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "DIR" in err and "nope" in err and "fix:" in err
    assert "Traceback" not in err


def test_the_current_directory_by_default_and_exit_0_when_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a stack that passes checkov's own checks and the kit's
    (tmp_path / "main.tf").write_text(CLEAN_STACK)
    monkeypatch.chdir(tmp_path)
    # WHEN `iotws checkov` runs with no directory
    rc = cli.main(["checkov"])
    # THEN checkov scanned it (5 checks passed) and exited 0
    out = capfd.readouterr().out
    assert rc == 0, out
    assert "Passed checks: 5, Failed checks: 0" in out


def test_several_directories_one_run_each_and_the_worst_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN three stacks whose checkov runs exit 0, 1 and 0 (checkov faked: the real exit
    # codes are covered by the session runs and the clean-stack test)
    dirs = [tmp_path / name for name in ("a", "b", "c")]
    for directory in dirs:
        directory.mkdir()
    codes = {str(dirs[0]): 0, str(dirs[1]): 1, str(dirs[2]): 0}
    calls: list[list[str]] = []

    def fake_run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        assert kwargs["env"]["CKV_SKIP_PACKAGE_UPDATE_CHECK"] == "true"
        return subprocess.CompletedProcess(argv, codes[argv[argv.index("-d") + 1]])

    monkeypatch.setattr(checkov_command.subprocess, "run", fake_run)
    # WHEN `iotws checkov a b c` runs
    rc = cli.main(["checkov", *map(str, dirs)])
    # THEN checkov ran once per directory, in order, and the worst code is returned
    assert rc == 1
    assert calls == [build_command(d) for d in dirs]
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if line.startswith("iotws checkov:")] == [
        f"iotws checkov: {d}" for d in dirs
    ]


def test_checkov_exits_1_on_findings(checkov_reports: dict[str, Report]) -> None:
    # The real exit code, from the session run over the fixtures (which have failures).
    assert checkov_reports["fixtures"].returncode == 1
