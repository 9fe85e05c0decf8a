"""The tests' Terraform adapter (python-terraform is a test dependency): a small layer
over `python_terraform.Terraform.cmd` with explicit flags.

python-terraform's `plan()`/`apply()` helpers add flags that current Terraform rejects
(for example `-state` defaults and `-var` dicts written as HCL), so this class only
uses the generic `cmd()` and spells every flag out. Every run uses `terraform_env()`
(local provider mirror when there is one) and raises `TerraformError` with the command
and its stderr when Terraform fails.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from python_terraform import IsFlagged, Terraform

from iotws.errors import IotwsError
from iotws.tfenv import init_failure_help, terraform_env

# python-terraform builds the child's environment from `os.environ` at call time and has
# no parameter for it; we swap `os.environ` for the duration of one call, one call at a time.
_ENV_LOCK = threading.Lock()

# stderr fragments of `terraform init` that mean "could not get the provider".
_INSTALL_FAILURES = (
    "Failed to query available provider packages",
    "Failed to install provider",
    "could not connect to registry",
    "Failed to resolve provider packages",
    "Inconsistent dependency lock file",
)


class TerraformError(IotwsError):
    """A terraform command failed; the message carries the command and its stderr."""

    exit_code = 1

    def __init__(
        self, message: str, *, command: str, stderr: str = "", fix: str | None = None
    ) -> None:
        self.command = command
        self.stderr = stderr
        super().__init__(message, field=command, fix=fix)


@contextmanager
def _environ(env: Mapping[str, str]) -> Iterator[None]:
    with _ENV_LOCK:
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


class Tf:
    """Terraform in one working directory."""

    def __init__(
        self,
        working_dir: str | Path,
        *,
        env: Mapping[str, str] | None = None,
        binary: str = "terraform",
    ) -> None:
        self.working_dir = Path(working_dir)
        self.env = dict(env) if env is not None else terraform_env()
        self._tf = Terraform(working_dir=str(self.working_dir), terraform_bin_path=binary)

    def _cmd(self, command: str, *args: str, **flags: Any) -> tuple[int, str, str]:
        flags.setdefault("no_color", IsFlagged)
        try:
            with _environ(self.env), warnings.catch_warnings():
                # python-terraform logs failures with the deprecated `Logger.warn`.
                warnings.simplefilter("ignore", DeprecationWarning)
                code, out, err = self._tf.cmd(command, *args, **flags)
        except FileNotFoundError as exc:
            raise TerraformError(
                "the terraform CLI is not installed or not on PATH",
                command=f"terraform {command}",
                fix="install Terraform >= 1.6 (https://developer.hashicorp.com/terraform/install)",
            ) from exc
        return int(code), str(out), str(err)

    def run(self, command: str, *args: str, **flags: Any) -> str:
        """Run `terraform COMMAND [flags] [args]`; return stdout or raise `TerraformError`."""
        code, out, err = self._cmd(command, *args, **flags)
        if code != 0:
            cmdline = " ".join(["terraform", command, *args])
            raise TerraformError(
                f"failed (exit {code}) in {self.working_dir}:\n{err.strip() or out.strip()}",
                command=cmdline,
                stderr=err,
            )
        return out

    def init(self, *, backend: bool = False, upgrade: bool = False) -> str:
        flags: dict[str, Any] = {"input": False, "backend": backend}
        if upgrade:
            flags["upgrade"] = IsFlagged
        try:
            return self.run("init", **flags)
        except TerraformError as exc:
            if any(marker in exc.stderr for marker in _INSTALL_FAILURES):
                raise TerraformError(
                    f"{exc.message}\n\n{init_failure_help(self.env)}",
                    command=exc.command,
                    stderr=exc.stderr,
                ) from exc
            raise

    def validate(self) -> dict[str, Any]:
        """`terraform validate -json`; raises with the diagnostics when it is not valid."""
        code, out, err = self._cmd("validate", json=IsFlagged)
        try:
            result: dict[str, Any] = json.loads(out)
        except ValueError:
            result = {"valid": False, "diagnostics": [{"summary": err.strip() or out.strip()}]}
        if code != 0 or not result.get("valid", False):
            lines = [
                f"{d.get('severity', 'error')}: {d.get('summary', '')}"
                + (
                    f" ({d['range']['filename']}:{d['range']['start']['line']})"
                    if d.get("range")
                    else ""
                )
                + (f": {d['detail']}" if d.get("detail") else "")
                for d in result.get("diagnostics", [])
            ]
            raise TerraformError(
                f"configuration in {self.working_dir} is not valid:\n" + "\n".join(lines),
                command="terraform validate",
                stderr=err,
            )
        return result

    def plan(
        self,
        *,
        var_file: str | Path | None = None,
        vars: Mapping[str, Any] | None = None,
        out: str | Path | None = None,
    ) -> str:
        """`terraform plan`; `vars` are passed through a JSON var file (any type works)."""
        flags: dict[str, Any] = {"input": False, "lock": False}
        var_files = [str(var_file)] if var_file else []
        with tempfile.TemporaryDirectory(prefix="iotws-tfvars-") as tmp:
            if vars:
                path = Path(tmp) / "vars.auto.tfvars.json"
                path.write_text(json.dumps(dict(vars)), encoding="utf-8")
                var_files.append(str(path))
            if var_files:
                flags["var_file"] = var_files
            if out:
                flags["out"] = str(out)
            return self.run("plan", **flags)

    def show_json(self, planfile: str | Path) -> dict[str, Any]:
        """`terraform show -json PLANFILE` as a dict."""
        result: dict[str, Any] = json.loads(self.run("show", str(planfile), json=IsFlagged))
        return result

    def test(self, *, filter: str | None = None, verbose: bool = False) -> str:
        """Native `terraform test` (runs `tests/*.tftest.hcl`)."""
        flags: dict[str, Any] = {}
        if filter:
            flags["filter"] = filter
        if verbose:
            flags["verbose"] = IsFlagged
        return self.run("test", **flags)

    def fmt_check(self, *paths: str, recursive: bool = True) -> list[str]:
        """Files `terraform fmt` would change (empty when all are formatted)."""
        flags: dict[str, Any] = {"check": IsFlagged, "list": True}
        if recursive:
            flags["recursive"] = IsFlagged
        code, out, err = self._cmd("fmt", *paths, **flags)
        if code != 0 and (err.strip() or not out.strip()):
            raise TerraformError(
                f"failed (exit {code}) in {self.working_dir}:\n{err.strip()}",
                command=" ".join(["terraform fmt -check", *paths]),
                stderr=err,
            )
        return [line.strip() for line in out.splitlines() if line.strip()]
