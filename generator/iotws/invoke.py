"""Run the packaged authorizer (`authorizer.zip`) in this process, isolated.

The zip holds `app.py`, the `iotws_authorizer` package and `iotws_config.json` at its
root: exactly what Lambda runs. `load_authorizer()` imports it with `zipimport` under
module names that live only in a private namespace: while the authorizer is loaded or
invoked, its modules are swapped into `sys.modules` and swapped out again once its last
call returns, so two different zips, or the zip and the source tree, never see each
other's modules or caches. Calls to the same authorizer run concurrently (no lock is held
while a handler runs); a call to a different authorizer waits until they are done.

Used by `iotws invoke-authorizer`, the emulator (docs/design.md#decision-7) and the benchmark.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import sys
import threading
import uuid
import zipfile
import zipimport
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from iotws.errors import IotwsError

PACKAGE = "iotws_authorizer"
HANDLER_MODULE = "app"
CONFIG_NAME = "iotws_config.json"
DEFAULT_FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:iotws-authorizer"
AUTHORIZER_TIMEOUT_SECONDS = 5.0  # docs/custom-authorizer.md#response: the Lambda has 5 s

_LOCK = threading.Condition(threading.RLock())
_active: dict[str, Any] = {"owner": None, "users": 0}  # whose modules are in sys.modules


def _owned(name: str) -> bool:
    return name == HANDLER_MODULE or name == PACKAGE or name.startswith(PACKAGE + ".")


@dataclass
class LambdaContext:
    """The Lambda context object, the attributes and the one method handlers read.

    One class for every local run of a handler: `iotws invoke-authorizer`, the emulator
    (the authorizer and the rules' functions), the build-time proofs, `iotws simulate`
    and the tests.
    """

    invoked_function_arn: str = DEFAULT_FUNCTION_ARN
    function_name: str = "iotws-authorizer"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 128
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""  # "" means /aws/lambda/<function_name>
    log_stream_name: str = "local"
    # IoT Core gives the authorizer 5 seconds (docs/custom-authorizer.md#response)
    timeout_seconds: float = AUTHORIZER_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        if not self.log_group_name:
            self.log_group_name = f"/aws/lambda/{self.function_name}"

    @classmethod
    def of(cls, region: str, account: str, name: str, **fields: Any) -> LambdaContext:
        """The context of function `name` in `region` and `account` (its ARN built)."""
        arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
        return cls(invoked_function_arn=arn, function_name=name, **fields)

    def get_remaining_time_in_millis(self) -> int:
        return int(self.timeout_seconds * 1000)


class LoadedAuthorizer:
    """One packaged authorizer, loaded once; `invoke` runs its handler."""

    def __init__(self, zip_path: Path, modules: dict[str, ModuleType], config: dict[str, Any]):
        self.zip_path = zip_path
        self.config = config  # the packaged iotws_config.json, as a dict
        self._modules = modules

    @contextlib.contextmanager
    def activated(self) -> Iterator[Callable[[dict[str, Any], Any], dict[str, Any]]]:
        """Swap this authorizer's modules into sys.modules; yields the raw handler.

        Lazy imports inside the authorizer (e.g. a verifier module) resolve to this zip
        while active. Any number of threads may hold the same authorizer active at once;
        another authorizer waits until the last of them is done.
        """
        with _LOCK:
            while _active["owner"] is not None and _active["owner"] is not self:
                _LOCK.wait()
            if _active["owner"] is None:
                _active["saved"] = _swap_in(self._modules)
                _active["owner"] = self
            _active["users"] += 1
            handler: Callable[[dict[str, Any], Any], dict[str, Any]] = self._modules[
                HANDLER_MODULE
            ].handler
        try:
            yield handler
        finally:
            with _LOCK:
                _active["users"] -= 1
                if _active["users"] == 0:
                    self._modules.update(_swap_out(_active.pop("saved")))
                    _active["owner"] = None
                    _LOCK.notify_all()

    def invoke(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """Run the handler on one event (a fresh LambdaContext when none is given)."""
        with self.activated() as handler:
            return handler(event, context if context is not None else LambdaContext())

    def set_secret_override(self, value: bytes | None) -> None:
        """The authorizer's secrets seam (generator/INTERNALS.md "Secrets seam")."""
        with self.activated():
            self._modules[f"{PACKAGE}.secrets"].set_override(value)

    def set_log_sink(self, sink: Callable[[str], None] | None) -> None:
        """Where the authorizer's decision lines go (None: its stdout)."""
        with self.activated():
            self._modules[f"{PACKAGE}.log"].set_sink(sink)


def _swap_in(modules: dict[str, ModuleType]) -> dict[str, ModuleType]:
    """Remove the owned names from sys.modules (returned), then install `modules`."""
    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if _owned(name)}
    sys.modules.update(modules)
    return saved


def _swap_out(saved: dict[str, ModuleType]) -> dict[str, ModuleType]:
    """Take the owned names out of sys.modules (returned), then restore `saved`."""
    mine = {name: sys.modules.pop(name) for name in list(sys.modules) if _owned(name)}
    sys.modules.update(saved)
    return mine


def _check_zip(zip_path: Path) -> dict[str, Any]:
    if not zip_path.is_file():
        raise IotwsError(
            f"{zip_path} does not exist",
            field="--build",
            fix="build it: `iotws package --spec access.yaml --out DIR/authorizer.zip`",
        )
    try:
        with zipfile.ZipFile(zip_path) as zf:
            names = set(zf.namelist())
            missing = [
                n
                for n in (f"{HANDLER_MODULE}.py", f"{PACKAGE}/__init__.py", CONFIG_NAME)
                if n not in names
            ]
            if missing:
                raise IotwsError(
                    f"{zip_path} is not an authorizer package: missing {', '.join(missing)}",
                    field="--build",
                    fix="rebuild it with `iotws package`",
                )
            raw = zf.read(CONFIG_NAME)
    except zipfile.BadZipFile:
        raise IotwsError(
            f"{zip_path} is not a zip file", field="--build", fix="rebuild it with `iotws package`"
        ) from None
    rebuild = "rebuild it with `iotws package`"
    return _json_object(raw, f"{zip_path}: {CONFIG_NAME}", "--build", rebuild, rebuild)


def _json_object(
    raw: str | bytes, name: str, field: str, fix: str, object_fix: str
) -> dict[str, Any]:
    """`raw` as a JSON object; IotwsError naming `name` when it is not JSON or not an object."""
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise IotwsError(f"{name} is not valid JSON ({exc})", field=field, fix=fix) from None
    if not isinstance(value, dict):
        raise IotwsError(f"{name} must hold a JSON object", field=field, fix=object_fix)
    return value


def _import_all(importer: zipimport.zipimporter, zip_path: Path) -> None:
    """Import app.py and every module of the package from the zip (modules go to sys.modules)."""
    for name in (PACKAGE, HANDLER_MODULE):
        spec = importer.find_spec(name)
        if spec is None or spec.loader is None:  # pragma: no cover - checked by _check_zip
            raise IotwsError(f"{zip_path}: cannot import {name}", field="--build")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        if name == PACKAGE:
            # Eagerly import the submodules now, while the zip is certainly unchanged.
            with zipfile.ZipFile(zip_path) as zf:
                subs = sorted(
                    n[len(PACKAGE) + 1 : -3]
                    for n in zf.namelist()
                    if n.startswith(PACKAGE + "/") and n.endswith(".py") and n.count("/") == 1
                )
            for sub in subs:
                if sub != "__init__":
                    importlib.import_module(f"{PACKAGE}.{sub}")


def load_authorizer(
    zip_path: str | Path, *, log_sink: Callable[[str], None] | None = None
) -> LoadedAuthorizer:
    """Load a packaged authorizer zip; raises IotwsError when it is missing or malformed."""
    path = Path(zip_path).resolve()
    config = _check_zip(path)
    key = str(path)
    with _LOCK:
        while _active["owner"] is not None:  # another authorizer's call is running
            _LOCK.wait()
        # zipimport caches a zip's directory per path: forget it, the file may be new.
        sys.path_importer_cache.pop(key, None)
        sys.path_importer_cache.pop(f"{key}/{PACKAGE}", None)
        zipimport._zip_directory_cache.pop(key, None)  # type: ignore[attr-defined]
        saved = _swap_in({})
        try:
            try:
                _import_all(zipimport.zipimporter(key), path)
            except IotwsError:
                raise
            except Exception as exc:  # noqa: BLE001 - any import failure is a bad package
                raise IotwsError(
                    f"{path}: the authorizer cannot be imported ({type(exc).__name__}: {exc})",
                    field="--build",
                    fix="rebuild it with `iotws package`",
                ) from None
        finally:
            modules = _swap_out(saved)
    loaded = LoadedAuthorizer(path, modules, config)
    with loaded.activated():
        # Always the packaged config, even when IOTWS_CONFIG is set in this process.
        modules[f"{PACKAGE}.config"].set_path(None)
        modules[f"{PACKAGE}.config"].use_packaged_only()
    if log_sink is not None:
        loaded.set_log_sink(log_sink)
    return loaded


def load_event(path: str | Path) -> dict[str, Any]:
    """An event JSON file; IotwsError naming the file when it is unreadable or not an object."""
    event_path = Path(path)
    try:
        text = event_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise IotwsError(
            f"cannot read {event_path}: {exc.__class__.__name__}",
            field="--event",
            fix="pass a JSON file with an IoT Core custom-authorizer event",
        ) from None
    return _json_object(
        text,
        str(event_path),
        "--event",
        "pass a JSON file with an IoT Core custom-authorizer event",
        'e.g. {"token": "...", "protocolData": {"mqtt": {"clientId": "c1"}}}',
    )


def as_test_invoke(response: dict[str, Any]) -> dict[str, Any]:
    """The response in the shape of `aws iot test-invoke-authorizer` (documents as strings)."""
    out = dict(response)
    out["policyDocuments"] = [
        d if isinstance(d, str) else json.dumps(d, separators=(",", ":"))
        for d in response.get("policyDocuments", [])
    ]
    return out
