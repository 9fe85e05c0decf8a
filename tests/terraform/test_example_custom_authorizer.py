"""Plan tests of examples/custom-authorizer through the adapter and `terraform show -json`.

The example is built with the real toolchain (`iotws generate` + `iotws package`),
planned against moto (data sources: caller identity, IoT endpoint) and compared with the
expected inventory in `inventories/custom-authorizer.yaml`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.terraform

EXAMPLE = "custom-authorizer"
AUTH = "module.authorizer"


def _resources(module: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(module.get("resources", []))
    for child in module.get("child_modules", []):
        found += _resources(child)
    return found


def _subset(expected: Any, actual: Any, path: str) -> list[str]:
    """Differences where `actual` does not contain `expected` (dicts recursively)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected a mapping, got {actual!r}"]
        diffs: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                diffs.append(f"{path}.{key}: missing")
            else:
                diffs += _subset(value, actual[key], f"{path}.{key}")
        return diffs
    if isinstance(expected, list) and expected and isinstance(expected[0], dict):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {len(expected)} item(s), got {actual!r}"]
        return [d for i, e in enumerate(expected) for d in _subset(e, actual[i], f"{path}[{i}]")]
    return [] if expected == actual else [f"{path}: expected {expected!r}, got {actual!r}"]


@pytest.fixture(scope="module")
def plan(example_plan: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return example_plan(EXAMPLE)


@pytest.fixture(scope="module")
def planned(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """address -> planned values."""
    return {r["address"]: r["values"] for r in _resources(plan["planned_values"]["root_module"])}


@pytest.fixture(scope="module")
def config(plan: dict[str, Any]) -> dict[str, Any]:
    """The authorizer configuration the toolchain generated for this plan."""
    path = Path(plan["_build_dir"]) / "authorizer" / "config.json"
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


@pytest.fixture(scope="module")
def inventory() -> dict[str, Any]:
    path = Path(__file__).parent / "inventories" / f"{EXAMPLE}.yaml"
    result: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return result


def test_inventory_values(planned: dict[str, dict[str, Any]], inventory: dict[str, Any]) -> None:
    diffs: list[str] = []
    for address, expected in inventory["values"].items():
        if address not in planned:
            diffs.append(f"{address}: not in the plan")
            continue
        diffs += _subset(expected, planned[address], address)
    assert diffs == []


def test_inventory_counts(plan: dict[str, Any], inventory: dict[str, Any]) -> None:
    managed = [
        r for r in _resources(plan["planned_values"]["root_module"]) if r["mode"] == "managed"
    ]
    counts: dict[str, int] = {}
    for resource in managed:
        counts[resource["type"]] = counts.get(resource["type"], 0) + 1
    assert counts == inventory["counts"]
    assert len(managed) == inventory["resources"]


def test_plan_only_creates(plan: dict[str, Any]) -> None:
    actions = {
        tuple(rc["change"]["actions"]) for rc in plan["resource_changes"] if rc["mode"] == "managed"
    }
    assert actions == {("create",)}


def test_values_come_from_the_spec(
    planned: dict[str, dict[str, Any]], config: dict[str, Any]
) -> None:
    authorizer = planned[f"{AUTH}.aws_iot_authorizer.this"]
    assert authorizer["name"] == config["name"]
    assert authorizer["token_key_name"] == config["token"]["key_name"]
    function = planned[f"{AUTH}.aws_lambda_function.this"]
    assert function["function_name"] == config["name"]
    assert (
        planned[f"{AUTH}.aws_cloudwatch_log_group.this"]["name"] == f"/aws/lambda/{config['name']}"
    )


def test_function_code_is_the_packaged_zip(
    planned: dict[str, dict[str, Any]], plan: dict[str, Any]
) -> None:
    zip_path = Path(plan["_build_dir"]) / "authorizer.zip"
    digest = base64.b64encode(hashlib.sha256(zip_path.read_bytes()).digest()).decode()
    function = planned[f"{AUTH}.aws_lambda_function.this"]
    assert function["source_code_hash"] == digest
    assert function["filename"].endswith("build/authorizer.zip")


def test_permission_source_arn_is_the_authorizer(plan: dict[str, Any]) -> None:
    """The ARN is only known after apply: check that it is unknown now and wired to the
    authorizer's `arn` in the configuration (docs/custom-authorizer.md#response)."""
    change = next(
        rc
        for rc in plan["resource_changes"]
        if rc["address"] == f"{AUTH}.aws_lambda_permission.iot"
    )
    assert change["change"]["after_unknown"].get("source_arn") is True
    module = plan["configuration"]["root_module"]["module_calls"]["authorizer"]["module"]
    permission = next(r for r in module["resources"] if r["address"] == "aws_lambda_permission.iot")
    refs = permission["expressions"]["source_arn"]["references"]
    assert "aws_iot_authorizer.this.arn" in refs
    function_refs = permission["expressions"]["function_name"]["references"]
    assert "aws_lambda_function.this.function_name" in function_refs


def test_role_policy_is_least_privilege(
    planned: dict[str, dict[str, Any]], config: dict[str, Any]
) -> None:
    policy = json.loads(planned[f"{AUTH}.aws_iam_role_policy.this"]["policy"])
    statements = policy["Statement"]
    actions = sorted(a for s in statements for a in s["Action"])
    resources = [r for s in statements for r in s["Resource"]]
    assert all(s["Effect"] == "Allow" for s in statements)
    assert "*" not in resources
    log_arn = f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/{config['name']}:*"
    secret = config.get("hs256", {}).get("secret", {})
    if secret.get("source") == "ssm":
        assert actions == ["logs:CreateLogStream", "logs:PutLogEvents", "ssm:GetParameter"]
        parameter = secret["name"].lstrip("/")
        assert sorted(resources) == sorted(
            [log_arn, f"arn:aws:ssm:us-east-1:123456789012:parameter/{parameter}"]
        )
    else:
        assert actions == ["logs:CreateLogStream", "logs:PutLogEvents"]
        assert resources == [log_arn]


def test_role_trusts_only_lambda(planned: dict[str, dict[str, Any]]) -> None:
    trust = json.loads(planned[f"{AUTH}.aws_iam_role.this"]["assume_role_policy"])
    principals = [s["Principal"] for s in trust["Statement"]]
    assert principals == [{"Service": "lambda.amazonaws.com"}]


def test_outputs(plan: dict[str, Any], config: dict[str, Any]) -> None:
    outputs = plan["planned_values"]["outputs"]
    endpoint = outputs["endpoint"]["value"]
    assert endpoint.endswith("-ats.iot.us-east-1.amazonaws.com")
    assert outputs["wss_url"]["value"] == (
        f"wss://{endpoint}/mqtt?x-amz-customauthorizer-name={config['name']}"
    )
    assert outputs["web_config"]["value"] == {
        "url": f"wss://{endpoint}/mqtt",
        "authorizerName": config["name"],
        "tokenKeyName": config["token"]["key_name"],
        "prefix": config["prefix"],
        "mode": config["mode"],
    }
    secret = config.get("hs256", {}).get("secret", {})
    expected_parameter = secret["name"] if secret.get("source") == "ssm" else None
    assert outputs["secret_parameter_name"].get("value") == expected_parameter


def test_no_secret_value_in_the_plan(plan: dict[str, Any]) -> None:
    """The example references the secret by name only: no SSM parameter value is planned."""
    types = {rc["type"] for rc in plan["resource_changes"]}
    assert "aws_ssm_parameter" not in types
    assert "aws_secretsmanager_secret_version" not in types


def test_default_authorizer_variant(example_plan: Callable[..., dict[str, Any]]) -> None:
    plan = example_plan(EXAMPLE, vars={"default_authorizer_domain": "seed-dev"})
    values = {r["address"]: r["values"] for r in _resources(plan["planned_values"]["root_module"])}
    domain = values[f"{AUTH}.aws_iot_domain_configuration.this[0]"]
    assert domain["name"] == "seed-dev"
    assert domain["service_type"] == "DATA"
    assert domain["authorizer_config"][0]["allow_authorizer_override"] is False
