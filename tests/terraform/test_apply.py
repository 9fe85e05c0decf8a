"""Every example applied, changed, planned again and destroyed against moto's server.

What `terraform apply` does that `plan` never shows (a field AWS ignores on update, a
delete AWS refuses) only appears here. moto lacks some of the APIs the kit calls; the
test-only extension `moto_ext.py` adds them with the checks of botocore's service model and
the documented rules (RSA key size, delete only when INACTIVE, no `signingDisabled` on
UpdateAuthorizer, at most 10 actions per rule).

For each example (examples/<name>/README.md, "What `terraform apply` creates"):

1. `terraform apply` of the example as shipped;
2. the change its README invites (custom-authorizer: token signing on; chat: one more topic
   rule in the spec; cognito-unauth: the guest profile may subscribe to one more topic),
   applied: what that apply planned must be exactly the expected changes and nothing else,
   so it is also the proof that the first apply converged (any drift would show up in it);
   the outcome is then read back from the fake with boto3;
3. a plan again, which must be empty;
4. `terraform destroy`, after which nothing the stack created is left in the fake account.

Terraform runs are the whole cost (each loads the provider), so the examples run at the
same time, each in its own directory and thread against one moto server (their resource
names differ); no command is run that another already proves (the change's apply reports
its plan with `-json`: no separate plan, no `terraform show`); destroy skips the refresh;
no command takes the state lock. `KNOWN_FAKE_DRIFTS` lists, in this one place, the changes
the fake is known to cause that AWS would not (empty: `moto_ext.py` fixes the drifts moto
had). The fixture runs only the examples whose tests are selected.

Select these tests with `pytest -m apply`; plain `make test` runs them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# The first test also runs the fixture that applies the examples: about 5 CPU-minutes in
# all, spread over the three threads (measured 11-13 minutes of wall time on a 2-core machine
# with a load average of 13-22); each terraform command has its own timeout (COMMAND_TIMEOUT).
pytestmark = [pytest.mark.terraform, pytest.mark.apply, pytest.mark.timeout(1500)]

EXAMPLES = ("custom-authorizer", "chat", "cognito-unauth")

# (resource type, planned action) -> why the fake makes Terraform plan it when AWS would
# not. A plan that must be empty may hold only these; anything else fails the test.
KNOWN_FAKE_DRIFTS: dict[tuple[str, str], str] = {}

TF_FLAGS = ("-input=false", "-lock=false", "-parallelism=20", "-no-color")
COMMAND_TIMEOUT = 600


class TerraformFailed(AssertionError):
    """A terraform command exited with an error (its output is in the message)."""


@dataclass
class Plan:
    """What `terraform plan -json` said: address -> (action, reason) of each change."""

    changes: dict[str, tuple[str, str | None]]
    types: dict[str, str]

    def actions(self) -> dict[str, str]:
        return {address: action for address, (action, _) in self.changes.items()}


def parse_plan(stdout: str) -> Plan:
    changes: dict[str, tuple[str, str | None]] = {}
    types: dict[str, str] = {}
    for line in stdout.splitlines():
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            continue
        if message.get("type") != "planned_change":
            continue
        change = message["change"]
        if change["action"] == "read":  # a data source read again (check blocks): no change
            continue
        resource = change["resource"]
        changes[resource["addr"]] = (change["action"], change.get("reason"))
        types[resource["addr"]] = resource["resource_type"]
    return Plan(changes, types)


@dataclass
class Stack:
    """One example in its own copy of the tree, pointed at moto."""

    name: str
    path: Path
    env: dict[str, str]
    url: str
    timings: dict[str, float] = field(default_factory=dict)

    def terraform(self, label: str, *args: str, ok: tuple[int, ...] = (0,)) -> str:
        start = time.monotonic()
        proc = subprocess.run(
            ["terraform", *args],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=COMMAND_TIMEOUT,
        )
        self.timings[label] = self.timings.get(label, 0.0) + time.monotonic() - start
        if proc.returncode not in ok:
            errors = [
                json.loads(line).get("diagnostic", {})
                for line in proc.stdout.splitlines()
                if line.startswith("{") and '"@level":"error"' in line
            ]
            detail = "\n".join(f"{d.get('summary')}: {d.get('detail')}" for d in errors)
            raise TerraformFailed(
                f"{self.name}: terraform {' '.join(args)} exited {proc.returncode}\n"
                f"{detail or proc.stderr or proc.stdout[-4000:]}"
            )
        return proc.stdout

    def apply(self, label: str) -> Plan:
        """`terraform apply`; the changes it planned and made."""
        return parse_plan(self.terraform(label, "apply", "-json", *TF_FLAGS, "-auto-approve"))

    def plan(self, label: str) -> Plan:
        return parse_plan(self.terraform(label, "plan", "-json", *TF_FLAGS))

    def destroy(self) -> None:
        self.terraform("destroy", "destroy", *TF_FLAGS, "-refresh=false", "-auto-approve")

    def state(self) -> dict[str, Any]:
        path = self.path / "terraform.tfstate"
        if not path.is_file():
            return {"resources": [], "outputs": {}}
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return state

    def managed(self) -> list[dict[str, Any]]:
        return [r for r in self.state()["resources"] if r["mode"] == "managed" and r["instances"]]

    def build(self, *, authorizer: bool = True, functions: bool = True) -> None:
        """What `make package EXAMPLE=<name>` writes into `<example>/build/` (`generate`
        always; the authorizer and function zips unless told they did not change)."""
        start = time.monotonic()
        spec = self.path / "access.yaml"
        out = self.path / "build"
        runs = [["generate", "--spec", str(spec), "--out", str(out), "--quiet"]]
        if authorizer and "authorizer" in yaml.safe_load(spec.read_text(encoding="utf-8")):
            runs.append(["package", "--build", str(out), "--out", str(out / "authorizer.zip")])
        listed = self.path / "functions.txt"
        if functions and listed.is_file():
            for fn in listed.read_text(encoding="utf-8").split():
                runs.append(["package", "--function", fn, "--out", str(out / f"{fn}.zip")])
        for args in runs:
            proc = subprocess.run(
                [sys.executable, "-m", "iotws.cli", *args],
                capture_output=True,
                text=True,
                check=False,
                timeout=COMMAND_TIMEOUT,
            )
            if proc.returncode != 0:
                raise AssertionError(f"iotws {' '.join(args)} failed:\n{proc.stderr}")
        self.timings["build"] = self.timings.get("build", 0.0) + time.monotonic() - start

    def edit_spec(self, edit: Callable[[dict[str, Any]], None], *, authorizer: bool) -> None:
        """Change the spec and build again (the function zips do not depend on it)."""
        path = self.path / "access.yaml"
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        edit(spec)
        path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
        self.build(authorizer=authorizer, functions=False)


def client(url: str, service: str, region: str = "us-east-1") -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def inventory(url: str) -> dict[str, set[str]]:
    """Everything the examples may create that exists in the fake account (us-east-1)."""
    iot = client(url, "iot")
    logs = client(url, "logs")
    cloudwatch = client(url, "cloudwatch")
    return {
        "iot authorizers": {a["authorizerName"] for a in iot.list_authorizers()["authorizers"]},
        "iot topic rules": {r["ruleName"] for r in iot.list_topic_rules()["rules"]},
        "iot domain configurations": {
            d["domainConfigurationName"]
            for d in iot.list_domain_configurations()["domainConfigurations"]
        },
        "lambda functions": {
            f["FunctionName"] for f in client(url, "lambda").list_functions()["Functions"]
        },
        "iam roles": {r["RoleName"] for r in client(url, "iam").list_roles()["Roles"]},
        "log groups": {g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]},
        "metric filters": {
            f["filterName"] for f in logs.describe_metric_filters()["metricFilters"]
        },
        "dynamodb tables": set(client(url, "dynamodb").list_tables()["TableNames"]),
        "identity pools": {
            p["IdentityPoolId"]
            for p in client(url, "cognito-identity").list_identity_pools(MaxResults=60)[
                "IdentityPools"
            ]
        },
        "cloudwatch alarms": {a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]},
        "dashboards": {
            d["DashboardName"] for d in cloudwatch.list_dashboards()["DashboardEntries"]
        },
        "sns topics": {t["TopicArn"] for t in client(url, "sns").list_topics()["Topics"]},
    }


def new_since(before: dict[str, set[str]], after: dict[str, set[str]]) -> dict[str, list[str]]:
    return {
        kind: sorted(after[kind] - before[kind]) for kind in after if after[kind] - before[kind]
    }


def state_names(stack: Stack) -> set[str]:
    """Names and ids of what the stack's state holds (to find it again after destroy)."""
    keys = ("name", "function_name", "alarm_name", "dashboard_name", "id", "arn")
    found: set[str] = set()
    for resource in stack.managed():
        for instance in resource["instances"]:
            attrs = instance.get("attributes") or {}
            found |= {str(attrs[k]) for k in keys if isinstance(attrs.get(k), str) and attrs[k]}
    return found


def unexpected(plan: Plan, expected: dict[str, str]) -> dict[str, str]:
    """Planned changes that are neither expected nor a known drift of the fake."""
    return {
        address: action
        for address, action in plan.actions().items()
        if expected.get(address) != action
        and (plan.types[address], action) not in KNOWN_FAKE_DRIFTS
    }


def rsa_public_pem(bits: int = 2048) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode("ascii")


# --------------------------------------------------------------------------- scenarios
# Each runs in its own thread; an AssertionError fails that example's test.


def converge_and_destroy(stack: Stack, observed: dict[str, Any]) -> None:
    """Steps 4 and 5: the next plan is empty; destroy leaves nothing behind."""
    again = stack.plan("plan again")
    assert unexpected(again, {}) == {}, f"{stack.name}: the plan after the change must be empty"
    names = state_names(stack)
    stack.destroy()
    observed["state after destroy"] = [r["type"] for r in stack.managed()]
    observed["left behind"] = {
        kind: sorted(values & names)
        for kind, values in inventory(stack.url).items()
        if values & names
    }


def custom_authorizer(stack: Stack, observed: dict[str, Any]) -> None:
    iot = client(stack.url, "iot")
    # GIVEN the example applied as shipped (the Lambda verifies tokens, no IoT signing)
    stack.apply("apply")
    name = json.loads((stack.path / "build/authorizer/config.json").read_text())["name"]
    observed["signing before"] = iot.describe_authorizer(authorizerName=name)[
        "authorizerDescription"
    ]["signingDisabled"]

    # WHEN the spec turns token signing on (README: "Tear down"; ACCESS_SPEC "Token signing")
    (stack.path / "signing-k1.pem").write_text(rsa_public_pem(), encoding="ascii")

    def signing_on(spec: dict[str, Any]) -> None:
        spec["authorizer"]["signing"] = {"enabled": True, "public_keys": {"k1": "signing-k1.pem"}}

    stack.edit_spec(signing_on, authorizer=True)
    plan = stack.apply("apply change")
    observed["change"] = plan.changes
    # The permission names the authorizer's ARN, known only after the replacement.
    expected = {
        "module.authorizer.terraform_data.signing_mode": "update",
        "module.authorizer.aws_iot_authorizer.this": "replace",
        "module.authorizer.aws_lambda_function.this": "update",
        "module.authorizer.aws_lambda_permission.iot": "replace",
    }
    observed["unexpected in change"] = unexpected(plan, expected)
    described = iot.describe_authorizer(authorizerName=name)["authorizerDescription"]
    observed["signing after"] = described["signingDisabled"]
    observed["keys after"] = sorted(described.get("tokenSigningPublicKeys", {}))
    converge_and_destroy(stack, observed)


def chat(stack: Stack, observed: dict[str, Any]) -> None:
    iot = client(stack.url, "iot")
    stack.apply("apply")

    # WHEN the spec gets one more rule (a republish rule with its own role)
    def one_more_rule(spec: dict[str, Any]) -> None:
        prefix = f"{spec['app']}/{spec['stage']}"
        spec["rules"]["archive"] = {
            "description": "Copies room messages to one archive topic",
            "sql": f"SELECT * FROM '{prefix}/rooms/+/messages/in'",  # noqa: S608 - IoT SQL
            "republish": [{"topic": f"{prefix}/archive"}],
        }

    stack.edit_spec(one_more_rule, authorizer=False)
    plan = stack.apply("apply change")
    observed["change"] = plan.changes
    rule = 'module.rules.aws_iot_topic_rule.this["archive"]'
    expected = {
        rule: "create",
        'module.rules.aws_iam_role.this["archive"]': "create",
        'module.rules.aws_iam_role_policy.this["archive"]': "create",
        # The dashboard shows every rule's failures.
        "module.authorizer.aws_cloudwatch_dashboard.this[0]": "update",
    }
    observed["unexpected in change"] = unexpected(plan, expected)
    rule_name = next(
        r["instances"][0]["attributes"]["name"]
        for r in stack.managed()
        if r["type"] == "aws_iot_topic_rule" and r["instances"][0].get("index_key") == "archive"
    )
    payload = iot.get_topic_rule(ruleName=rule_name)["rule"]
    observed["archive rule actions"] = [sorted(a) for a in payload["actions"]]
    converge_and_destroy(stack, observed)


def cognito_unauth(stack: Stack, observed: dict[str, Any]) -> None:
    iam = client(stack.url, "iam")
    stack.apply("apply")

    # WHEN the guest profile may also listen to a news topic (README: "Tear down")
    def more_topics(spec: dict[str, Any]) -> None:
        spec["profiles"]["guest"]["subscribe"].append("news")

    stack.edit_spec(more_topics, authorizer=False)
    plan = stack.apply("apply change")
    observed["change"] = plan.changes
    policy = "module.cognito.aws_iam_role_policy.guest"
    observed["unexpected in change"] = unexpected(plan, {policy: "update"})
    attrs = next(r for r in stack.managed() if r["type"] == "aws_iam_role_policy")
    role, policy_name = attrs["instances"][0]["attributes"]["id"].split(":", 1)
    document = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
    observed["guest policy"] = document if isinstance(document, str) else json.dumps(document)
    converge_and_destroy(stack, observed)


SCENARIOS: dict[str, Callable[[Stack, dict[str, Any]], None]] = {
    "custom-authorizer": custom_authorizer,
    "chat": chat,
    "cognito-unauth": cognito_unauth,
}


@dataclass
class Run:
    stack: Stack
    observed: dict[str, Any]
    error: BaseException | None = None
    trace: str = ""


# Which example each test reads (the fixture runs only the examples of selected tests).
TESTS = {
    "test_custom_authorizer_signing_on_replaces_the_authorizer": "custom-authorizer",
    "test_chat_one_more_rule": "chat",
    "test_cognito_unauth_change_the_guest_profile": "cognito-unauth",
}


@pytest.fixture(scope="module")
def runs(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    tf_env: dict[str, str],
    moto_url: str,
    tf_kit: Any,
) -> Iterator[dict[str, Run]]:
    """All three scenarios, run at the same time; then what each observed."""
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not on PATH", pytrace=False)
    env = dict(tf_env)
    env["TF_IN_AUTOMATION"] = "1"
    env.setdefault("CHECKPOINT_DISABLE", "1")
    baseline = inventory(moto_url)
    results: dict[str, Run] = {}
    lock = threading.Lock()

    def one(name: str) -> None:
        root = tf_kit.copy_tree(tmp_path_factory.mktemp(f"apply-{name}"))
        stack = Stack(name, root / "examples" / name, env, moto_url)
        run = Run(stack, {})
        with lock:
            results[name] = run
        try:
            stack.build()
            config = stack.path / "build" / "authorizer" / "config.json"
            region = (
                json.loads(config.read_text()).get("region") if config.is_file() else None
            ) or "us-east-1"
            (stack.path / "provider_override.tf").write_text(
                tf_kit.provider_override(moto_url, region), encoding="utf-8"
            )
            stack.terraform("init", "init", "-input=false", "-backend=false", "-no-color")
            SCENARIOS[name](stack, run.observed)
        except BaseException as exc:  # noqa: BLE001 - reported by the example's test
            run.error = exc
            run.trace = traceback.format_exc()

    selected = {TESTS[item.name] for item in request.session.items if item.name in TESTS}
    names = [name for name in EXAMPLES if name in selected]
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        list(pool.map(one, names))
    wall = time.monotonic() - start
    left = new_since(baseline, inventory(moto_url))
    for run in results.values():
        run.observed["left in the account"] = left
    yield results
    timings = "; ".join(
        f"{name} " + ", ".join(f"{k} {v:.0f}s" for k, v in run.stack.timings.items())
        for name, run in results.items()
    )
    print(f"\napply tests: {wall:.0f}s wall for {', '.join(names)} ({timings})")
    if os.environ.get("IOTWS_APPLY_TIMINGS"):
        Path(os.environ["IOTWS_APPLY_TIMINGS"]).write_text(f"{wall:.1f}\n{timings}\n")


def outcome(runs: dict[str, Run], name: str) -> dict[str, Any]:
    run = runs[name]
    if run.error is not None:
        if isinstance(run.error, AssertionError):
            raise AssertionError(f"{run.error}\n{run.trace}") from run.error
        raise run.error
    return run.observed


def assert_destroyed(observed: dict[str, Any]) -> None:
    assert observed["state after destroy"] == []
    assert observed["left behind"] == {}
    assert observed["left in the account"] == {}


def test_custom_authorizer_signing_on_replaces_the_authorizer(runs: dict[str, Run]) -> None:
    observed = outcome(runs, "custom-authorizer")
    assert observed["signing before"] is True
    # THEN the plan replaces the authorizer (AWS cannot switch signing in place) because
    # the signing mode changed, and changes nothing else than listed
    assert observed["change"]["module.authorizer.aws_iot_authorizer.this"] == (
        "replace",
        "replace_triggered_by",
    )
    assert observed["unexpected in change"] == {}
    # AND once applied, AWS's view has signing on with the spec's key
    assert observed["signing after"] is False
    assert observed["keys after"] == ["k1"]
    assert_destroyed(observed)


def test_chat_one_more_rule(runs: dict[str, Run]) -> None:
    observed = outcome(runs, "chat")
    assert observed["unexpected in change"] == {}
    assert observed["archive rule actions"] == [["republish"]]
    assert_destroyed(observed)


def test_cognito_unauth_change_the_guest_profile(runs: dict[str, Run]) -> None:
    observed = outcome(runs, "cognito-unauth")
    # THEN only the guest role's policy changes, in place
    assert observed["change"] == {"module.cognito.aws_iam_role_policy.guest": ("update", None)}
    assert "news" in observed["guest policy"]
    assert_destroyed(observed)
