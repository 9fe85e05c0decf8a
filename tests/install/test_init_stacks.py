"""What a user does, with the installed kit (conftest.py) and nothing of the checkout but the
modules, by path: for every `--auth`, `iotws init` a stack in an empty folder, run its
`make demo` until one client (paho-mqtt over WebSockets) is connected and receives a message
through the emulator, then its `make plan` (terraform init, validate and plan against the
local provider mirror, `iotws tf-env`) with the aws provider pointed at moto.

The four stacks run side by side (one thread each: the work is in subprocesses).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kit_install import REPO, KitVenv, free_port
from motoserver import running_moto

AUTHS = ("public", "hs256", "jwks", "cognito")
WITH_RULES = {"hs256"}
# The modules' kit-version check needs one plan to prove it (the same variable in each module).
STALE_BUILD = "public"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
MOTO_ACCOUNT = "123456789012"
AWS_SERVICES = ("cognitoidentity", "iam", "iot", "kms", "lambda", "logs", "ssm", "sts")

# One xdist worker runs both files that use the installed kit: the wheel and the venv are
# built once per session (tests/conftest.py groups by file otherwise).
pytestmark = pytest.mark.xdist_group("install")


def provider_override(url: str) -> str:
    """The aws provider with fake credentials, talking to moto only (a test-only file)."""
    endpoints = "\n".join(f'    {svc} = "{url}"' for svc in AWS_SERVICES)
    return f"""provider "aws" {{
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  max_retries                 = 1

  endpoints {{
{endpoints}
  }}
}}
"""


@dataclass
class Stack:
    auth: str
    path: Path
    demo: Future[dict[str, Any]] = field(default_factory=Future)
    plan: Future[str] = field(default_factory=Future)
    stale_build: Future[str] = field(default_factory=Future)
    timings: dict[str, float] = field(default_factory=dict)


def _check(proc: subprocess.CompletedProcess[str], what: str) -> str:
    if proc.returncode != 0:
        raise AssertionError(
            f"{what} exited {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc.stdout


class Demo:
    """`make demo PORT=...` in the stack, its output collected, stopped by its process group."""

    def __init__(self, stack: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            ["make", "demo", f"PORT={self.port}"],
            cwd=stack,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_ready(self, timeout: float = 150) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(line.startswith("Ctrl-C to stop") for line in self.lines):
                return
            if self.proc.poll() is not None:
                time.sleep(0.2)
                raise AssertionError("make demo exited:\n" + "\n".join(self.lines[-60:]))
            time.sleep(0.2)
        raise AssertionError("make demo did not start:\n" + "\n".join(self.lines[-60:]))

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def get(self, path: str) -> tuple[int, bytes]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as res:
            return int(res.status), res.read()


def _banner_value(lines: list[str], after: str) -> str | None:
    for i, line in enumerate(lines):
        if line.startswith(after) and i + 1 < len(lines):
            return lines[i + 1].strip()
    return None


def connect_and_receive(demo: Demo, auth: str, prefix: str) -> dict[str, Any]:
    """One paho-mqtt client over WebSockets, the way the stack's page connects: subscribe to
    `<prefix>/server`, have the backend side publish there (HTTP), wait for the message."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    status, body = demo.get("/config.json")
    cfg = json.loads(body)
    suffix = uuid.uuid4().hex[:8]
    query = ""
    if auth == "cognito":
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config

        from iotws.presign import AwsCredentials, presign_wss_url

        cognito = boto3.client(
            "cognito-identity",
            region_name=cfg["region"],
            endpoint_url=cfg["cognitoEndpoint"],
            config=Config(signature_version=UNSIGNED),
        )
        identity = cognito.get_id(IdentityPoolId=cfg["identityPoolId"])["IdentityId"]
        got = cognito.get_credentials_for_identity(IdentityId=identity)["Credentials"]
        creds = AwsCredentials(got["AccessKeyId"], got["SecretKey"], got["SessionToken"])
        url = presign_wss_url(cfg["endpoint"], cfg["region"], creds)
        query = url.split("/mqtt", 1)[1]
        client_id = f"guest-{identity}"
    else:
        name = cfg.get("authorizerName") or re.search(
            r"x-amz-customauthorizer-name=([^\s&]+)", "\n".join(demo.lines)
        ).group(1)  # type: ignore[union-attr]
        query = f"?x-amz-customauthorizer-name={name}"
        token = _banner_value(demo.lines, "dev token for sub=")
        if auth == "hs256":
            assert token, "\n".join(demo.lines)
            query += f"&token={token}"
            client_id = f"u-devuser-{suffix}"
        else:
            client_id = f"anon-{suffix}"

    connected = threading.Event()
    subscribed = threading.Event()
    received: list[bytes] = []
    got_message = threading.Event()
    codes: list[Any] = []

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, transport="websockets")
    client.ws_set_options(path="/mqtt" + query)

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        codes.append(reason)
        if not reason.is_failure:
            connected.set()
            client.subscribe(f"{prefix}/server", qos=1)

    def on_subscribe(_c: Any, _u: Any, _mid: Any, reasons: Any, _p: Any) -> None:
        codes.extend(reasons)
        if all(not r.is_failure for r in reasons):
            subscribed.set()

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        received.append(msg.payload)
        got_message.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect("127.0.0.1", demo.port, keepalive=30)
    client.loop_start()
    try:
        assert connected.wait(15), f"{auth}: not connected: {codes}\n" + "\n".join(demo.lines)
        assert subscribed.wait(10), f"{auth}: subscribe refused: {codes}"
        payload = json.dumps({"text": f"hello {auth}"}).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{demo.port}/topics/{prefix}/server?qos=1", data=payload
        )
        with urllib.request.urlopen(req, timeout=10) as res:  # noqa: S310 - http://127.0.0.1
            assert res.status == 200
        assert got_message.wait(10), f"{auth}: no message arrived"
    finally:
        client.disconnect()
        client.loop_stop()
    page_status, page = demo.get("/")
    console_status, console = demo.get("/console")
    state_status, state = demo.get("/console/state")
    return {
        "console_status": console_status,
        "console": console.decode(),
        "console_state": (state_status, json.loads(state)),
        "client_id": client_id,
        "received": received,
        "sent": payload,
        "page_status": page_status,
        "page": page.decode(),
        "config": cfg,
    }


def run_stack(stack: Stack, kit: KitVenv, env: dict[str, str], moto_url: str) -> None:
    def make(*args: str, timeout: float = 300) -> str:
        proc = subprocess.run(
            ["make", *args],
            cwd=stack.path,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return _check(proc, f"make {' '.join(args)} ({stack.auth})")

    try:
        cmd = [
            str(kit.iotws),
            "init",
            str(stack.path),
            "--auth",
            stack.auth,
            "--modules-path",
            str(REPO / "modules"),
        ]
        if stack.auth in WITH_RULES:
            cmd.append("--with-rules")
        _check(
            subprocess.run(
                cmd,
                cwd=stack.path.parent,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            ),
            "iotws init",
        )
        t0 = time.monotonic()
        demo = Demo(stack.path, env)
        try:
            demo.wait_ready()
            prefix = f"{re.sub('[^a-z0-9]', '', stack.path.name)}/dev"
            stack.timings["demo"] = time.monotonic() - t0
            stack.demo.set_result(connect_and_receive(demo, stack.auth, prefix))
        finally:
            demo.stop()
    except BaseException as exc:  # noqa: BLE001 - reported by the test that reads it
        stack.demo.set_exception(exc)
        stack.plan.set_exception(AssertionError(f"not planned: the demo failed ({exc})"))
        stack.stale_build.set_exception(AssertionError("not run"))
        return
    try:
        (stack.path / "provider_override.tf").write_text(provider_override(moto_url))
        t0 = time.monotonic()
        stack.plan.set_result(ANSI.sub("", make("plan")))
        stack.timings["plan"] = time.monotonic() - t0
    except BaseException as exc:  # noqa: BLE001
        stack.plan.set_exception(exc)
        stack.stale_build.set_exception(AssertionError("not run"))
        return
    if stack.auth != STALE_BUILD:
        stack.stale_build.set_exception(AssertionError("not run"))
        return
    try:
        # A build from another kit version: the modules refuse it at plan time.
        meta = stack.path / "build" / "metadata.json"
        meta.write_text(json.dumps({"kit": "iotws", "kit_version": "0.0.1"}))
        proc = subprocess.run(
            ["bash", "-c", 'eval "$(iotws tf-env --shell)"; terraform plan -input=false -no-color'],
            cwd=stack.path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        stack.stale_build.set_result(f"{proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    except BaseException as exc:  # noqa: BLE001
        stack.stale_build.set_exception(exc)


def warm_plugin_cache(folder: Path, env: dict[str, str]) -> None:
    """Fill the installed kit's Terraform plugin cache (`iotws tf-env`) with one init before the
    four stacks init side by side: Terraform's plugin cache is not safe for concurrent
    installs into it (https://developer.hashicorp.com/terraform/cli/config/config-file#provider-plugin-cache),
    and four inits into an empty cache left a stack without its provider binary."""
    folder.mkdir()
    (folder / "main.tf").write_text(
        'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n  }\n}\n'
    )
    _check(
        subprocess.run(
            ["bash", "-c", 'eval "$(iotws tf-env --shell)"; terraform init -input=false -no-color'],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        ),
        "terraform init (plugin cache)",
    )


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    with running_moto() as url:
        yield url


@pytest.fixture(scope="session")
def stacks(
    kit_venv: KitVenv, moto_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Stack]]:
    home = tmp_path_factory.mktemp("user")
    env = kit_venv.env(XDG_CACHE_HOME=str(home / "cache"))
    for key in ("TF_CLI_CONFIG_FILE", "TF_PLUGIN_CACHE_DIR", "TF_DATA_DIR"):
        env.pop(key, None)
    warm_plugin_cache(home / "warm", env)
    result = {a: Stack(a, home / f"web-{a}") for a in AUTHS}
    pool = ThreadPoolExecutor(max_workers=len(AUTHS))
    for stack in result.values():
        pool.submit(run_stack, stack, kit_venv, env, moto_server)
    yield result
    pool.shutdown(wait=True)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("auth", AUTHS)
def test_init_then_demo_connects_a_client(stacks: dict[str, Stack], auth: str) -> None:
    out = stacks[auth].demo.result(timeout=500)
    # GIVEN the stack's make demo, WHEN paho-mqtt connects and the backend publishes,
    # THEN the message arrives, and the stack's page and its client bundle are served.
    assert out["received"] == [out["sent"]]
    assert out["page_status"] == 200
    assert "./vendor/iotws-client.js" in out["page"]
    assert out["console_status"] == 200 and "<html" in out["console"].lower()
    assert out["console_state"][0] == 200
    path = stacks[auth].path
    assert (path / "web" / "vendor" / "iotws-client.js").stat().st_size > 1000
    assert (path / "web" / "vendor" / "mqtt.min.js").stat().st_size > 10000
    meta = json.loads((path / "build" / "metadata.json").read_text())
    from iotws import __version__

    assert (meta["kit"], meta["kit_version"]) == ("iotws", __version__)
    assert (meta["spec"]["copy"], meta["spec"]["path"]) == ("spec/access.yaml", "../access.yaml")


@pytest.mark.timeout(600)
@pytest.mark.parametrize("auth", AUTHS)
def test_init_then_plan(stacks: dict[str, Stack], auth: str) -> None:
    out = stacks[auth].plan.result(timeout=550)
    print(f"{auth}: {stacks[auth].timings}")
    assert "Success! The configuration is valid." in out
    if auth == "cognito":
        assert "module.cognito.aws_cognito_identity_pool.this will be created" in out
    else:
        assert "module.authorizer.aws_iot_authorizer.this will be created" in out
        assert "module.authorizer.aws_lambda_function.this will be created" in out
    if auth in WITH_RULES:
        assert re.search(r"module\.rules\.aws_iot_topic_rule\.this\[\"\w+\"\] will be created", out)
    assert re.search(r"Plan: \d+ to add, 0 to change, 0 to destroy", out)
    # the modules came from the checkout, by path
    modules = json.loads(
        (stacks[auth].path / ".terraform" / "modules" / "modules.json").read_text()
    )["Modules"]
    assert all(m["Source"].startswith("../") for m in modules if m["Key"]), modules


@pytest.mark.timeout(600)
def test_plan_refuses_a_build_from_another_kit_version(stacks: dict[str, Stack]) -> None:
    out = stacks[STALE_BUILD].stale_build.result(timeout=550)
    code, _, text = out.partition("\n")
    assert code != "0", text
    flat = " ".join(text.split())
    assert "build_metadata" in flat
    assert "make package" in flat
