"""`terraform plan` of examples/cognito-unauth against moto (no AWS account), and checkov.

The example and the module are copied into a temporary tree with the same relative
layout, the build is rendered there with `iotws generate`, and the plan's JSON is compared
with the expected inventory (resource addresses and key values).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tfkit import Tf

from iotws.cli import main as iotws_main
from iotws.paths import repo_root
from iotws.tfenv import terraform_env

pytestmark = pytest.mark.terraform

MODULE = "modules/iot-cognito-unauth"
EXAMPLE = "examples/cognito-unauth"
IGNORE = shutil.ignore_patterns(".terraform*", "terraform.tfstate*", "build", "vendor", "tests")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cognito-plan")
    for rel in (MODULE, EXAMPLE):
        shutil.copytree(repo_root() / rel, root / rel, ignore=IGNORE)
    example = root / EXAMPLE
    rc = iotws_main(
        ["generate", "--spec", str(example / "access.yaml"), "--out", str(example / "build"), "-q"]
    )
    assert rc == 0
    return root


@pytest.fixture(scope="module")
def plan(tree: Path, moto_server: str) -> dict[str, Any]:
    env = terraform_env()
    for key in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    ):
        env.pop(key, None)
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        # Every AWS API call of the provider goes to moto (provider >= 5: AWS_ENDPOINT_URL).
        AWS_ENDPOINT_URL=moto_server,
        AWS_EC2_METADATA_DISABLED="true",
    )
    tf = Tf(tree / EXAMPLE, env=env)
    tf.init()
    tf.plan(out="plan.tfplan")
    shown: dict[str, Any] = tf.show_json(tree / EXAMPLE / "plan.tfplan")
    return shown


def _resources(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for rc in plan["resource_changes"]:
        if rc["mode"] == "managed":
            assert rc["change"]["actions"] == ["create"], rc["address"]
            out[rc["address"]] = rc["change"]["after"]
    return out


def test_plan_inventory(plan: dict[str, Any], tree: Path) -> None:
    res = _resources(plan)
    assert sorted(res) == [
        "module.cognito.aws_cognito_identity_pool.this",
        "module.cognito.aws_cognito_identity_pool_roles_attachment.this",
        "module.cognito.aws_iam_role.guest",
        "module.cognito.aws_iam_role_policy.guest",
    ]
    pool = res["module.cognito.aws_cognito_identity_pool.this"]
    assert pool["allow_unauthenticated_identities"] is True
    assert pool["allow_classic_flow"] is False
    assert pool["identity_pool_name"] == "guests-dev"
    assert res["module.cognito.aws_iam_role.guest"]["name"] == "guests-dev-cognito-guest"
    rendered = json.loads((tree / EXAMPLE / "build" / "cognito" / "guest.iam.json").read_text())
    policy = json.loads(res["module.cognito.aws_iam_role_policy.guest"]["policy"])
    assert policy == rendered
    assert {s["Action"] for s in policy["Statement"]} == {
        "iot:Connect",
        "iot:Subscribe",
        "iot:Receive",
        "iot:Publish",
    }


def test_plan_web_config(plan: dict[str, Any]) -> None:
    change = plan["output_changes"]["web_config"]
    web = change["after"]
    # the pool id is known only after apply
    assert change["after_unknown"]["identityPoolId"] is True
    assert web["mode"] == "cognito"
    assert web["prefix"] == "guests/dev"
    assert web["clientId"] == "guest-{identity_id}"
    assert web["subscribe"] == ["guests/dev/server", "guests/dev/guests/{identity_id}/#"]
    assert web["publish"] == ["guests/dev/client"]
    assert web["region"] == "us-east-1"


def test_checkov_passes_with_the_justified_skip(tree: Path) -> None:
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE", CKV_NO_DOWNLOAD="true", LOG_LEVEL="ERROR")
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("checkov")),
            "--directory",
            str(tree / MODULE),
            "--framework",
            "terraform",
            "--output",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    results = report["results"]
    assert results["failed_checks"] == []
    skipped = {c["check_id"]: c for c in results["skipped_checks"]}
    assert set(skipped) == {"CKV_AWS_366"}
    assert "purpose of this module" in skipped["CKV_AWS_366"]["check_result"]["suppress_comment"]
