"""`iotws invoke-authorizer`: run the packaged authorizer locally on one event.

Prints the response JSON on stdout, like `aws iot test-invoke-authorizer`; the
authorizer's decision log line goes to stderr. Exit 0 whatever the decision.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from iotws.errors import IotwsError
from iotws.invoke import (
    DEFAULT_FUNCTION_ARN,
    LambdaContext,
    as_test_invoke,
    load_authorizer,
    load_event,
)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "invoke-authorizer",
        help="run the packaged authorizer on an event and print its response",
        description=(
            "Load DIR/authorizer.zip (built by `iotws package`), run its handler on the "
            "event in FILE and print the response JSON, like `aws iot test-invoke-authorizer`."
        ),
    )
    parser.add_argument(
        "--build",
        required=True,
        metavar="DIR",
        help="directory with authorizer.zip (the zip carries its configuration; no spec is "
        "read, so there is no --spec)",
    )
    parser.add_argument("--event", required=True, metavar="FILE", help="event JSON file")
    parser.add_argument(
        "--secret-env",
        metavar="VAR",
        help=(
            "take the hs256 secret from environment variable VAR; without it the packaged "
            "source is used (SSM or Secrets Manager with your AWS credentials, or its env var)"
        ),
    )
    parser.add_argument(
        "--function-arn",
        default=DEFAULT_FUNCTION_ARN,
        metavar="ARN",
        help="the fake context's invoked_function_arn (region/account when the spec has none)",
    )
    parser.add_argument(
        "--test-invoke-format",
        action="store_true",
        help="print policy documents as JSON strings, as `aws iot test-invoke-authorizer` does",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    zip_path = Path(args.build) / "authorizer.zip"
    authorizer = load_authorizer(zip_path, log_sink=_to_stderr)
    event = load_event(args.event)
    secret: bytes | None = None
    if args.secret_env:
        value = os.environ.get(args.secret_env)
        if not value:
            raise IotwsError(
                f"environment variable {args.secret_env} is not set or empty",
                field="--secret-env",
                fix=f"export {args.secret_env}=<the hs256 secret>",
            )
        secret = value.encode("utf-8")
    if secret is not None:
        authorizer.set_secret_override(secret)
    name = args.function_arn.rsplit(":", 1)[-1]
    response = authorizer.invoke(
        event, LambdaContext(invoked_function_arn=args.function_arn, function_name=name)
    )
    if args.test_invoke_format:
        response = as_test_invoke(response)
    print(json.dumps(response, indent=2))
    return 0


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr)
