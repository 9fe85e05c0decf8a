"""The browser client (`client/`): its type check (`tsc --checkJs`), its Node tests
(`node --test tests/client/`, MQTT.js against a scripted broker) and its size budget."""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from iotws import webbuild

REPO = Path(__file__).resolve().parents[2]
CLIENT = REPO / "client"
NODE_MODULES = REPO / "node_modules"
# The <script> build may add at most this much (gzipped) on top of MQTT.js's own build.
BUDGET_GZIP_BYTES = 10 * 1024


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: install Node.js 20+ (needed by `make web`)")
    if not (NODE_MODULES / ".bin" / "tsc").exists():
        pytest.fail(f"{NODE_MODULES} is not installed: run `make web` first (it runs npm ci)")
    return node


def test_types_check() -> None:
    _node()
    proc = subprocess.run(
        [str(NODE_MODULES / ".bin" / "tsc"), "-p", str(CLIENT / "tsconfig.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_node_tests_pass() -> None:
    node = _node()
    proc = subprocess.run(
        [node, "--test", "--test-reporter=tap", str(Path("tests") / "client")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    passed = re.search(r"^# pass (\d+)$", out, re.M)
    failed = re.search(r"^# fail (\d+)$", out, re.M)
    assert passed and failed, out[-2000:]
    # The files hold 35 tests; a run that finds far fewer did not run them all.
    assert int(passed.group(1)) >= 35 and failed.group(1) == "0", out[-2000:]


def test_bundle_size_budget(tmp_path: Path) -> None:
    _node()
    _, esbuild = webbuild.check_node_modules(NODE_MODULES)
    bundle = webbuild.bundle_client(esbuild, CLIENT, NODE_MODULES)
    client_gz = len(gzip.compress(bundle, 9))
    mqtt_gz = len(gzip.compress((NODE_MODULES / webbuild.MQTT_DIST).read_bytes(), 9))
    print(f"iotws-client.js: {len(bundle)} bytes, {client_gz} gzipped; MQTT.js {mqtt_gz} gzipped")
    assert client_gz <= BUDGET_GZIP_BYTES, f"{client_gz} bytes gzipped > {BUDGET_GZIP_BYTES}"
    # It does not carry a copy of MQTT.js: it uses the page's global `mqtt`.
    assert b"globalThis.mqtt" in bundle
    assert b"MqttClient" not in bundle


def test_bundle_runs_as_a_classic_script(tmp_path: Path) -> None:
    # The bundle is a classic script: run it in the global scope with a global `mqtt` (what
    # vendor/mqtt.min.js provides on a page) and check the global API it defines.
    node = _node()
    _, esbuild = webbuild.check_node_modules(NODE_MODULES)
    bundle_path = tmp_path / "iotws-client.js"
    bundle_path.write_bytes(webbuild.bundle_client(esbuild, CLIENT, NODE_MODULES))
    script = f"""
const vm = require("vm"), fs = require("fs");
globalThis.mqtt = require({str(NODE_MODULES / "mqtt")!r});
vm.runInThisContext(fs.readFileSync({str(bundle_path)!r}, "utf8"));
const names = ["connect", "connectGuest", "presignWssUrl", "jwtClaims", "IotwsConnection"];
console.log(JSON.stringify(names.map((n) => typeof iotws[n])));
"""
    proc = subprocess.run(
        [node, "-e", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == '["function","function","function","function","function"]'
