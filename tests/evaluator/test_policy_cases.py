"""Run the AWS-documented ground truth (tests/policy_cases/*.yaml) through the evaluator
and, for the cases marked `cli: true`, through `iotws simulate`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from iotws.cli import main
from iotws.commands.simulate import resolve_resource
from iotws.policy.evaluator import RESULTS, PolicyError, PolicySet, Request

from .conftest import ACCOUNT, REGION, documents_of, load_cases

CASES = load_cases()
DOC_PREFIX = "https://docs.aws.amazon.com/iot/latest/developerguide/"


def _variables(check: dict[str, Any]) -> dict[str, str]:
    variables = {str(k): str(v) for k, v in (check.get("vars") or {}).items()}
    if "client_id" in check:
        variables["iot:ClientId"] = str(check["client_id"])
    return variables


def test_ground_truth_is_large_and_cited() -> None:
    assert len(CASES) >= 40
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    for case in CASES:
        assert case["page"].startswith(DOC_PREFIX) and case["page"].endswith(".html"), case["id"]
        assert case.get("example"), case["id"]
        assert ("checks" in case) != ("error" in case), case["id"]
    checks = [ch for c in CASES for ch in c.get("checks", [])]
    assert len(checks) >= 120
    # Every outcome is represented, so the table can catch a bias either way.
    assert {ch["expect"] for ch in checks} == set(RESULTS)
    pages = {c["page"].removeprefix(DOC_PREFIX) for c in CASES}
    for page in (
        "pub-sub-policy.html",
        "custom-auth-lambda.html",
        "cog-iot-policies.html",
        "basic-policy-variables.html",
        "iot-policy-variables.html",
        "connect-policy.html",
    ):
        assert page in pages


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_policy_case(case: dict[str, Any]) -> None:
    docs = documents_of(case)
    if "error" in case:
        with pytest.raises(PolicyError) as info:
            PolicySet.from_documents(docs)
        assert case["error"] in str(info.value)
        assert "document[" in str(info.value)
        return
    ps = PolicySet.from_documents(docs)
    for check in case["checks"]:
        resource = resolve_resource(check["resource"], REGION, ACCOUNT)
        context = check.get("context") or {}
        decision = ps.evaluate(Request(check["action"], resource, _variables(check), context))
        assert decision.result == check["expect"], (case["id"], check)
        if decision.result == "IMPLICIT_DENY":
            assert decision.statements == ()
        else:
            effect = "Deny" if decision.result == "EXPLICIT_DENY" else "Allow"
            assert decision.statements and all(s.effect == effect for s in decision.statements)


CLI_CASES = [c for c in CASES if c.get("cli")]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c["id"] for c in CLI_CASES])
def test_policy_case_through_cli(
    case: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps(case["policy"]), encoding="utf-8")
    ran = 0
    for check in case["checks"]:
        if check.get("context"):
            continue
        argv = ["simulate", "--policy", str(policy_file), "--action", check["action"]]
        argv += ["--resource", check["resource"]]
        if "client_id" in check:
            argv += ["--client-id", str(check["client_id"])]
        for name, value in (check.get("vars") or {}).items():
            argv += ["--var", f"{name}={value}"]
        assert main(argv) == 0
        assert capsys.readouterr().out == check["expect"] + "\n", (case["id"], check)
        ran += 1
    assert ran
    assert len(CLI_CASES) >= 8
