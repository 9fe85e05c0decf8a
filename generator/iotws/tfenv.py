"""How `terraform` finds the hashicorp/aws provider, offline or online.

The kit's modules need one provider, hashicorp/aws (docs/design.md#decision-5). When a
filesystem mirror holding it is present on the machine we point Terraform at it with a
CLI configuration of our own, so that `terraform init` works without network access and
links the provider instead of copying its ~675 MB binary into every working directory:

- an *unpacked* mirror (`<mirror>/registry.terraform.io/hashicorp/aws/<version>/<os_arch>/`)
  is symlinked by Terraform (measured with Terraform 1.11: init in ~0.5 s, 28 KB per
  working directory);
- a *packed* mirror (`.../terraform-provider-aws_<version>_<os_arch>.zip`) is unzipped
  once into `plugin_cache_dir` and symlinked from there on every later init.

Every other provider is still installed from its registry (`direct { exclude = [aws] }`).

Without a mirror the user's own Terraform configuration is left alone (normal registry
access), except that a `TF_CLI_CONFIG_FILE` naming a file that does not exist is unset:
Terraform would otherwise warn on every command.
"""

from __future__ import annotations

import os
import platform
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from iotws.errors import IotwsError
from iotws.paths import state_root

PROVIDER = "registry.terraform.io/hashicorp/aws"
MIRROR_ENV = "IOTWS_TF_MIRROR"
STATE_ENV = "IOTWS_TF_STATE_DIR"
CONFIG_ENV = "TF_CLI_CONFIG_FILE"

# Quiet, non-interactive runs (no version checks against checkpoint-api.hashicorp.com).
_AUTOMATION = {"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"}

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def terraform_platform() -> str:
    """The `<os>_<arch>` directory name Terraform uses for this machine, e.g. `linux_amd64`."""
    machine = platform.machine().lower()
    return f"{platform.system().lower()}_{_ARCH.get(machine, machine)}"


def candidate_mirrors(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Where we look for a mirror, in order: `IOTWS_TF_MIRROR`, then Terraform's usual places."""
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or Path.home())
    data_home = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
    data_dirs = [d for d in (env.get("XDG_DATA_DIRS") or "").split(":") if d]
    found: list[Path] = []
    if env.get(MIRROR_ENV):
        found.append(Path(env[MIRROR_ENV]).expanduser())
    found += [
        Path("/opt/tf-plugins"),
        home / ".terraform.d" / "plugins",
        data_home / "terraform" / "plugins",
        Path("/usr/local/share/terraform/plugins"),
        Path("/usr/share/terraform/plugins"),
    ]
    found += [Path(d) / "terraform" / "plugins" for d in data_dirs]
    unique: list[Path] = []
    for path in found:
        if path not in unique:
            unique.append(path)
    return unique


def holds_aws(mirror: Path, plat: str | None = None) -> bool:
    """True when `mirror` holds hashicorp/aws for this platform, unpacked or packed."""
    plat = plat or terraform_platform()
    base = mirror / PROVIDER
    if not base.is_dir():
        return False
    unpacked = any(base.glob(f"*/{plat}/terraform-provider-aws*"))
    packed = any(base.glob(f"terraform-provider-aws_*_{plat}.zip"))
    return unpacked or packed


def find_mirror(environ: Mapping[str, str] | None = None) -> Path | None:
    """The first directory holding hashicorp/aws, or None.

    An explicit `IOTWS_TF_MIRROR` that does not hold the provider is an error, not a
    silent fallback: the user asked for that directory.
    """
    env = os.environ if environ is None else environ
    explicit = env.get(MIRROR_ENV)
    if explicit and not holds_aws(Path(explicit).expanduser()):
        raise IotwsError(
            f"{explicit} holds no {PROVIDER} provider for {terraform_platform()}",
            field=MIRROR_ENV,
            fix=(
                f"point it at a directory laid out as {PROVIDER}/<version>/"
                f"{terraform_platform()}/terraform-provider-aws_* (see `terraform providers "
                "mirror`), or unset it"
            ),
        )
    for path in candidate_mirrors(env):
        if holds_aws(path):
            return path.resolve()
    return None


def _hcl_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def cli_config_text(mirror: Path, plugin_cache_dir: Path) -> str:
    """The Terraform CLI configuration that installs hashicorp/aws from `mirror` only."""
    return (
        "# Written by `iotws tf-env`: hashicorp/aws from a local mirror, others from their\n"
        "# registry. Regenerated when needed; do not edit.\n"
        f"plugin_cache_dir = {_hcl_string(str(plugin_cache_dir))}\n"
        "\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {_hcl_string(str(mirror))}\n"
        f"    include = [{_hcl_string(PROVIDER)}]\n"
        "  }\n"
        "  direct {\n"
        f"    exclude = [{_hcl_string(PROVIDER)}]\n"
        "  }\n"
        "}\n"
    )


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Our CLI config and plugin cache dir: `IOTWS_TF_STATE_DIR`, else `terraform/` under
    `iotws.paths.state_root()` (the checkout's `build/`, or a user cache when installed)."""
    env = os.environ if environ is None else environ
    if env.get(STATE_ENV):
        return Path(env[STATE_ENV]).expanduser()
    return state_root() / "terraform"


def _write_if_changed(path: Path, text: str) -> None:
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@dataclass(frozen=True)
class TfSetup:
    """What `terraform_env` does to the environment, and why."""

    mirror: Path | None
    config_file: Path | None  # our CLI config (only with a mirror)
    unset_config: bool  # drop TF_CLI_CONFIG_FILE (it names a missing file)
    reason: str

    def apply(self, environ: Mapping[str, str]) -> dict[str, str]:
        env = dict(environ)
        if self.config_file is not None:
            env[CONFIG_ENV] = str(self.config_file)
        elif self.unset_config:
            env.pop(CONFIG_ENV, None)
        return env

    def shell(self) -> str:
        if self.config_file is not None:
            return f"export {CONFIG_ENV}={shlex.quote(str(self.config_file))}\n"
        if self.unset_config:
            return f"unset {CONFIG_ENV}\n"
        return ""


def setup(environ: Mapping[str, str] | None = None) -> TfSetup:
    """Find a mirror and, if there is one, write our CLI config. Idempotent."""
    env = os.environ if environ is None else environ
    mirror = find_mirror(env)
    if mirror is not None:
        base = state_dir(env)
        cache = base / "plugin-cache"
        config = base / "terraformrc"
        try:
            cache.mkdir(parents=True, exist_ok=True)
            _write_if_changed(config, cli_config_text(mirror, cache))
        except OSError as exc:
            raise IotwsError(
                f"cannot write the Terraform CLI configuration under {base}: {exc.strerror}",
                field=STATE_ENV,
                fix=f"set {STATE_ENV} to a writable directory",
            ) from exc
        return TfSetup(mirror, config, False, f"hashicorp/aws from the mirror {mirror}")
    current = env.get(CONFIG_ENV)
    if current and not Path(current).expanduser().is_file():
        return TfSetup(
            None, None, True, f"no mirror; {CONFIG_ENV}={current} does not exist, unset it"
        )
    return TfSetup(None, None, False, "no mirror; the user's Terraform configuration is used")


def terraform_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The complete environment to run `terraform` with (a modified copy of `environ`)."""
    env = os.environ if environ is None else environ
    result = setup(env).apply(env)
    for key, value in _AUTOMATION.items():
        result.setdefault(key, value)
    return result


def init_failure_help(environ: Mapping[str, str] | None = None) -> str:
    """What to tell the user when `terraform init` cannot install the provider."""
    looked = ", ".join(str(p) for p in candidate_mirrors(environ))
    return (
        f"terraform init could not install {PROVIDER}: no filesystem mirror holds it "
        f"(looked in {looked}) and the registry was not reachable. Fix: set {MIRROR_ENV} to "
        f"a directory laid out as {PROVIDER}/<version>/{terraform_platform()}/"
        "terraform-provider-aws_* (create one with `terraform providers mirror DIR` on a "
        "machine with network access), or give this machine access to registry.terraform.io"
    )
