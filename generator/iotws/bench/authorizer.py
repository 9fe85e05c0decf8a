"""Authorizer benchmark: warm latency, cold import, zip size.

- Warm latency: the packaged handler (loaded with `iotws.invoke.load_authorizer`, called
  directly while activated) on 10,000 events per mode after a warm-up, one timing per
  call; p50 and p99 against the target p99 <= 1 ms. Reference: an empty handler timed
  the same way (the measuring floor). The decision log is serialised as in Lambda but
  discarded instead of written.
- Cold import: a fresh `python -I -B` (no bytecode cache, as in a read-only /var/task)
  importing `app` from the extracted zip, wall time minus the same interpreter starting
  without the import (both measured here, medians of several interleaved runs);
  target <= 50 ms. Also informational: import plus the first hs256 invocation (config
  load, secret, verification), timed inside the interpreter.
- Zip size: the zip built from `lambda_src/authorizer`; target <= 64 KiB.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from iotws import build as builds
from iotws.authorizer_code import AuthorizerEvent
from iotws.bench import Row
from iotws.invoke import LambdaContext, load_authorizer
from iotws.package import source_files, zip_bytes
from iotws.paths import lambda_src
from iotws.spec.model import parse_spec
from iotws.tokens import mint_hs256

GROUP = "authorizer"
WARM_CALLS = 10_000
WARM_UP = 500
COLD_RUNS = 7
P99_TARGET_MS = 1.0
COLD_TARGET_MS = 50.0
ZIP_TARGET_BYTES = 64 * 1024
SECRET = b"bench-secret-0123456789-abcdefghijklmn"  # a benchmark key, not a credential
SECRET_ENV = "IOTWS_BENCH_JWT_SECRET"  # noqa: S105 - a variable name

# The configurations are rendered from these specs by the toolchain (`iotws.build`), never
# written by hand: the custom-authorizer example's shape, secret in an environment variable.
_SPEC_HEAD = """
version: 1
app: demo
stage: dev
"""
_GUEST = """
  guest:
    client_id: "anon-*"
    subscribe: [server]
    publish: [client]
"""
SPECS = {
    "public": _SPEC_HEAD
    + """
authorizer:
  mode: public
  public: {profile: guest}
profiles:
"""
    + _GUEST,
    "hs256": _SPEC_HEAD
    + f"""
claims:
  sub: {{max_length: 64, charset: word}}
authorizer:
  mode: hs256
  token: {{key_name: token}}
  session: {{refresh_after_seconds: 3600, disconnect_after_seconds: 86400}}
  public: {{profile: guest}}
  hs256:
    secret: {{env: {SECRET_ENV}}}
    audience: demo-web
    leeway_seconds: 30
  select: {{claim: role, values: {{user: user}}, default: user}}
profiles:
  user:
    client_id: "u-{{sub}}-*"
    subscribe: [server, "users/{{sub}}/#", "rooms/+/messages"]
    publish: [client, "users/{{sub}}/out"]
"""
    + _GUEST,
}


def bench_config(mode: str) -> dict[str, Any]:
    """The authorizer configuration `iotws generate` renders for the mode's spec."""
    return builds.build(parse_spec(SPECS[mode], source=f"<bench {mode}>")).authorizer_config


def mint(sub: str = "alice", key: bytes = SECRET) -> str:
    return mint_hs256(key, {"sub": sub, "aud": "demo-web"})


def wss_event(client_id: str, token: str | None = None) -> dict[str, Any]:
    """A browser's WSS connect (docs/custom-authorizer.md#where-credentials-travel): token in the
    query string."""
    query = "?x-amz-customauthorizer-name=demo-dev-authorizer"
    if token is not None:
        query += f"&token={token}"
    host = "example-ats.iot.us-east-1.amazonaws.com"
    return AuthorizerEvent(
        protocols=("tls", "http", "mqtt"),
        server_name=host,
        headers={"host": host},
        query_string=query,
        client_id=client_id,
        connection_id="e56f08c3-c559-490f-aa9f-7e8427d0f57b",
    ).to_dict()


def build_zip(config: dict[str, Any], out: Path) -> Path:
    entries = [(rel, p.read_bytes()) for rel, p in source_files(lambda_src("authorizer"))]
    entries.append(("iotws_config.json", json.dumps(config, separators=(",", ":")).encode()))
    out.write_bytes(zip_bytes(entries))
    return out


def _percentiles(samples_ns: list[int]) -> tuple[float, float]:
    ordered = sorted(samples_ns)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return p50 / 1e6, p99 / 1e6


def _time_calls(
    handler: Callable[[dict[str, Any], Any], Any], event: dict[str, Any], context: Any
) -> tuple[float, float]:
    clock = time.perf_counter_ns
    for _ in range(WARM_UP):
        handler(event, context)
    samples: list[int] = []
    append = samples.append
    for _ in range(WARM_CALLS):
        start = clock()
        handler(event, context)
        append(clock() - start)
    return _percentiles(samples)


def _empty_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {}


def warm_rows(tmp: Path) -> list[Row]:
    context = LambdaContext()
    ref50, ref99 = _time_calls(_empty_handler, wss_event("anon-1"), context)
    cases = [
        ("public", "public: allow anonymous", wss_event("anon-bench-1"), True),
        ("hs256", "hs256: allow (verify JWT)", wss_event("u-alice-bench-1", mint()), True),
        (
            "hs256",
            "hs256: deny (forged signature)",
            wss_event("u-alice-bench-1", mint(key=b"f" * 40)),
            False,
        ),
    ]
    rows: list[Row] = []
    for mode, label, event, expect in cases:
        loaded = load_authorizer(build_zip(bench_config(mode), tmp / f"{mode}.zip"))
        loaded.set_log_sink(lambda line: None)
        loaded.set_secret_override(SECRET)
        with loaded.activated() as handler:
            decision = handler(event, context)["isAuthenticated"]
            if decision is not expect:
                raise RuntimeError(f"bench case {label!r} decided {decision}, expected {expect}")
            p50, p99 = _time_calls(handler, event, context)
        rows.append(
            Row(
                GROUP,
                f"{label}, p50 of {WARM_CALLS:,}",
                p50,
                "ms",
                "",
                None,
                ref50,
                "empty handler p50",
            )
        )
        rows.append(
            Row(
                GROUP,
                f"{label}, p99 of {WARM_CALLS:,}",
                p99,
                "ms",
                f"<= {P99_TARGET_MS:g} ms",
                p99 <= P99_TARGET_MS,
                ref99,
                "empty handler p99",
            )
        )
    return rows


_TIMED_IMPORT = """
import sys, time
sys.path.insert(0, sys.argv[1])
t = time.perf_counter()
import app
{first_call}
print((time.perf_counter() - t) * 1000)
"""

_FIRST_CALL = """
event = {{"token": {token!r}, "protocolData": {{"mqtt": {{"clientId": "u-alice-1"}}}}}}
class Ctx:
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
response = app.handler(event, Ctx())
assert response["isAuthenticated"], response
"""


def _run(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=True, timeout=60)
    return (time.perf_counter() - start) * 1000, done.stdout


def cold_rows(tmp: Path) -> list[Row]:
    zip_path = build_zip(bench_config("hs256"), tmp / "cold.zip")
    task = tmp / "task"  # like /var/task: the zip extracted
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(task)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IOTWS_", "PYTHON"))}
    env[SECRET_ENV] = SECRET.decode()
    python = [sys.executable, "-I", "-B"]
    empty = [*python, "-c", f"import sys; sys.path.insert(0, {str(task)!r})"]
    with_import = [*python, "-c", f"import sys; sys.path.insert(0, {str(task)!r}); import app"]
    first_call = [
        *python,
        "-c",
        _TIMED_IMPORT.format(first_call=_FIRST_CALL.format(token=mint())),
        str(task),
    ]
    empty_ms: list[float] = []
    import_ms: list[float] = []
    first_ms: list[float] = []
    for _ in range(COLD_RUNS):  # interleaved, so that machine load hits both alike
        empty_ms.append(_run(empty, env)[0])
        import_ms.append(_run(with_import, env)[0])
        first_ms.append(float(_run(first_call, env)[1].strip().splitlines()[-1]))
    start = statistics.median(empty_ms)
    cold = statistics.median(import_ms) - start
    return [
        Row(
            GROUP,
            "cold import of app (fresh interpreter, no bytecode cache)",
            cold,
            "ms",
            f"<= {COLD_TARGET_MS:g} ms",
            cold <= COLD_TARGET_MS,
            start,
            "empty interpreter start",
        ),
        Row(
            GROUP,
            "cold start: import + first hs256 invocation (in-interpreter)",
            statistics.median(first_ms),
            "ms",
        ),
    ]


def zip_row(tmp: Path) -> Row:
    size = build_zip(bench_config("hs256"), tmp / "size.zip").stat().st_size
    return Row(
        GROUP,
        "authorizer.zip size",
        size / 1024,
        "KiB",
        f"<= {ZIP_TARGET_BYTES // 1024} KiB",
        size <= ZIP_TARGET_BYTES,
    )


def run() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="iotws-bench-authorizer-") as name:
        tmp = Path(name)
        return [*warm_rows(tmp), *cold_rows(tmp), zip_row(tmp)]
