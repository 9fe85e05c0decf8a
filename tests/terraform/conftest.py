"""Terraform test machinery shared by every module and example.

- Modules and examples are discovered (`modules/*`, `examples/*` with `*.tf`), so new
  ones are tested without editing this file.
- All Terraform work happens in a copy of `modules/` and `examples/` in a temporary
  directory (relative `../../modules/...` sources keep working; nothing is written into
  the checkout). `terraform init` runs once per directory per session.
- Terraform missing, or a provider that cannot be installed, FAILS the tests with the
  actionable message from `iotws.tfenv` (never a skip).
- Plans that need AWS data sources run against moto's server on 127.0.0.1.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from motoserver import running_moto
from tfkit import TerraformError, Tf

from iotws.tfenv import terraform_env

REPO = Path(__file__).resolve().parents[2]
MOTO_ACCOUNT = "123456789012"  # moto's default account id

# Every service a module or example may call while planning (data sources).
AWS_SERVICES = (
    "cloudwatch",
    "cognitoidentity",
    "cognitoidp",
    "dynamodb",
    "iam",
    "iot",
    "kms",
    "lambda",
    "logs",
    "s3",
    "secretsmanager",
    "sns",
    "sqs",
    "ssm",
    "sts",
)

_COPY_IGNORE = shutil.ignore_patterns(
    ".terraform", ".terraform.lock.hcl", "terraform.tfstate*", "build", "node_modules", "*.tfplan"
)


def _dirs_with_tf(parent: str) -> list[str]:
    base = REPO / parent
    if not base.is_dir():
        return []
    return sorted(
        f"{parent}/{p.name}" for p in base.iterdir() if p.is_dir() and any(p.glob("*.tf"))
    )


def terraform_roots() -> list[str]:
    """`modules/<name>` and `examples/<name>` holding Terraform files, for parametrize."""
    return _dirs_with_tf("modules") + _dirs_with_tf("examples")


def native_test_roots() -> list[str]:
    """Modules and examples with `tests/*.tftest.hcl`, for parametrize."""
    return [d for d in terraform_roots() if any((REPO / d / "tests").glob("*.tftest.hcl"))]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `tf_root` (every root), `tf_module_root`, `tf_native_root` by discovery."""
    choices = {
        "tf_root": terraform_roots,
        "tf_module_root": lambda: [r for r in terraform_roots() if r.startswith("modules/")],
        "tf_native_root": native_test_roots,
    }
    for name, discover in choices.items():
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, discover())


@pytest.fixture(scope="session")
def repo() -> Path:
    """The checkout root."""
    return REPO


@pytest.fixture(scope="session")
def example_build() -> Callable[[Path], Path]:
    """`example_build(example_dir)` writes `<example_dir>/build/` like `make package`."""
    return prepare_build


def copy_tree(dest: Path) -> Path:
    """Copy `modules/` and `examples/` (sources only) under `dest`; return `dest`."""
    for parent in ("modules", "examples"):
        if (REPO / parent).is_dir():
            shutil.copytree(REPO / parent, dest / parent, ignore=_COPY_IGNORE)
    return dest


def fail_on(exc: TerraformError) -> None:
    pytest.fail(exc.render(), pytrace=False)


@pytest.fixture(scope="session")
def tf_kit() -> SimpleNamespace:
    """This file's helpers for test modules (pytest's importlib mode has no `from .conftest`)."""
    return SimpleNamespace(
        copy_tree=copy_tree, fail_on=fail_on, provider_override=provider_override
    )


@pytest.fixture(scope="session")
def tf_env() -> dict[str, str]:
    """The environment every terraform run uses (local mirror if there is one)."""
    if shutil.which("terraform") is None:
        pytest.fail(
            "terraform is not on PATH: install Terraform >= 1.6 "
            "(https://developer.hashicorp.com/terraform/install) to run the Terraform tests",
            pytrace=False,
        )
    env = terraform_env()
    # Never reach a real AWS account, whatever the developer's shell holds.
    for key in [k for k in env if k.startswith("AWS_")]:
        del env[key]
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_CONFIG_FILE": os.devnull,
        }
    )
    return env


@pytest.fixture(scope="session")
def tf_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session copy of modules/ and examples/ for init, validate and terraform test."""
    return copy_tree(tmp_path_factory.mktemp("tf-tree"))


@pytest.fixture(scope="session")
def tf_workdir(tf_tree: Path, tf_env: dict[str, str]) -> Callable[[str], Tf]:
    """`tf_workdir("modules/x")` -> an initialized `Tf` in the session copy (init cached)."""
    cache: dict[str, Tf] = {}

    def get(rel: str) -> Tf:
        if rel not in cache:
            tf = Tf(tf_tree / rel, env=tf_env)
            try:
                tf.init()
            except TerraformError as exc:
                fail_on(exc)
            cache[rel] = tf
        return cache[rel]

    return get


def moto_ext() -> ModuleType:
    """tests/terraform/moto_ext.py, loaded once (pytest runs with --import-mode=importlib)."""
    name = "iotws_tests_moto_ext"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("moto_ext.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto's server on 127.0.0.1 and a free port, for the AWS calls plans and applies
    make, with the kit's test-only extension (`moto_ext.py`) installed."""
    moto_ext().install()

    with running_moto() as url:
        yield url


def provider_override(url: str, region: str = "us-east-1") -> str:
    """A `provider_override.tf` pointing the aws provider at moto with fake credentials."""
    endpoints = "\n".join(f'    {svc} = "{url}"' for svc in AWS_SERVICES)
    return f"""# Written by the tests: the aws provider talks to moto only.
provider "aws" {{
  region                      = "{region}"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
  max_retries                 = 1

  endpoints {{
{endpoints}
  }}
}}
"""


def build_example(spec: Path, out: Path) -> None:
    """`iotws generate` + `iotws package` for an example's access.yaml into `out`."""
    for args in (
        ["generate", "--spec", str(spec), "--out", str(out), "--quiet"],
        ["package", "--spec", str(spec), "--out", str(out / "authorizer.zip")],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "iotws.cli", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if proc.returncode != 0:
            pytest.fail(f"iotws {' '.join(args)} failed:\n{proc.stderr}", pytrace=False)


def fabricate_build(out: Path) -> None:
    """Stand-in build (config shape of INTERNALS.md) for when the toolchain is absent."""
    (out / "authorizer").mkdir(parents=True, exist_ok=True)
    config = {
        "version": 1,
        "mode": "hs256",
        "name": "demo-dev-authorizer",
        "prefix": "demo/dev",
        "region": None,
        "account": None,
        "token": {"key_name": "token", "sources": ["token"], "max_length": 4096},
        "session": {"refresh_after_seconds": 3600, "disconnect_after_seconds": 86400},
        "hs256": {"secret": {"source": "ssm", "name": "/demo/dev/jwt-secret"}},
        "profiles": {},
    }
    (out / "authorizer" / "config.json").write_text(json.dumps(config), encoding="utf-8")
    info = zipfile.ZipInfo("app.py", date_time=(1980, 1, 1, 0, 0, 0))
    with zipfile.ZipFile(out / "authorizer.zip", "w") as zf:
        zf.writestr(info, "def handler(event, context):\n    return {}\n")


def prepare_build(example_dir: Path) -> Path:
    """Write `<example>/build/` the way `make package EXAMPLE=...` does; return it.

    Uses the real toolchain when it is there (the spec is the single source of truth);
    the fabricated stand-in only covers the time before `iotws package` existed.
    """
    out = example_dir / "build"
    spec = example_dir / "access.yaml"
    toolchain = (REPO / "generator" / "iotws" / "commands" / "package.py").is_file()
    if spec.is_file() and toolchain:
        build_example(spec, out)
    else:
        fabricate_build(out)
    return out


@pytest.fixture(scope="session")
def example_plan(
    tmp_path_factory: pytest.TempPathFactory,
    tf_env: dict[str, str],
    moto_url: str,
) -> Callable[..., dict[str, Any]]:
    """`example_plan("custom-authorizer", vars={...})` -> `terraform show -json` of its plan.

    The example is copied with the modules into a fresh directory, built, given a
    `provider_override.tf` that points at moto, initialized and planned. Results are
    cached per (example, vars).
    """
    workdirs: dict[str, Tf] = {}
    cache: dict[str, dict[str, Any]] = {}

    def workdir(name: str) -> Tf:
        if name not in workdirs:
            root = copy_tree(tmp_path_factory.mktemp(f"plan-{name}"))
            path = root / "examples" / name
            build = prepare_build(path)
            config_file = build / "authorizer" / "config.json"
            config = json.loads(config_file.read_text()) if config_file.is_file() else {}
            region = config.get("region") or "us-east-1"
            (path / "provider_override.tf").write_text(
                provider_override(moto_url, region), encoding="utf-8"
            )
            tf = Tf(path, env=tf_env)
            try:
                tf.init()
            except TerraformError as exc:
                fail_on(exc)
            workdirs[name] = tf
        return workdirs[name]

    def plan(name: str, vars: dict[str, Any] | None = None) -> dict[str, Any]:
        key = json.dumps([name, vars or {}], sort_keys=True)
        if key not in cache:
            tf = workdir(name)
            planfile = f"plan-{len(cache)}.tfplan"
            try:
                tf.plan(vars=vars, out=planfile)
                result = tf.show_json(planfile)
            except TerraformError as exc:
                fail_on(exc)
            result["_build_dir"] = str(tf.working_dir / "build")
            cache[key] = result
        return cache[key]

    return plan
