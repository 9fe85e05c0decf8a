"""`iotws emulate --build DIR` alone: the build directory is the only source
(docs/design.md#decision-10). The real CLI (`.venv/bin/iotws`) runs in subprocesses from a
folder outside the checkout, on a build whose original spec has been deleted; paho-mqtt
connects over WebSockets with the dev token the banner prints (custom authorizer) or with
a SigV4-presigned URL from the fake Cognito endpoint, through boto3 (Cognito guests)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import boto3
import pytest
from emuhelpers import PahoClient

from iotws.presign import AwsCredentials, presign_wss_url

REPO = Path(__file__).resolve().parents[2]
IOTWS = str(Path(sys.executable).with_name("iotws"))  # .venv/bin/iotws
SEED = REPO / "examples" / "custom-authorizer" / "access.yaml"
GUESTS = REPO / "examples" / "cognito-unauth" / "access.yaml"
# The seed example plus one rule: what the build's rules.json says must run.
ECHO_RULE = """
rules:
  echo:
    description: every client message, back to the server topic
    sql: "SELECT * FROM 'seed/dev/client'"
    republish: [{topic: seed/dev/server}]
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def iotws(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [IOTWS, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


class Emulate:
    """`iotws emulate ...` as a subprocess, its output collected line by line."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [IOTWS, "emulate", *args, "--port", str(self.port)],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def log(self) -> str:
        return "\n".join(self.lines)

    def banner(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while "Ctrl-C to stop." not in self.lines:
            if self.proc.poll() is not None:
                time.sleep(0.2)  # the rest of its output
                raise AssertionError(f"iotws emulate exited {self.proc.returncode}:\n{self.log()}")
            assert time.monotonic() < deadline, f"no banner:\n{self.log()}"
            time.sleep(0.05)
        return self.log()

    def publish(self, topic: str, payload: bytes) -> None:
        url = f"http://127.0.0.1:{self.port}/topics/{quote(topic, safe='')}?qos=0"
        req = urllib.request.Request(url, payload, method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:  # noqa: S310 - 127.0.0.1
            assert r.status == 200

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def emulate() -> Iterator[list[Emulate]]:
    started: list[Emulate] = []
    yield started
    for e in started:
        e.stop()


def _project(root: Path, spec_text: str) -> tuple[Path, Path]:
    """A user's folder outside the checkout: access.yaml, built into build/ by the CLI; then
    the spec is deleted, so only the build directory is left to read it from."""
    proj = root / "proj"
    proj.mkdir()
    (proj / "access.yaml").write_text(spec_text, encoding="utf-8")
    done = iotws("generate", "--spec", "access.yaml", "--out", "build", "-q", cwd=proj)
    assert done.returncode == 0, done.stderr
    (proj / "access.yaml").unlink()
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    return proj / "build", elsewhere


def test_custom_authorizer_from_the_build_alone(tmp_path: Path, emulate: list[Emulate]) -> None:
    """GIVEN a build (no zip yet) whose spec is gone WHEN `iotws emulate --build DIR` runs
    from another folder THEN it packages the zip from DIR, prints a dev token that connects,
    and routes messages by the spec's policies and the build's rules."""
    assert str(tmp_path.resolve()).startswith(str(REPO)) is False
    build, cwd = _project(tmp_path, SEED.read_text(encoding="utf-8") + ECHO_RULE)
    emu = Emulate(["--build", "../proj/build"], cwd)
    emulate.append(emu)
    banner = emu.banner()
    assert "packaged the authorizer from ../proj/build" in banner
    assert re.search(r"access\.yaml, the spec this build was made from, is not there", banner)
    assert "spec                  ../proj/build/spec/access.yaml (the build's copy" in banner
    assert "--prefix seed/dev" in banner and "Traceback" not in banner
    assert "echo  FROM 'seed/dev/client' -> republish seed/dev/server" in banner
    token = re.search(r"^dev token for sub=devuser .*\n\s+(\S+)$", banner, re.M)
    assert token, banner
    client_id = re.search(r"connect with client id (\S+)", banner)
    assert client_id and client_id.group(1) == "u-devuser-1"
    assert (build / "authorizer.zip").is_file()

    name = "seed-dev-authorizer"
    c = PahoClient(
        emu.port,
        client_id.group(1),
        query=f"x-amz-customauthorizer-name={name}&token={quote(token.group(1), safe='')}",
    )
    try:
        c.connect()
        assert c.subscribe("seed/dev/server", "seed/dev/users/devuser/#") == [1, 1]
        # another user's channel: the policy from the build refuses it
        assert c.subscribe("seed/dev/users/devuser2/#") == [128]
        c.publish_acked("seed/dev/users/devuser/out", b"mine")
        assert c.get().payload == b"mine"
        c.publish_acked("seed/dev/client", b"via the rule")  # republished to seed/dev/server
        got = c.get()
        assert (got.topic, got.payload) == ("seed/dev/server", b"via the rule")
        emu.publish("seed/dev/server", b"from a backend")
        assert c.get().payload == b"from a backend"
    finally:
        c.close()
    # A wrong token is refused: the authorizer of the zip decides, not a stub.
    bad = PahoClient(
        emu.port, "u-devuser-2", query=f"x-amz-customauthorizer-name={name}&token=x.y.z"
    )
    try:
        bad.connect(expect_ok=False)
        assert not bad.connected.is_set()
    finally:
        bad.close()


def test_cognito_guests_from_the_build_alone(tmp_path: Path, emulate: list[Emulate]) -> None:
    """GIVEN a Cognito-only build whose spec is gone WHEN `iotws emulate --build DIR` THEN
    a guest gets credentials from the fake Cognito endpoint (boto3), connects with a
    SigV4-presigned URL (paho) and the guest IAM policy of the build applies."""
    build, cwd = _project(tmp_path, GUESTS.read_text(encoding="utf-8"))
    emu = Emulate(["--build", str(build)], cwd)
    emulate.append(emu)
    banner = emu.banner()
    assert f"Cognito guest path, IAM policy {build}/cognito/guest.iam.json" in banner
    pool = re.search(r"identity pool\s+(\S+)", banner)
    assert pool, banner
    cognito = boto3.client(
        "cognito-identity",
        endpoint_url=f"http://127.0.0.1:{emu.port}/cognito",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    identity = cognito.get_id(IdentityPoolId=pool.group(1))["IdentityId"]
    creds = cognito.get_credentials_for_identity(IdentityId=identity)["Credentials"]
    url = presign_wss_url(
        f"ws://127.0.0.1:{emu.port}", "us-east-1", AwsCredentials.from_cognito(creds)
    )
    c = PahoClient(emu.port, f"guest-{identity}", query=urlsplit(url).query)
    try:
        c.connect()
        assert c.subscribe("guests/dev/server") == [1]
        assert c.subscribe("guests/dev/guests/us-east-1:someone-else/#") == [128]
        emu.publish("guests/dev/server", b"everyone")
        assert c.get().payload == b"everyone"
    finally:
        c.close()
    with urllib.request.urlopen(f"http://127.0.0.1:{emu.port}/config.json") as r:  # noqa: S310
        assert json.load(r)["subscribe"] == "guests/dev/server"


def test_spec_and_build_of_another_text_rebuilds(tmp_path: Path, emulate: list[Emulate]) -> None:
    """GIVEN a build made from one text of the spec WHEN the spec changes and `iotws
    emulate --spec S --build DIR` runs THEN DIR is built again from S (the banner says why),
    and the build then records S's sha256."""
    proj = tmp_path / "proj"
    proj.mkdir()
    spec = proj / "access.yaml"
    shutil.copy(SEED, spec)
    assert iotws("generate", "--spec", "access.yaml", "--out", "build", cwd=proj).returncode == 0
    old = json.loads((proj / "build/metadata.json").read_text())["spec"]["sha256"]
    spec.write_text(SEED.read_text(encoding="utf-8") + ECHO_RULE, encoding="utf-8")
    emu = Emulate(["--spec", "access.yaml", "--build", "build"], proj)
    emulate.append(emu)
    banner = emu.banner()
    assert re.search(
        rf"built access\.yaml into build: the build there was made from another text of the "
        rf"spec \(sha256 {old[:12]}\.\.\., access\.yaml is [0-9a-f]{{12}}\.\.\.\)",
        banner,
    ), banner
    assert "echo  FROM 'seed/dev/client'" in banner
    meta = json.loads((proj / "build/metadata.json").read_text())
    assert meta["spec"]["path"] == "../access.yaml"
    assert (proj / "build/spec/access.yaml").read_bytes() == spec.read_bytes()
    assert "--spec access.yaml" in banner  # the commands name the spec that was given
