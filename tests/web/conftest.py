"""Fixtures for the web tests: the checkout, node_modules, and the example's publish script."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "custom-authorizer"
NODE_MODULES = REPO / "node_modules"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """The checkout's node_modules; the tests never run npm themselves."""
    if (
        not (NODE_MODULES / "mqtt" / "dist" / "mqtt.min.js").is_file()
        or not (NODE_MODULES / ".bin" / "esbuild").exists()
    ):
        pytest.fail(f"{NODE_MODULES} is not installed: run `make web` first (it runs npm ci)")
    return NODE_MODULES


@pytest.fixture(scope="session")
def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.fail("node is not on PATH: install Node.js 20+ (it is needed by `make web`)")
    return path


def run_node(node: str, script: str, *args: str, cwd: Path | None = None) -> str:
    """Run a Node.js script given as text; return stdout, fail the test with stderr."""
    proc = subprocess.run(
        [node, "-e", script, "--", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="session")
def publish_module() -> ModuleType:
    """examples/custom-authorizer/scripts/publish.py, imported by path (it is a script)."""
    path = EXAMPLE / "scripts" / "publish.py"
    spec = importlib.util.spec_from_file_location("iotws_example_publish", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeIotData:
    """A stand-in for the IoT data endpoint's `POST /topics/{topic}` on 127.0.0.1."""

    url: str
    requests: list[Recorded] = field(default_factory=list)
    status: int = 200
    response: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def fake_iot_data() -> Iterator[FakeIotData]:
    fake = FakeIotData(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            fake.requests.append(
                Recorded("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            data = json.dumps(fake.response).encode()
            self.send_response(fake.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
