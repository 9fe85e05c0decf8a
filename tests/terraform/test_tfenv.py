"""`iotws.tfenv` (provider mirror discovery, CLI config, `iotws tf-env`) and the
`tfkit` adapter (tests/support)'s error handling."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from tfkit import TerraformError, Tf

from iotws import tfenv
from iotws.cli import main
from iotws.errors import IotwsError

PLAT = tfenv.terraform_platform()


def _unpacked_mirror(root: Path) -> Path:
    binary = root / tfenv.PROVIDER / "5.100.0" / PLAT / "terraform-provider-aws_v5.100.0_x5"
    binary.parent.mkdir(parents=True)
    binary.write_bytes(b"")
    return root


def _packed_mirror(root: Path) -> Path:
    archive = root / tfenv.PROVIDER / f"terraform-provider-aws_5.100.0_{PLAT}.zip"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"PK")
    return root


@pytest.fixture
def no_default_mirrors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide this machine's own mirrors (e.g. /opt/tf-plugins) from discovery."""
    original = tfenv.candidate_mirrors

    def only_explicit(environ: dict[str, str] | None = None) -> list[Path]:
        env = os.environ if environ is None else environ
        return [
            p
            for p in original(env)
            if env.get(tfenv.MIRROR_ENV) and p == Path(env[tfenv.MIRROR_ENV])
        ]

    monkeypatch.setattr(tfenv, "candidate_mirrors", only_explicit)


def test_platform_name() -> None:
    assert re.fullmatch(r"[a-z0-9]+_[a-z0-9]+", PLAT), PLAT
    assert not PLAT.endswith(("_x86_64", "_aarch64")), "Terraform spells them amd64 / arm64"


def test_candidates_in_documented_order(tmp_path: Path) -> None:
    env = {
        "HOME": str(tmp_path / "home"),
        "IOTWS_TF_MIRROR": str(tmp_path / "explicit"),
        "XDG_DATA_DIRS": f"{tmp_path}/xdg1:{tmp_path}/xdg2",
    }
    found = tfenv.candidate_mirrors(env)
    assert found == [
        tmp_path / "explicit",
        Path("/opt/tf-plugins"),
        tmp_path / "home" / ".terraform.d" / "plugins",
        tmp_path / "home" / ".local" / "share" / "terraform" / "plugins",
        Path("/usr/local/share/terraform/plugins"),
        Path("/usr/share/terraform/plugins"),
        tmp_path / "xdg1" / "terraform" / "plugins",
        tmp_path / "xdg2" / "terraform" / "plugins",
    ]


def test_holds_aws_unpacked_and_packed(tmp_path: Path) -> None:
    assert tfenv.holds_aws(_unpacked_mirror(tmp_path / "u"))
    assert tfenv.holds_aws(_packed_mirror(tmp_path / "p"))
    assert not tfenv.holds_aws(tmp_path / "missing")
    other = tmp_path / "other" / tfenv.PROVIDER / "5.100.0" / "plan9_mips"
    other.mkdir(parents=True)
    (other / "terraform-provider-aws_v5.100.0_x5").write_bytes(b"")
    assert not tfenv.holds_aws(tmp_path / "other")


def test_explicit_mirror_wins_and_config_is_written(tmp_path: Path) -> None:
    mirror = _unpacked_mirror(tmp_path / "mirror")
    env = {"IOTWS_TF_MIRROR": str(mirror), "IOTWS_TF_STATE_DIR": str(tmp_path / "state")}
    setup = tfenv.setup(env)
    assert setup.mirror == mirror.resolve()
    assert setup.config_file == tmp_path / "state" / "terraformrc"
    text = setup.config_file.read_text()
    assert f'path    = "{mirror.resolve()}"' in text
    assert 'include = ["registry.terraform.io/hashicorp/aws"]' in text
    assert 'exclude = ["registry.terraform.io/hashicorp/aws"]' in text
    assert f'plugin_cache_dir = "{tmp_path / "state" / "plugin-cache"}"' in text
    assert (tmp_path / "state" / "plugin-cache").is_dir()
    assert tfenv.terraform_env(env)["TF_CLI_CONFIG_FILE"] == str(setup.config_file)
    assert setup.shell() == f"export TF_CLI_CONFIG_FILE={setup.config_file}\n"


def test_config_is_rewritten_only_when_it_changes(tmp_path: Path) -> None:
    env = {
        "IOTWS_TF_MIRROR": str(_packed_mirror(tmp_path / "m")),
        "IOTWS_TF_STATE_DIR": str(tmp_path / "s"),
    }
    config = tfenv.setup(env).config_file
    assert config is not None
    os.utime(config, (1, 1))
    tfenv.setup(env)
    assert config.stat().st_mtime == 1


def test_explicit_mirror_without_aws_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(IotwsError) as err:
        tfenv.setup({"IOTWS_TF_MIRROR": str(tmp_path)})
    assert err.value.field == "IOTWS_TF_MIRROR"
    assert "terraform providers mirror" in (err.value.fix or "")


def test_mirror_from_xdg_data_dirs(tmp_path: Path) -> None:
    _unpacked_mirror(tmp_path / "xdg" / "terraform" / "plugins")
    env = {
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_DIRS": str(tmp_path / "xdg"),
        "IOTWS_TF_STATE_DIR": str(tmp_path / "s"),
    }
    setup = tfenv.setup(env)
    if Path("/opt/tf-plugins").is_dir() and tfenv.holds_aws(Path("/opt/tf-plugins")):
        assert setup.mirror == Path("/opt/tf-plugins").resolve()  # earlier in the order
    else:
        assert setup.mirror == (tmp_path / "xdg" / "terraform" / "plugins").resolve()


@pytest.mark.usefixtures("no_default_mirrors")
def test_no_mirror_and_missing_config_file_unsets_it(tmp_path: Path) -> None:
    env = {"TF_CLI_CONFIG_FILE": str(tmp_path / "nope.tfrc"), "PATH": "/usr/bin"}
    setup = tfenv.setup(env)
    assert setup.mirror is None and setup.unset_config
    assert setup.shell() == "unset TF_CLI_CONFIG_FILE\n"
    result = tfenv.terraform_env(env)
    assert "TF_CLI_CONFIG_FILE" not in result
    assert result["PATH"] == "/usr/bin" and result["TF_IN_AUTOMATION"] == "1"


@pytest.mark.usefixtures("no_default_mirrors")
def test_no_mirror_leaves_the_users_config_alone(tmp_path: Path) -> None:
    rc = tmp_path / "user.tfrc"
    rc.write_text("")
    setup = tfenv.setup({"TF_CLI_CONFIG_FILE": str(rc)})
    assert setup.shell() == ""
    assert tfenv.terraform_env({"TF_CLI_CONFIG_FILE": str(rc)})["TF_CLI_CONFIG_FILE"] == str(rc)
    assert tfenv.setup({}).shell() == ""


def test_shell_output_is_quoted(tmp_path: Path) -> None:
    env = {
        "IOTWS_TF_MIRROR": str(_unpacked_mirror(tmp_path / "m")),
        "IOTWS_TF_STATE_DIR": str(tmp_path / "dir with space"),
    }
    line = tfenv.setup(env).shell()
    assert line == f"export TF_CLI_CONFIG_FILE='{tmp_path}/dir with space/terraformrc'\n"


def test_cli_tf_env_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IOTWS_TF_MIRROR", str(_unpacked_mirror(tmp_path / "m")))
    monkeypatch.setenv("IOTWS_TF_STATE_DIR", str(tmp_path / "s"))
    assert main(["tf-env", "--shell"]) == 0
    assert capsys.readouterr().out == f"export TF_CLI_CONFIG_FILE={tmp_path}/s/terraformrc\n"
    assert main(["tf-env", "--json"]) == 0
    assert '"mirror": ' in capsys.readouterr().out


def test_cli_tf_env_bad_mirror_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IOTWS_TF_MIRROR", str(tmp_path))
    assert main(["tf-env", "--shell"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "IOTWS_TF_MIRROR" in captured.err and "Traceback" not in captured.err


# --- the adapter against the real terraform CLI -------------------------------------------

VERSIONS = """terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = ">= 5.0" }
  }
}
"""


@pytest.mark.terraform
def test_init_links_the_provider_instead_of_copying(tmp_path: Path, tf_env: dict[str, str]) -> None:
    if tf_env.get("TF_CLI_CONFIG_FILE", "").endswith("terraformrc"):
        (tmp_path / "versions.tf").write_text(VERSIONS)
        start = time.monotonic()
        Tf(tmp_path, env=tf_env).init()
        elapsed = time.monotonic() - start
        platform_dir = next((tmp_path / ".terraform" / "providers").glob(f"*/*/aws/*/{PLAT}"))
        assert platform_dir.is_symlink(), "the provider should be linked, not copied"
        assert elapsed < 30
    else:
        pytest.fail(
            "no provider mirror on this machine: " + tfenv.init_failure_help(), pytrace=False
        )


@pytest.mark.terraform
@pytest.mark.usefixtures("no_default_mirrors")
def test_init_without_mirror_or_registry_says_what_to_do(
    tmp_path: Path, tf_env: dict[str, str]
) -> None:
    # A CLI config whose only installation source is a closed local port: no registry.
    rc = tmp_path / "offline.tfrc"
    rc.write_text(
        'provider_installation {\n  network_mirror {\n    url = "https://127.0.0.1:9/"\n  }\n}\n'
    )
    env = dict(tf_env, TF_CLI_CONFIG_FILE=str(rc))
    env.pop("IOTWS_TF_MIRROR", None)
    work = tmp_path / "root"
    work.mkdir()
    (work / "versions.tf").write_text(VERSIONS)
    with pytest.raises(TerraformError) as err:
        Tf(work, env=tfenv.terraform_env(env)).init()
    message = err.value.render()
    assert "IOTWS_TF_MIRROR" in message
    assert "registry.terraform.io" in message


@pytest.mark.terraform
def test_validate_reports_diagnostics(tmp_path: Path, tf_env: dict[str, str]) -> None:
    (tmp_path / "main.tf").write_text('output "x" {\n  value = var.missing\n}\n')
    tf = Tf(tmp_path, env=tf_env)
    tf.init()
    with pytest.raises(TerraformError) as err:
        tf.validate()
    assert "Reference to undeclared input variable" in err.value.render()
    assert "main.tf:2" in err.value.render()


@pytest.mark.terraform
def test_fmt_check_lists_unformatted_files(tmp_path: Path, tf_env: dict[str, str]) -> None:
    (tmp_path / "ok.tf").write_text("locals {\n  a = 1\n}\n")
    (tmp_path / "bad.tf").write_text("locals {\na=1\n}\n")
    assert Tf(tmp_path, env=tf_env).fmt_check() == ["bad.tf"]


@pytest.mark.terraform
def test_plan_with_vars_and_show_json(tmp_path: Path, tf_env: dict[str, str]) -> None:
    (tmp_path / "main.tf").write_text(
        'variable "items" {\n  type = map(list(number))\n}\n'
        'output "total" {\n  value = sum(flatten(values(var.items)))\n}\n'
    )
    tf = Tf(tmp_path, env=tf_env)
    tf.init()
    tf.plan(vars={"items": {"a": [1, 2], "b": [3]}}, out="p.tfplan")
    shown = tf.show_json("p.tfplan")
    assert shown["planned_values"]["outputs"]["total"]["value"] == 6


def test_missing_terraform_binary_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TerraformError) as err:
        Tf(tmp_path, env=dict(os.environ), binary="terraform-not-installed-here").validate()
    assert "not installed" in err.value.render()
    assert "install Terraform" in err.value.render()
