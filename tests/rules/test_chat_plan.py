"""examples/chat planned against moto's server: rules, permissions, roles, table, functions.

The example and the modules are copied to a temporary directory and built there the way
`make package EXAMPLE=chat` does (`iotws generate`, `iotws package` for the authorizer and
for every function in `examples/chat/functions.txt`); the aws provider talks to moto only
(STS and IoT answer the data sources). Terraform goes through `tfkit` (tests/support)
and `iotws.tfenv`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from motoserver import running_moto
from tfkit import TerraformError, Tf

from iotws.tfenv import terraform_env

pytestmark = pytest.mark.terraform

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
RULES = "module.rules"
IGNORE = shutil.ignore_patterns(
    ".terraform", ".terraform.lock.hcl", "terraform.tfstate*", "build", "*.tfplan", "vendor"
)


def _iotws(*args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "iotws.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if proc.returncode != 0:
        pytest.fail(f"iotws {' '.join(args)} failed:\n{proc.stderr}", pytrace=False)


def build(example: Path) -> Path:
    """What `make package EXAMPLE=chat` writes into `<example>/build/`."""
    out = example / "build"
    spec = str(example / "access.yaml")
    _iotws("generate", "--spec", spec, "--out", str(out), "--quiet")
    _iotws("package", "--spec", spec, "--out", str(out / "authorizer.zip"))
    for name in (example / "functions.txt").read_text(encoding="utf-8").split():
        _iotws("package", "--function", name, "--out", str(out / f"{name}.zip"))
    return out


def provider_override(url: str) -> str:
    endpoints = "\n".join(
        f'    {svc} = "{url}"' for svc in ("dynamodb", "iam", "iot", "lambda", "logs", "sts")
    )
    return f"""provider "aws" {{
  region                      = "{REGION}"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {{
{endpoints}
  }}
}}
"""


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with running_moto() as url:
        yield url


@pytest.fixture(scope="module")
def planned_example(
    tmp_path_factory: pytest.TempPathFactory, moto_url: str
) -> tuple[dict[str, Any], Path]:
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not on PATH: install Terraform >= 1.9", pytrace=False)
    root = tmp_path_factory.mktemp("chat-plan")
    shutil.copytree(REPO / "modules", root / "modules", ignore=IGNORE)
    shutil.copytree(REPO / "examples" / "chat", root / "examples" / "chat", ignore=IGNORE)
    workdir = root / "examples" / "chat"
    out = build(workdir)
    (workdir / "provider_override.tf").write_text(provider_override(moto_url), encoding="utf-8")
    env = terraform_env()
    for key in [k for k in env if k.startswith("AWS_")]:
        del env[key]
    env |= {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_CONFIG_FILE": os.devnull,
    }
    tf = Tf(workdir, env=env)
    try:
        tf.init()
        tf.plan(out="plan.tfplan")
        return tf.show_json("plan.tfplan"), out
    except TerraformError as exc:
        pytest.fail(exc.render(), pytrace=False)


def _resources(module: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(module.get("resources", []))
    for child in module.get("child_modules", []):
        found += _resources(child)
    return found


@pytest.fixture(scope="module")
def planned(planned_example: tuple[dict[str, Any], Path]) -> dict[str, dict[str, Any]]:
    plan, _ = planned_example
    return {r["address"]: r["values"] for r in _resources(plan["planned_values"]["root_module"])}


def _policy(planned: dict[str, dict[str, Any]], address: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = json.loads(planned[address]["policy"])["Statement"]
    return statements


def test_plan_only_creates(planned_example: tuple[dict[str, Any], Path]) -> None:
    plan, _ = planned_example
    actions = {tuple(rc["change"]["actions"]) for rc in plan["resource_changes"]}
    assert actions == {("create",)}


def test_rules_are_named_and_versioned(planned: dict[str, dict[str, Any]]) -> None:
    chat = planned[f'{RULES}.aws_iot_topic_rule.this["chat_message"]']
    presence = planned[f'{RULES}.aws_iot_topic_rule.this["presence"]']
    assert chat["name"] == "chat_dev_chat_message"
    assert presence["name"] == "chat_dev_presence"
    assert chat["sql_version"] == presence["sql_version"] == "2016-03-23"
    # the room is topic level 4 of chat/dev/rooms/<room>/messages/in
    assert chat["sql"] == (
        "SELECT text, topic(4) AS room, clientid() AS client_id, timestamp() AS ts "
        "FROM 'chat/dev/rooms/+/messages/in'"
    )
    assert presence["sql"].startswith("SELECT * FROM '$aws/events/presence/+/+'")
    for rule in (chat, presence):
        assert rule["enabled"] is True
        (error_action,) = rule["error_action"]
        assert error_action["cloudwatch_logs"][0]["log_group_name"] == "/iotws/chat_dev/rule-errors"


def test_lambda_permissions_are_bound_to_rule_and_account(
    planned_example: tuple[dict[str, Any], Path],
) -> None:
    plan, _ = planned_example
    changes = {rc["address"]: rc["change"] for rc in plan["resource_changes"]}
    for key in ("chat_message", "presence"):
        change = changes[f'{RULES}.aws_lambda_permission.this["{key}/0"]']
        assert change["after"]["principal"] == "iot.amazonaws.com"
        assert change["after"]["source_account"] == ACCOUNT
        assert change["after"]["action"] == "lambda:InvokeFunction"
        # the rule's ARN is known only after apply: it must come from the rule resource
        assert change["after_unknown"]["source_arn"] is True
    config = plan["configuration"]["root_module"]["module_calls"]["rules"]["module"]
    (permission,) = [r for r in config["resources"] if r["address"] == "aws_lambda_permission.this"]
    assert "aws_iot_topic_rule.this" in permission["expressions"]["source_arn"]["references"]


def test_backend_roles_are_least_privilege(planned: dict[str, dict[str, Any]]) -> None:
    topic = f"arn:aws:iot:{REGION}:{ACCOUNT}:topic"
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/chat-dev-presence"
    logs = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda"
    assert _policy(planned, 'aws_iam_role_policy.function["chat_message"]') == [
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"{logs}/chat-dev-chat-message:*"],
        },
        {
            "Sid": "PublishToRooms",
            "Effect": "Allow",
            "Action": ["iot:Publish"],
            "Resource": [f"{topic}/chat/dev/rooms/*/messages"],
        },
    ]
    assert _policy(planned, 'aws_iam_role_policy.function["presence"]') == [
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"{logs}/chat-dev-presence:*"],
        },
        {
            "Sid": "WritePresence",
            "Effect": "Allow",
            "Action": ["dynamodb:UpdateItem"],
            "Resource": [table],
        },
        {
            "Sid": "ListOnline",
            "Effect": "Allow",
            "Action": ["dynamodb:Query"],
            "Resource": [f"{table}/index/online"],
        },
        {
            "Sid": "PublishPresence",
            "Effect": "Allow",
            "Action": ["iot:Publish", "iot:RetainPublish"],
            "Resource": [f"{topic}/chat/dev/presence"],
        },
    ]


def test_rule_roles_only_write_the_error_log(planned: dict[str, dict[str, Any]]) -> None:
    for key in ("chat_message", "presence"):
        assert _policy(planned, f'{RULES}.aws_iam_role_policy.this["{key}"]') == [
            {
                "Sid": "CloudwatchLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                "Resource": [
                    f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/iotws/chat_dev/rule-errors:*"
                ],
            }
        ]


def test_presence_table(planned: dict[str, dict[str, Any]]) -> None:
    table = planned["aws_dynamodb_table.presence"]
    assert table["name"] == "chat-dev-presence"
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    assert table["hash_key"] == "client_id"
    assert table["point_in_time_recovery"] == [{"enabled": True}]
    assert table["server_side_encryption"][0]["enabled"] is True
    assert table["ttl"] == [{"attribute_name": "expires_at", "enabled": True}]
    (index,) = table["global_secondary_index"]
    assert (index["name"], index["hash_key"], index["range_key"]) == (
        "online",
        "online_key",
        "client_id",
    )
    assert index["projection_type"] == "KEYS_ONLY"


def test_functions_run_the_packaged_zips(
    planned: dict[str, dict[str, Any]], planned_example: tuple[dict[str, Any], Path]
) -> None:
    _, out = planned_example
    for key, name in (("chat_message", "chat-dev-chat-message"), ("presence", "chat-dev-presence")):
        function = planned[f'aws_lambda_function.backend["{key}"]']
        digest = hashlib.sha256((out / f"{key}.zip").read_bytes()).digest()
        assert function["function_name"] == name
        assert function["handler"] == "app.handler"
        assert function["source_code_hash"] == base64.b64encode(digest).decode()
        env = function["environment"][0]["variables"]
        assert env["TOPIC_PREFIX"] == "chat/dev"
        assert env["IOT_DATA_ENDPOINT"].startswith("https://")
        assert env["IOT_DATA_ENDPOINT"].endswith(f".iot.{REGION}.amazonaws.com")
    presence_env = planned['aws_lambda_function.backend["presence"]']["environment"][0]
    assert presence_env["variables"]["TABLE_NAME"] == "chat-dev-presence"
    config = planned['aws_lambda_function_event_invoke_config.backend["chat_message"]']
    assert config["maximum_retry_attempts"] == 2


def test_web_config_output(planned_example: tuple[dict[str, Any], Path]) -> None:
    plan, out = planned_example
    web = plan["planned_values"]["outputs"]["web_config"]["value"]
    spec_config = json.loads((out / "authorizer" / "config.json").read_text(encoding="utf-8"))
    assert web["authorizerName"] == spec_config["name"] == "chat-dev-authorizer"
    assert web["tokenKeyName"] == "token"
    assert web["prefix"] == "chat/dev"
    assert web["mode"] == "hs256"
    assert web["url"].startswith("wss://") and web["url"].endswith("/mqtt")


def test_local_backends_match_the_planned_table_and_environment(
    planned: dict[str, dict[str, Any]],
) -> None:
    """examples/chat/emulator.json (what `iotws emulate` creates in moto and sets for the
    presence function) describes the same table, index and variables as the plan."""
    local = json.loads((REPO / "examples" / "chat" / "emulator.json").read_text())["functions"]
    (table,) = local["presence"]["dynamodb_tables"]
    planned_table = planned["aws_dynamodb_table.presence"]
    assert table["TableName"] == planned_table["name"]
    assert table["BillingMode"] == planned_table["billing_mode"]
    assert {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]} == {
        a["name"]: a["type"] for a in planned_table["attribute"]
    }
    assert table["KeySchema"] == [{"AttributeName": planned_table["hash_key"], "KeyType": "HASH"}]
    (index,) = table["GlobalSecondaryIndexes"]
    (planned_index,) = planned_table["global_secondary_index"]
    assert index["IndexName"] == planned_index["name"]
    assert index["KeySchema"] == [
        {"AttributeName": planned_index["hash_key"], "KeyType": "HASH"},
        {"AttributeName": planned_index["range_key"], "KeyType": "RANGE"},
    ]
    assert index["Projection"]["ProjectionType"] == planned_index["projection_type"]
    planned_env = planned['aws_lambda_function.backend["presence"]']["environment"][0]["variables"]
    for key, value in local["presence"]["environment"].items():
        assert planned_env[key] == value, key
