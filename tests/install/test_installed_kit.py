"""The installed wheel (conftest.py): it is the code that runs, it carries every file the
commands need, and each command works from a folder outside the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from kit_install import REPO, KitVenv

from iotws import __version__

# Checkout folders shipped whole under iotws/_kit/ (build_backend/iotws_build.py).
KIT_FOLDERS = ("lambda_src", "examples", "modules")
# Packages and where their sources are in the checkout.
PACKAGES = {
    "iotws": "generator/iotws",
    "iotws_emulator": "emulator/iotws_emulator",
    "iotws_publish": "lambda_src/iotws_publish",
}

# One xdist worker runs both files that use the installed kit: the wheel and the venv are
# built once per session (tests/conftest.py groups by file otherwise).
pytestmark = pytest.mark.xdist_group("install")


def run(
    kit: KitVenv, args: list[str], cwd: Path, env: dict[str, str] | None = None, code: int = 0
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(kit.iotws), *args],
        cwd=cwd,
        env=env or kit.env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == code, f"iotws {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def tracked(folder: str) -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--", folder], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    return [line for line in out.splitlines() if line]


def test_the_installed_wheel_is_what_runs(kit_venv: KitVenv, tmp_path: Path) -> None:
    code = (
        "import json, importlib.metadata as m, iotws, iotws_emulator, iotws_publish\n"
        "import iotws.paths as p\n"
        "d = m.distribution('iotws')\n"
        "mods = (iotws, iotws_emulator, iotws_publish)\n"
        "print(json.dumps({'files': [x.__file__ for x in mods],"
        " 'direct_url': d.read_text('direct_url.json'), 'installed': p.installed(),"
        " 'lambda_src': str(p.lambda_src()), 'modules': str(p.modules_dir())}))\n"
    )
    proc = subprocess.run(
        [str(kit_venv.python), "-c", code],
        cwd=tmp_path,
        env=kit_venv.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(proc.stdout)
    for path in [*info["files"], info["lambda_src"], info["modules"]]:
        assert Path(path).is_relative_to(kit_venv.site), path
    assert info["installed"] is True
    # installed from the wheel file, not editable and not from a folder
    direct = json.loads(info["direct_url"])
    assert "archive_info" in direct and direct["url"] == kit_venv.wheel.as_uri(), direct
    assert run(kit_venv, ["--version"], tmp_path).stdout.split()[-1] == __version__


def test_every_file_of_the_packages_and_kit_folders_is_installed(kit_venv: KitVenv) -> None:
    missing: list[str] = []
    for package, source in PACKAGES.items():
        for rel in tracked(source):
            if not (kit_venv.site / package / Path(rel).relative_to(source)).is_file():
                missing.append(rel)
    kit = kit_venv.site / "iotws" / "_kit"
    for folder in KIT_FOLDERS:
        for rel in tracked(folder):
            if rel.endswith(("/web/config.json", ".terraform.lock.hcl")):
                continue  # written at run time, never shipped
            if not (kit / rel).is_file():
                missing.append(rel)
    # The page bundles `make web` writes: the installed emulator serves them.
    for web in sorted((REPO / "examples").glob("*/web")):
        for name in ("mqtt.min.js", "iotws-client.js"):
            rel = web.relative_to(REPO) / "vendor" / name
            if not (kit / rel).is_file():
                missing.append(str(rel))
    assert not missing, f"not in the installed wheel: {missing}"


def test_commands_work_outside_the_checkout(kit_venv: KitVenv, tmp_path: Path) -> None:
    kit = kit_venv.site / "iotws" / "_kit"
    shutil.copyfile(
        kit / "examples" / "custom-authorizer" / "access.yaml", tmp_path / "access.yaml"
    )
    env = kit_venv.env(DEMO_SECRET="s" * 48)
    run(kit_venv, ["generate", "--spec", "access.yaml", "--out", "build", "--quiet"], tmp_path)
    run(kit_venv, ["package", "--spec", "access.yaml", "--out", "build/authorizer.zip"], tmp_path)
    for fn in ("presence", "chat_message"):
        run(kit_venv, ["package", "--function", fn, "--out", f"build/{fn}.zip"], tmp_path)
        with zipfile.ZipFile(tmp_path / "build" / f"{fn}.zip") as zf:
            assert "app.py" in zf.namelist() and "iotws_publish/__init__.py" in zf.namelist()
    with zipfile.ZipFile(tmp_path / "build" / "authorizer.zip") as zf:
        assert "iotws_authorizer/core.py" in zf.namelist()

    event = tmp_path / "event.json"
    shutil.copyfile(REPO / "tests" / "events" / "wss_anonymous.json", event)
    out = run(
        kit_venv,
        [
            "invoke-authorizer",
            "--build",
            "build",
            "--event",
            "event.json",
            "--secret-env",
            "DEMO_SECRET",
        ],
        tmp_path,
        env,
    ).stdout
    assert json.loads(out)["isAuthenticated"] is True

    token = run(
        kit_venv,
        ["token", "--spec", "access.yaml", "--sub", "alice", "--secret-env", "DEMO_SECRET"],
        tmp_path,
        env,
    ).stdout.strip()
    assert token.count(".") == 2

    policy = sorted((tmp_path / "build" / "policies" / "guest").glob("*.json"))[0]
    run(kit_venv, ["lint", "--policy", str(policy)], tmp_path)
    run(kit_venv, ["lint", "--spec", "access.yaml"], tmp_path)
    sim = run(
        kit_venv,
        [
            "simulate",
            "--policy",
            str(policy),
            "--action",
            "iot:Subscribe",
            "--resource",
            "topicfilter/$aws/things/x/shadow/#",
            "--region",
            "us-east-1",
            "--account",
            "123456789012",
        ],
        tmp_path,
    ).stdout
    assert sim.strip() in {"IMPLICIT_DENY", "EXPLICIT_DENY"}


@pytest.mark.timeout(400)
def test_checkov_runs_with_the_kits_checks(kit_venv: KitVenv, tmp_path: Path) -> None:
    run(kit_venv, ["init", "stack", "--auth", "public"], tmp_path)
    proc = run(kit_venv, ["checkov", "stack"], tmp_path, code=0)
    assert "CKV_IOTWS" in proc.stdout + proc.stderr or "Passed checks" in proc.stdout


def test_init_refuses_bad_input_and_writes_nothing(kit_venv: KitVenv, tmp_path: Path) -> None:
    # unknown --auth: clear error, no folder
    proc = run(kit_venv, ["init", "new", "--auth", "oauth"], tmp_path, code=2)
    assert "--auth" in proc.stderr and "public, hs256, jwks, cognito" in proc.stderr
    assert not (tmp_path / "new").exists()
    # a folder with files: refused, untouched
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "main.tf").write_text("# mine\n")
    proc = run(kit_venv, ["init", "busy", "--auth", "public"], tmp_path, code=2)
    assert "not empty" in proc.stderr and "--force" in proc.stderr
    assert sorted(os.listdir(busy)) == ["main.tf"]
    # --force adds the missing files and keeps the user's
    proc = run(kit_venv, ["init", "busy", "--auth", "public", "--force"], tmp_path)
    assert (busy / "main.tf").read_text() == "# mine\n"
    assert "kept busy/main.tf" in proc.stderr
    assert (busy / "access.yaml").is_file()
    # bad modules path: nothing written, no temporary folder left behind
    proc = run(
        kit_venv,
        ["init", "other", "--auth", "hs256", "--modules-path", str(tmp_path)],
        tmp_path,
        code=2,
    )
    assert "--modules-path" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]
    # --modules-git writes the versioned source
    run(
        kit_venv,
        ["init", "git", "--auth", "jwks", "--modules-git", "https://example.com/me/iotws.git"],
        tmp_path,
    )
    main_tf = (tmp_path / "git" / "main.tf").read_text()
    assert (
        f'source = "git::https://example.com/me/iotws.git//modules/iot-authorizer?ref=v{__version__}"'
        in main_tf
    )
