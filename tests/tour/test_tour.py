"""The tour runs as written: every command in README.md, examples/**/README.md and docs/
is run from the repository root, as a new user would paste it (see tests/tour/markdown.py
for the block kinds).

- `sh` blocks must succeed. Commands that start a server (`make demo`, `python3 -m
  http.server`) run in the background until the end of their file, and must answer HTTP;
  the demo's port 8080 and the page server's 8000 are moved to free ports (the only change
  made to a command) so the test can run beside other servers. `make test` is not run: it
  is the command that runs this test.
- `sh aws` blocks run without AWS credentials and must stop at the credentials check,
  which says that `make demo` needs none; nothing before it may fail.
- `python` blocks run with the kit's venv.
Every command is also checked statically: no placeholders (`<event>`), no tools that are
not on a fresh clone's PATH (`iotws`, `python`, `pip` without `.venv/bin/`), valid bash.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from tourdocs import SERVER, Block, blocks, inline_spans

REPO = Path(__file__).resolve().parents[2]
FILES = sorted(
    [REPO / "README.md", REPO / "examples" / "README.md"]
    + list((REPO / "examples").glob("*/README.md"))
    + list((REPO / "docs").glob("*.md")),
)
NOT_RUN = {"make test": "the command that runs this test"}
CREDENTIAL_CHECKS = ("make aws-credentials", "make plan", "make deploy")
PLACEHOLDER = re.compile(r"<[A-Za-z][\w .-]*>")
# A command position: line start, or after a pipe, && / ||, ; or $( .
BARE_TOOL = re.compile(r"(^|[|;&(]\s*|\$\(\s*)(iotws|python3?|pip3?)\s")


def rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def all_blocks() -> list[Block]:
    return [b for f in FILES for b in blocks(f)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def user_env(tmp: Path) -> dict[str, str]:
    """A new user's shell: no AWS credentials of any kind, no make state from `make test`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")
    }
    venv_bin = str(REPO / ".venv" / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    env.update(
        AWS_CONFIG_FILE=str(tmp / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        IOTWS_JWT_SECRET="tour-test-secret-0123456789-abcdefghijklmnop",
    )
    return env


# ----------------------------------------------------------------------------- static


def test_readme_starts_with_make_demo_and_make_test() -> None:
    first = blocks(REPO / "README.md")[0]
    assert first.commands == ["make demo", "make test"], first.commands


def test_there_are_commands_to_run() -> None:
    runnable = [c for b in all_blocks() for c in b.commands if c not in NOT_RUN]
    assert len(runnable) >= 30, len(runnable)


@pytest.mark.parametrize("block", all_blocks(), ids=lambda b: f"{rel(b.path)}:{b.line}")
def test_block_is_valid_and_has_no_placeholders(block: Block) -> None:
    if block.kind == "python":
        compile(block.text, block.where, "exec")
        return
    out = subprocess.run(["bash", "-n"], input=block.text, text=True, capture_output=True)
    assert out.returncode == 0, f"{block.where}: {out.stderr}"
    for cmd in block.commands:
        assert not PLACEHOLDER.search(cmd), f"{block.where}: placeholder in {cmd!r}"
        assert not BARE_TOOL.search(cmd), (
            f"{block.where}: {cmd!r} uses a tool that is not on a fresh clone's PATH: "
            "write .venv/bin/iotws, .venv/bin/python or a make target"
        )
    if block.kind == "sh aws":
        assert block.commands[0].startswith(CREDENTIAL_CHECKS), (
            f"{block.where}: a block that needs AWS starts with a credentials check "
            f"({', '.join(CREDENTIAL_CHECKS)}), not {block.commands[0]!r}"
        )


@pytest.mark.parametrize("path", FILES, ids=rel)
def test_inline_commands_are_real(path: Path) -> None:
    """Commands quoted in the prose follow the same rules as the blocks."""
    for line, span in inline_spans(path):
        looks_like_command = re.match(r"(make|\.venv/bin/|iotws|python3?)\b", span) and (
            " --" in span or "=" in span
        )
        if not looks_like_command:
            continue
        assert not PLACEHOLDER.search(span), f"{rel(path)}:{line}: placeholder in `{span}`"
        assert not BARE_TOOL.search(span), (
            f"{rel(path)}:{line}: `{span}`: write .venv/bin/iotws (or a make target)"
        )


# ---------------------------------------------------------------------------- running


class Servers:
    """Servers started by one file's blocks; stopped (their process groups) at the end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: list[subprocess.Popen[bytes]] = []
        self.started: set[str] = set()

    def start(self, cmd: str, port: int, where: str) -> None:
        if cmd in self.started:  # the same server again (e.g. README's first block)
            return
        self.started.add(cmd)
        log = self.logs / f"server-{len(self.procs)}.log"
        with log.open("wb") as fh:
            proc = subprocess.Popen(
                ["bash", "-c", cmd],
                cwd=REPO,
                env=self.env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, f"{where}: {cmd!r} exited:\n{log.read_text()[-3000:]}"
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                    assert resp.status == 200
                    return
            assert time.monotonic() < deadline, f"{where}: {cmd!r} did not come up"
            time.sleep(0.5)

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


@contextlib.contextmanager
def servers(env: dict[str, str], logs: Path) -> Iterator[Servers]:
    s = Servers(env, logs)
    try:
        yield s
    finally:
        s.stop()


def with_ports(cmd: str, ports: dict[str, int]) -> str:
    for fixed, free in ports.items():
        cmd = re.sub(rf"\b{fixed}\b", str(free), cmd)
    if cmd.startswith("make demo") and "PORT=" not in cmd:
        cmd += f" PORT={ports['8080']}"
    return cmd


def run_block(block: Block, env: dict[str, str], srv: Servers, ports: dict[str, int]) -> int:
    """Run one block; the number of commands it ran."""
    if block.kind == "python":
        out = subprocess.run(
            [str(REPO / ".venv" / "bin" / "python"), "-c", block.text],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, f"{block.where}:\n{out.stderr}"
        return 1
    script, count = ["set -euo pipefail"], 0
    for cmd in block.commands:
        if cmd in NOT_RUN:
            continue
        cmd = with_ports(cmd, ports)
        count += 1
        if SERVER.match(cmd):
            m = re.search(r"PORT=(\d+)", cmd) or re.search(r"http\.server (\d+)", cmd)
            assert m, f"{block.where}: which port does {cmd!r} listen on?"
            port = int(m.group(1))
            srv.start(cmd, port, block.where)
        else:
            script.append(cmd)
    if len(script) == 1:
        return count
    out = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if block.kind == "sh aws":
        assert out.returncode != 0, f"{block.where}: ran without AWS credentials:\n{out.stdout}"
        assert "no AWS credentials found" in out.stderr, f"{block.where}:\n{out.stderr[-3000:]}"
        assert "make demo needs no AWS account" in out.stderr, out.stderr
        return 1  # the block stops at its first command, the credentials check
    assert out.returncode == 0, (
        f"{block.where}: exit {out.returncode}\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    )
    return count


@pytest.mark.parametrize("path", [f for f in FILES if blocks(f)], ids=rel)
def test_file_runs_as_written(path: Path, tmp_path: Path) -> None:
    env = user_env(tmp_path)
    ports = {"8080": free_port(), "8000": free_port()}
    ran = 0
    with servers(env, tmp_path) as srv:
        for block in blocks(path):
            ran += run_block(block, env, srv, ports)
    print(f"{rel(path)}: {ran} command(s) run")
