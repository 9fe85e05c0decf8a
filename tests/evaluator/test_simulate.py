"""`iotws simulate`: output words, input forms and user errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from iotws.cli import main

ARN = "arn:aws:iot:us-east-1:123456789012:"
DOC = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": ARN + "topicfilter/a/*"},
        {"Effect": "Deny", "Action": "iot:Subscribe", "Resource": ARN + "topicfilter/a/secret"},
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": ARN + "client/${iot:ClientId}"},
        {
            "Effect": "Allow",
            "Action": "iot:Publish",
            "Resource": "arn:aws:iot:eu-west-1:210987654321:topic/"
            "${cognito-identity.amazonaws.com:sub}",
        },
    ],
}


def write(tmp_path: Path, name: str, data: Any) -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(["simulate", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("topicfilter/a/#", "ALLOWED"),
        (ARN + "topicfilter/a/#", "ALLOWED"),
        ("topicfilter/a/secret", "EXPLICIT_DENY"),
        ("topicfilter/b/#", "IMPLICIT_DENY"),
    ],
)
def test_prints_exactly_one_word(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], resource: str, expected: str
) -> None:
    policy = write(tmp_path, "p.json", DOC)
    rc, out, _ = run(
        capsys, "--policy", policy, "--action", "iot:Subscribe", "--resource", resource
    )
    assert (rc, out) == (0, expected + "\n")


def test_region_account_and_vars(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = write(tmp_path, "p.json", DOC)
    base = ["--policy", policy, "--action", "iot:Publish", "--resource", "topic/us-east-1:abc"]
    assert run(capsys, *base)[1] == "IMPLICIT_DENY\n"
    where = ["--region", "eu-west-1", "--account", "210987654321"]
    assert run(capsys, *base, *where)[1] == "IMPLICIT_DENY\n"
    sub = ["--var", "cognito-identity.amazonaws.com:sub=us-east-1:abc"]
    assert run(capsys, *base, *where, *sub)[1] == "ALLOWED\n"


def test_client_id_sets_iot_client_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = write(tmp_path, "p.json", DOC)
    base = ["--policy", policy, "--action", "iot:Connect", "--resource", "client/c7"]
    assert run(capsys, *base, "--client-id", "c7")[1] == "ALLOWED\n"
    assert run(capsys, *base, "--client-id", "c8")[1] == "IMPLICIT_DENY\n"
    assert run(capsys, *base)[1] == "IMPLICIT_DENY\n"


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = write(tmp_path, "p.json", DOC)
    rc, out, _ = run(
        capsys,
        "--policy",
        policy,
        "--action",
        "iot:subscribe",
        "--resource",
        "topicfilter/a/secret",
        "--json",
    )
    assert rc == 0
    data = json.loads(out)
    assert data["result"] == "EXPLICIT_DENY"
    assert data["action"] == "iot:Subscribe"
    assert data["resource"] == ARN + "topicfilter/a/secret"
    assert data["statements"] == [{"document": 0, "statement": 1, "effect": "Deny", "sid": None}]


def test_policy_file_forms_and_repeated_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deny_doc = {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Deny",
            "Action": "iot:Subscribe",
            "Resource": ARN + "topicfilter/a/x",
        },
    }
    response = {"isAuthenticated": True, "policyDocuments": [json.dumps(DOC)]}
    p_resp = write(tmp_path, "resp.json", response)
    p_list = write(tmp_path, "list.json", [deny_doc])
    base = ["--action", "iot:Subscribe", "--resource", "topicfilter/a/x"]
    assert run(capsys, "--policy", p_resp, *base)[1] == "ALLOWED\n"
    rc, out, _ = run(capsys, "--policy", p_resp, "--policy", p_list, *base, "--json")
    assert json.loads(out)["statements"] == [
        {"document": 1, "statement": 0, "effect": "Deny", "sid": None}
    ]


@pytest.mark.parametrize(
    ("files", "args", "message"),
    [
        (
            {"p.json": "{not json"},
            ["--action", "iot:Publish", "--resource", "topic/a"],
            "invalid JSON",
        ),
        (
            {"p.json": DOC},
            ["--action", "iot:Fly", "--resource", "topic/a"],
            "unknown action 'iot:Fly'",
        ),
        ({"p.json": DOC}, ["--action", "iot:Publish", "--resource", "queue/a"], "--resource"),
        (
            {"p.json": DOC},
            ["--action", "iot:Publish", "--resource", "topic/a", "--var", "novalue"],
            "--var",
        ),
        (
            {"p.json": DOC},
            ["--action", "iot:Publish", "--resource", "topic/a", "--region", "mars"],
            "--region",
        ),
        (
            {
                "p.json": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "iot:Publish"}],
                }
            },
            ["--action", "iot:Publish", "--resource", "topic/a"],
            "Statement[0]",
        ),
        (
            {"p.json": {"policyDocuments": ["{broken"]}},
            ["--action", "iot:Publish", "--resource", "topic/a"],
            "policyDocuments[0]",
        ),
        (
            {
                "p.json": {
                    "Version": "2012-10-17",
                    "Statement": {
                        "Effect": "Allow",
                        "Action": "iot:Connect",
                        "Resource": "*",
                        "Condition": {"DateLessThan": {"aws:CurrentTime": "x"}},
                    },
                }
            },
            ["--action", "iot:Connect", "--resource", "client/a"],
            "DateLessThan",
        ),
    ],
)
def test_user_errors_are_one_clear_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    files: dict[str, Any],
    args: list[str],
    message: str,
) -> None:
    paths = [write(tmp_path, name, data) for name, data in files.items()]
    rc, out, err = run(capsys, "--policy", paths[0], *args)
    assert rc != 0
    assert out == ""
    assert err.startswith("iotws simulate: error: ")
    assert message in err
    assert "Traceback" not in err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(
        capsys,
        "--policy",
        str(tmp_path / "none.json"),
        "--action",
        "iot:Publish",
        "--resource",
        "topic/a",
    )
    assert rc != 0 and "cannot read policy file" in err


def test_resource_type_mismatch_warns_but_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = write(tmp_path, "p.json", DOC)
    rc, out, err = run(
        capsys, "--policy", policy, "--action", "iot:Subscribe", "--resource", "topic/a/x"
    )
    assert (rc, out) == (0, "IMPLICIT_DENY\n")
    assert "topicfilter" in err
