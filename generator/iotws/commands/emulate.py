"""`iotws emulate --build DIR` or `--spec access.yaml`: the local IoT Core data plane
(docs/design.md#decision-7).

A thin command: it checks its arguments and runs `iotws_emulator.app`, which finds the
spec and its build (`app.resolve`) and serves MQTT over WebSockets, HTTP publish and the
web page.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from iotws.errors import IotwsError
from iotws_emulator import app
from iotws_emulator.app import DEFAULT_ACCOUNT, DEFAULT_REGION


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "emulate",
        help="run the local IoT Core (MQTT over WebSockets, HTTP publish) with the spec's "
        "authorizer and topic rules (their Lambdas in-process; emulator.json beside the spec "
        "sets their environment, docs/RULES.md)",
        description="Run the local IoT Core from a build directory (--build DIR, written by "
        "`iotws generate`: the spec is read back from its copy inside) or from a spec "
        "(--spec access.yaml, built once). With both, DIR is used when it is the build of "
        "exactly that spec text (the sha256 in DIR/metadata.json), else the spec is built "
        "into DIR again and the banner says why.",
    )
    p.add_argument(
        "--spec",
        help="path of access.yaml; alone: built once into a temporary directory",
    )
    p.add_argument(
        "--build",
        metavar="DIR",
        help="build directory of `iotws generate` (make generate); alone: the only source "
        "(its authorizer.zip is packaged from it when missing; emulator.json is read beside "
        "the spec it was built from, when that is still there)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="WebSocket/HTTP port (default 8080)")
    p.add_argument("--tcp-port", type=int, help="also serve plain MQTT over TCP on this port")
    p.add_argument("--serve", metavar="WEBDIR", help="serve this directory at /")
    p.add_argument(
        "--secret-env",
        metavar="VAR",
        help="hs256: environment variable with the dev secret (default: a random secret)",
    )
    p.add_argument(
        "--region", help=f"region in ARNs (default: the spec's aws, else {DEFAULT_REGION})"
    )
    p.add_argument(
        "--account", help=f"account in ARNs (default: the spec's aws, else {DEFAULT_ACCOUNT})"
    )
    p.add_argument(
        "--session-expiry",
        type=int,
        default=3600,
        metavar="SECONDS",
        help="how long a persistent session outlives its connection (default 3600, IoT's "
        "default; MQTT 5 clients may ask for less)",
    )
    p.add_argument(
        "--no-throttle",
        action="store_true",
        help="turn off IoT's per-connection throttles (1 CONNECT per second per client id, "
        "100 publishes and 512 KB per second) for load tests and benchmarks",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="also log the authorizer's lines")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.serve and not Path(args.serve).is_dir():
        raise IotwsError(
            f"{args.serve} is not a directory", field="--serve", fix="pass the web folder"
        )
    if args.secret_env and not os.environ.get(args.secret_env):
        raise IotwsError(
            f"environment variable {args.secret_env} is not set",
            field="--secret-env",
            fix=f"export {args.secret_env}=<dev secret>, or drop --secret-env for a random one",
        )
    if args.session_expiry < 0:
        raise IotwsError(
            f"--session-expiry {args.session_expiry} is negative",
            field="--session-expiry",
            fix="give seconds, e.g. --session-expiry 3600 (0 keeps no session)",
        )
    return app.run(
        app.Options(
            spec=args.spec,
            build=args.build,
            host=args.host,
            port=args.port,
            tcp_port=args.tcp_port,
            serve=args.serve,
            secret_env=args.secret_env,
            region=args.region,
            account=args.account,
            verbose=args.verbose,
            session_expiry=args.session_expiry,
            throttle=not args.no_throttle,
        )
    )
