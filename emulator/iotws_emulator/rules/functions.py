"""The kit's own Lambda functions (`lambda_src/<name>/app.py`, handler `app.handler`) run
in-process for the rules' `lambda` actions, and the local AWS they talk to.

Each function is imported under a private module name (`iotws_lambda_<name>`), so two
functions' `app` modules never collide. Their AWS calls never leave the machine:

- `iot-data` goes to the emulator's own `POST /topics/{topic}` (API_iotdata_Publish.html):
  `IOT_DATA_ENDPOINT` and `AWS_ENDPOINT_URL_IOT_DATA_PLANE` point at it;
- every other service goes to a local moto server (`AWS_ENDPOINT_URL`), started when a
  function is run; the backends file (`emulator.json` next to the spec) may create DynamoDB
  tables there and set each function's environment;
- credentials are fixed dummies, so a developer's real AWS credentials are never used.

The environment is process-wide (the functions run in this process): two functions that
need different values for one variable are refused at start-up, and `LocalAws.close()`
puts the previous environment back.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from iotws.errors import IotwsError
from iotws.invoke import LambdaContext

log = logging.getLogger("iotws.emulator.rules")

FUNCTION_TIMEOUT_SECONDS = 10.0  # the examples' Lambda timeout (examples/chat/backend.tf)
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # noqa: S105 - a fixed dummy for the local moto server
    "AWS_SESSION_TOKEN": "testing",
}
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# Variables the emulator sets itself; a backends file may not override them.
RESERVED_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_IOT_DATA_PLANE",
    "AWS_PROFILE",
    "IOT_DATA_ENDPOINT",
    "TOPIC_PREFIX",
)
BACKEND_KEYS = {"environment", "dynamodb_tables"}


@dataclass
class LocalFunction:
    name: str
    path: Path
    handler: Callable[[Any, Any], Any]
    arn: str

    def context(self) -> LambdaContext:
        return LambdaContext(
            invoked_function_arn=self.arn,
            function_name=self.name,
            memory_limit_in_mb=256,
            timeout_seconds=FUNCTION_TIMEOUT_SECONDS,
        )


def load_function(name: str, source_dir: Path, arn: str) -> LocalFunction:
    """Import `<source_dir>/app.py` and return its `handler`; IotwsError when it cannot."""
    path = source_dir / "app.py"
    if not path.is_file():
        raise IotwsError(
            f"no Lambda source {path}",
            field=f"function {name}",
            fix=f"create lambda_src/{name}/app.py with handler(event, context), or fix the name",
        )
    module_name = "iotws_lambda_" + re.sub(r"\W", "_", name)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has one
        raise IotwsError(f"cannot import {path}", field=f"function {name}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    # As in Lambda, the function's folder (the zip's root) is on sys.path while app.py is
    # imported, so it can import the modules beside it; only then: left there, a folder's
    # `app.py` would answer every later `import app` in this process.
    sys.path.insert(0, str(source_dir))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - any import failure is reported, not raised
        sys.modules.pop(module_name, None)
        raise IotwsError(
            f"importing {path} failed: {type(exc).__name__}: {exc}", field=f"function {name}"
        ) from None
    finally:
        sys.path.remove(str(source_dir))
    handler = getattr(module, "handler", None)
    if not callable(handler):
        raise IotwsError(
            f"{path} has no handler(event, context)",
            field=f"function {name}",
            fix="define def handler(event, context) in app.py (handler app.handler)",
        )
    return LocalFunction(name, path, handler, arn)


# --------------------------------------------------------------------------- backends file


@dataclass
class Backends:
    """`emulator.json`: per function, its environment and the DynamoDB tables it needs."""

    source: str = ""
    environment: dict[str, dict[str, str]] = field(default_factory=dict)
    tables: list[dict[str, Any]] = field(default_factory=list)


def load_backends(path: Path | None) -> Backends:
    if path is None or not path.is_file():
        return Backends()
    where = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise IotwsError(f"{where} is not valid JSON: {exc}", field=where) from None
    functions = data.get("functions") if isinstance(data, dict) else None
    if not isinstance(functions, dict) or set(data) - {"functions"}:
        raise IotwsError(
            "must be an object with one key, functions",
            field=where,
            fix='{"functions": {"NAME": {"environment": {...}, "dynamodb_tables": [...]}}}',
        )
    out = Backends(source=where)
    for name, fn in functions.items():
        base = f"{where}: functions.{name}"
        if not isinstance(fn, dict) or set(fn) - BACKEND_KEYS:
            raise IotwsError(
                "must be an object with environment and/or dynamodb_tables",
                field=base,
                fix=f"use only: {', '.join(sorted(BACKEND_KEYS))}",
            )
        env = fn.get("environment", {})
        if not isinstance(env, dict):
            raise IotwsError("must be an object of strings", field=f"{base}.environment")
        for key, value in env.items():
            if not ENV_NAME_RE.fullmatch(str(key)) or not isinstance(value, str):
                raise IotwsError(
                    f"{key!r} must be a variable name with a string value",
                    field=f"{base}.environment",
                )
            if key in RESERVED_ENV:
                raise IotwsError(
                    f"{key} is set by the emulator", field=f"{base}.environment", fix="remove it"
                )
        out.environment[name] = dict(env)
        tables = fn.get("dynamodb_tables", [])
        if not isinstance(tables, list) or not all(
            isinstance(t, dict) and isinstance(t.get("TableName"), str) for t in tables
        ):
            raise IotwsError(
                "must be a list of DynamoDB CreateTable requests (each with TableName)",
                field=f"{base}.dynamodb_tables",
            )
        out.tables += tables
    return out


# --------------------------------------------------------------------------- local AWS


class LocalAws:
    """The environment the functions run in: emulator endpoints, moto, dummy credentials."""

    def __init__(
        self,
        *,
        region: str,
        topic_prefix: str,
        backends: Backends,
        functions: list[str],
    ) -> None:
        self.region = region
        self.topic_prefix = topic_prefix
        self.iot_data_url = ""
        self.backends = backends
        self.functions = functions
        self.moto_url: str | None = None
        self._moto: Any = None
        self._saved: dict[str, str | None] = {}

    def environment(self) -> dict[str, str]:
        """Every variable the functions see, checked for conflicts between functions."""
        env: dict[str, str] = dict(DUMMY_CREDENTIALS)
        env.update(
            {
                "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region,
                "TOPIC_PREFIX": self.topic_prefix,
                "IOT_DATA_ENDPOINT": self.iot_data_url,
                "AWS_ENDPOINT_URL_IOT_DATA_PLANE": self.iot_data_url,
            }
        )
        if self.moto_url:
            env["AWS_ENDPOINT_URL"] = self.moto_url
        owner: dict[str, str] = {}
        for fn in self.functions:
            for key, value in self.backends.environment.get(fn, {}).items():
                if key in owner and env[key] != value:
                    raise IotwsError(
                        f"functions {owner[key]} and {fn} need different values of {key}; "
                        "the local functions share one process environment",
                        field=f"{self.backends.source}: functions.{fn}.environment.{key}",
                        fix="use distinct variable names per function",
                    )
                owner[key] = fn
                env[key] = value
        return env

    def start(self, iot_data_url: str) -> None:
        """Start moto, create the tables, set the environment; `iot_data_url` is the
        emulator's HTTP address (`POST /topics/...`)."""
        self.iot_data_url = iot_data_url
        try:
            from moto.server import ThreadedMotoServer
        except ImportError:
            if self.backends.tables:
                raise IotwsError(
                    "the local functions need DynamoDB, served by moto, which is not installed",
                    field=self.backends.source,
                    fix="pip install 'iotws[emulator]' (make demo installs it)",
                ) from None
            # Without moto every AWS call fails fast on a closed local port: never real AWS.
            self.moto_url = "http://127.0.0.1:9"
        else:
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
            self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self._moto.start()
            host, port = self._moto.get_host_and_port()
            self.moto_url = f"http://{host}:{port}"
        env = self.environment()
        for key in (*env, "AWS_PROFILE"):
            self._saved.setdefault(key, os.environ.get(key))
        os.environ.pop("AWS_PROFILE", None)
        os.environ.update(env)
        if self.backends.tables:
            self._create_tables()

    def _create_tables(self) -> None:
        import boto3

        client = boto3.client("dynamodb", endpoint_url=self.moto_url, region_name=self.region)
        for table in self.backends.tables:
            try:
                client.create_table(**table)
            except Exception as exc:  # noqa: BLE001 - reported with the table's name
                raise IotwsError(
                    f"creating DynamoDB table {table.get('TableName')!r} in the local moto "
                    f"server failed: {exc}",
                    field=f"{self.backends.source}: dynamodb_tables",
                ) from None
            log.info("LOCAL dynamodb table %s created (moto %s)", table["TableName"], self.moto_url)

    def close(self) -> None:
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved.clear()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
