"""iotws.policy.lint: one failing and one passing policy per finding id (checkov style), the
report format, and `iotws lint` exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from iotws.cli import main
from iotws.policy.lint import Finding, lint_documents
from iotws.policy.rules import RULES

ARN = "arn:aws:iot:us-east-1:123456789012:"
SLOT_ARN = "arn:aws:iot:${iotws:region}:${iotws:account}:"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, *resources: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": list(resources)}


def deny(action: Any, *resources: str) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": list(resources)}


CONNECT_BOUND = allow("iot:Connect", ARN + "client/${iotws:client_id}")

# The shape the generator renders for a profile (slots kept): must lint clean.
GENERATED = [
    doc(
        allow("iot:Connect", SLOT_ARN + "client/${iotws:client_id}"),
        allow(
            "iot:Subscribe",
            SLOT_ARN + "topicfilter/demo/dev/users/${iotws:claim.sub}/*",
            SLOT_ARN + "topicfilter/demo/dev/server",
            SLOT_ARN + "topicfilter/demo/dev/rooms/*/messages",
        ),
        allow(
            "iot:Receive",
            SLOT_ARN + "topic/demo/dev/users/${iotws:claim.sub}/*",
            SLOT_ARN + "topic/demo/dev/server",
            SLOT_ARN + "topic/demo/dev/rooms/*/messages",
        ),
        allow(
            "iot:Publish",
            SLOT_ARN + "topic/demo/dev/users/${iotws:claim.sub}/out",
            SLOT_ARN + "topic/demo/dev/rooms/*/messages",
        ),
    )
]

# id -> (documents that must produce it, documents that must not)
CASES: dict[str, tuple[list[Any], list[Any]]] = {
    "IOTWS001": (
        [doc({"Effect": "allow", "Action": "iot:Publish", "Resource": "*"})],
        [doc(allow("iot:Publish", ARN + "topic/a"))],
    ),
    "IOTWS002": (
        [doc(CONNECT_BOUND, allow("iot:Subscribe", ARN + "topic/a"))],
        [
            doc(
                CONNECT_BOUND,
                allow(["iot:Subscribe", "iot:Receive"], ARN + "topicfilter/a", ARN + "topic/a"),
            )
        ],
    ),
    "IOTWS003": (
        [
            doc(allow("iot:Publish", ARN + "topicfilter/a")),
            doc(allow("iot:Receive", ARN + "topicfilter/b")),
        ],
        [doc(allow("iot:Publish", ARN + "topic/a"))],
    ),
    "IOTWS004": (
        [doc(CONNECT_BOUND, allow("iot:Subscribe", ARN + "topicfilter/rooms/*"))],
        [
            doc(
                CONNECT_BOUND,
                allow("iot:Subscribe", ARN + "topicfilter/rooms/*"),
                allow("iot:Receive", ARN + "topic/rooms/*"),
            )
        ],
    ),
    "IOTWS005": (
        [doc(allow("iot:Receive", ARN + "topic/rooms/#"))],
        [doc(allow("iot:Receive", ARN + "topic/rooms/*"))],
    ),
    "IOTWS006": (
        [
            doc(allow("iot:Connect", "*")),
            doc(allow("iot:Connect", ARN + "client/*")),
            doc(allow("iot:Connect", ARN + "client/${iot:ClientId}")),
        ],
        [
            doc(CONNECT_BOUND),
            doc(allow("iot:Connect", ARN + "client/${cognito-identity.amazonaws.com:sub}")),
        ],
    ),
    "IOTWS007": (
        [
            doc(
                allow("iot:Connect", ARN + "client/${iot:ClientId}"),
                allow("iot:Subscribe", ARN + "topicfilter/my/${iot:ClientId}/topic"),
                allow("iot:Receive", ARN + "topic/my/*"),
            )
        ],
        [
            doc(
                allow("iot:Connect", ARN + "client/clientid1"),
                allow("iot:Subscribe", ARN + "topicfilter/my/${iot:ClientId}/topic"),
                allow("iot:Receive", ARN + "topic/my/*"),
            )
        ],
    ),
    "IOTWS008": (
        [doc(allow("iot:*", ARN + "topic/a"))],
        [doc(allow(["iot:Publish", "iot:Receive"], ARN + "topic/a"))],
    ),
    "IOTWS009": (
        [doc(allow("iot:Publish", "*"))],
        [doc(allow("iot:ListRetainedMessages", "*")), doc(allow("iot:Publish", ARN + "topic/a"))],
    ),
    "IOTWS010": (
        [doc(allow("iot:Publish", *[ARN + f"topic/demo/dev/channel-{i:04d}" for i in range(50)]))],
        [doc(allow("iot:Publish", *[ARN + f"topic/demo/dev/channel-{i:04d}" for i in range(30)]))],
    ),
    "IOTWS011": (
        [doc(allow("iot:Publish", ARN + f"topic/t{i}")) for i in range(11)],
        [doc(allow("iot:Publish", ARN + f"topic/t{i}")) for i in range(10)],
    ),
    "IOTWS012": (
        [
            doc(
                CONNECT_BOUND,
                allow("iot:Subscribe", ARN + "topicfilter/a/*"),
                deny("iot:Subscribe", ARN + "topicfilter/a/restricted/*"),
                allow("iot:Receive", ARN + "topic/a/*"),
            )
        ],
        [
            doc(
                CONNECT_BOUND,
                allow("iot:Subscribe", ARN + "topicfilter/a/*"),
                deny("iot:Subscribe", ARN + "topicfilter/a/restricted/*"),
                {
                    "Effect": "Allow",
                    "Action": "iot:Receive",
                    "NotResource": ARN + "topic/a/restricted/*",
                },
            )
        ],
    ),
    "IOTWS013": (
        [doc(allow("iot:Publish", ARN + "topic/$aws/events/presence/connected/x"))],
        [
            doc(
                allow("iot:Subscribe", ARN + "topicfilter/$aws/events/presence/*"),
                allow("iot:Receive", ARN + "topic/$aws/events/presence/*"),
            )
        ],
    ),
    "IOTWS014": (
        [
            doc(allow("iot:Publish", "arn:aws:iot:eu-west-1:123456789012:topic/a")),
            doc(allow("iot:Publish", "arn:aws:iot:us-east-1:999999999999:topic/a")),
        ],
        [
            doc(allow("iot:Publish", ARN + "topic/a")),
            doc(allow("iot:Publish", SLOT_ARN + "topic/a")),
        ],
    ),
    "IOTWS015": (
        [doc(allow("iot:Publish", "arn:aws:region:accountId:topic/telemetry/x"))],
        [doc(allow("iot:Publish", ARN + "topic/telemetry/x"))],
    ),
    "IOTWS016": (
        [doc(allow("iot:Publish", ARN + "topic/${iot:Thing.ThingName}/x"))],
        [doc(allow("iot:Publish", ARN + "topic/${iot:Connection.Thing.ThingName}/x"))],
    ),
    "IOTWS017": (
        [doc({"Effect": "Allow", "NotAction": "iot:Publish", "Resource": ARN + "topic/a"})],
        [doc(allow("iot:Receive", ARN + "topic/a"))],
    ),
    "IOTWS018": (
        [
            json.dumps(
                doc(allow("iot:Publish", *[ARN + f"topic/demo/dev/c-{i:04d}" for i in range(30)])),
                indent=4,
            )
        ],
        [
            json.dumps(
                doc(allow("iot:Publish", *[ARN + f"topic/demo/dev/c-{i:04d}" for i in range(30)]))
            )
        ],
    ),
    "IOTWS019": (
        [
            doc(
                CONNECT_BOUND,
                allow("iot:Subscribe", ARN + "topicfilter/some/+/topic"),
                allow("iot:Receive", ARN + "topic/some/*/topic"),
            )
        ],
        [
            doc(
                CONNECT_BOUND,
                allow("iot:Subscribe", ARN + "topicfilter/some/*/topic"),
                allow("iot:Receive", ARN + "topic/some/*/topic"),
            )
        ],
    ),
    "IOTWS020": (
        [
            doc(
                CONNECT_BOUND,
                allow("iot:Subscribe", ARN + "topicfilter/*/*/*"),
                allow("iot:Receive", ARN + "topic/*/*/*"),
            )
        ],
        [
            doc(
                CONNECT_BOUND,
                allow("iot:Subscribe", ARN + "topicfilter/app/dev/*/*/*"),
                allow("iot:Receive", ARN + "topic/app/dev/*/*/*"),
            )
        ],
    ),
}


def ids(findings: list[Finding]) -> set[str]:
    return {f.id for f in findings}


def test_every_documented_id_has_a_case() -> None:
    # The rules are documented by the registry (docs/lint-rules.md is generated from it).
    documented = {rule.id for rule in RULES}
    assert documented == set(CASES)


@pytest.mark.parametrize("finding_id", sorted(CASES))
def test_fail_case_reports_the_finding(finding_id: str) -> None:
    failing, _ = CASES[finding_id]
    if finding_id in ("IOTWS011",):
        found = lint_documents(failing, region="us-east-1", account="123456789012")
        assert finding_id in ids(found)
        return
    for document in failing:
        docs = failing if finding_id in ("IOTWS003",) else [document]
        found = lint_documents(docs, region="us-east-1", account="123456789012")
        assert finding_id in ids(found), (document, found)


@pytest.mark.parametrize("finding_id", sorted(CASES))
def test_pass_case_does_not_report_it(finding_id: str) -> None:
    _, passing = CASES[finding_id]
    if finding_id == "IOTWS011":
        assert finding_id not in ids(lint_documents(passing))
        return
    for document in passing:
        found = lint_documents([document], region="us-east-1", account="123456789012")
        assert finding_id not in ids(found), found


def test_generated_shape_lints_clean() -> None:
    assert lint_documents(GENERATED, region="us-east-1", account="123456789012") == []
    assert lint_documents(GENERATED) == []


def test_severities_and_positions() -> None:
    found = lint_documents(
        [doc(allow("iot:Publish", ARN + "topic/a")), doc(allow("iot:Connect", "*"))],
        source="p.json",
    )
    (connect,) = [f for f in found if f.id == "IOTWS006"]
    assert (connect.severity, connect.document, connect.statement) == ("error", 1, 0)
    assert connect.source == "p.json"
    partial = lint_documents([doc(allow("iot:Connect", ARN + "client/anon-*"))])
    assert [(f.id, f.severity) for f in partial] == [("IOTWS006", "warning")]
    assert not any(f.severity == "error" for f in partial)
    wildcard_region = lint_documents(
        [doc(allow("iot:Publish", "arn:aws:iot:*:123456789012:topic/a"))], region="us-east-1"
    )
    assert [(f.id, f.severity) for f in wildcard_region] == [("IOTWS014", "warning")]


def test_render_format() -> None:
    f = Finding("IOTWS009", "warning", 2, 3, "message text", "do this")
    assert f.render() == "WARNING IOTWS009 doc[2] stmt[3]: message text (fix: do this)"
    g = Finding("IOTWS011", "error", None, None, "too many", "merge")
    assert g.render() == "ERROR IOTWS011 doc[-] stmt[-]: too many (fix: merge)"


def test_injection_without_connect_is_a_warning() -> None:
    found = lint_documents(
        [
            doc(
                allow("iot:Subscribe", ARN + "topicfilter/my/${iot:ClientId}/topic"),
                allow("iot:Receive", ARN + "topic/my/*"),
            )
        ]
    )
    assert [(f.id, f.severity) for f in found if f.id == "IOTWS007"] == [("IOTWS007", "warning")]


def test_cli_text_json_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(CASES["IOTWS006"][0][0]), encoding="utf-8")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(GENERATED), encoding="utf-8")

    assert main(["lint", "--policy", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert re.match(r"^ERROR IOTWS006 doc\[0\] stmt\[0\]: .+ \(fix: .+\)$", out.splitlines()[0])
    assert "1 error(s)" in err

    assert (
        main(["lint", "--policy", str(good), "--region", "us-east-1", "--account", "123456789012"])
        == 0
    )
    out, _ = capsys.readouterr()
    assert out == ""

    warn = tmp_path / "warn.json"
    warn.write_text(json.dumps(CASES["IOTWS009"][0][0]), encoding="utf-8")
    assert main(["lint", "--policy", str(warn), "--json"]) == 4
    out, _ = capsys.readouterr()
    data = json.loads(out)
    assert [d["id"] for d in data] == ["IOTWS009"]
    assert set(data[0]) == {"id", "severity", "document", "statement", "message", "fix", "source"}


def test_cli_invalid_json_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.json"
    path.write_text("{", encoding="utf-8")
    assert main(["lint", "--policy", str(path)]) == 1
    _, err = capsys.readouterr()
    assert "invalid JSON" in err and "Traceback" not in err


SPEC_WITH_EVERYTHING = """
version: 1
app: demo
stage: dev
aws: {region: eu-west-1, account: "210987654321"}
claims: {sub: {max_length: 32, charset: word}}
authorizer:
  mode: hs256
  hs256: {secret: {env: IOTWS_JWT_SECRET}}
  public: {profile: guest}
  select: {claim: role, values: {user: user}}
profiles:
  guest:
    client_id: "anon-*"
    subscribe: [server, "rooms/+/messages"]
    publish: ["rooms/+/messages", "clients/{client_id}/status"]
  user:
    client_id: "u-{sub}-*"
    subscribe: ["users/{sub}/#", server, "clients/{client_id}/#"]
    publish: ["users/{sub}/out"]
    receive: ["users/{sub}/#", server, "clients/{client_id}/#", "rooms/+/messages"]
"""


def test_spec_form_lints_generated_policies_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "access.yaml"
    spec.write_text(SPEC_WITH_EVERYTHING, encoding="utf-8")
    assert main(["lint", "--spec", str(spec), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == []
    assert "0 error(s)" in err


def test_spec_form_checks_region_against_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "access.yaml"
    spec.write_text(SPEC_WITH_EVERYTHING, encoding="utf-8")
    assert main(["lint", "--spec", str(spec), "--region", "us-east-1"]) == 2
    out, _ = capsys.readouterr()
    assert "== profile guest" in out and "== profile user" in out
    assert "ERROR IOTWS014" in out


@pytest.mark.parametrize("example", ["custom-authorizer", "cognito-unauth"])
def test_examples_lint_clean(example: str, capsys: pytest.CaptureFixture[str]) -> None:
    from iotws.paths import examples_dir

    spec = examples_dir() / example / "access.yaml"
    assert main(["lint", "--spec", str(spec)]) == 0
    assert capsys.readouterr().out == ""


def test_spec_form_bad_spec_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "access.yaml"
    spec.write_text("version: 2\n", encoding="utf-8")
    assert main(["lint", "--spec", str(spec)]) == 1
    _, err = capsys.readouterr()
    assert err.startswith("iotws lint: error:") and "Traceback" not in err
