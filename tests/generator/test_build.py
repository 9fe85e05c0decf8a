"""Build once (docs/design.md#decision-10): one `Build` per spec; `iotws package --build DIR`
zips what `iotws generate` wrote without rendering again; every authorizer configuration
follows the JSON Schema shipped as package data."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from iotws import authorizer_code
from iotws import build as builds
from iotws.cli import main
from iotws.errors import IotwsError
from iotws.package import authorizer_zip_bytes
from iotws.render import policies as render

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = sorted((ROOT / "tests/generator/golden").glob("*/authorizer/config.json"))
EXAMPLE = ROOT / "examples/custom-authorizer/access.yaml"
EXAMPLE_SPECS = sorted(ROOT.glob("examples/*/access.yaml"))


def _golden_config(name: str = "custom-authorizer") -> dict[str, Any]:
    path = ROOT / "tests/generator/golden" / name / "authorizer/config.json"
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.parent.parent.name)
def test_golden_configurations_follow_the_schema(path: Path) -> None:
    assert builds.authorizer_config_errors(json.loads(path.read_text())) == []


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.parent.name)
def test_every_example_builds_a_schema_valid_configuration(spec: Path) -> None:
    b = builds.build(spec)
    if b.spec.has_authorizer:
        assert builds.authorizer_config_errors(b.authorizer_config) == []
        assert json.loads(b.files()["authorizer/config.json"]) == b.authorizer_config


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda c: c.update(mode="oidc"), "mode"),
        (lambda c: c.pop("token"), "(top level)"),
        (lambda c: c["token"].update(sources=["token", "cookie"]), "token.sources.1"),
        (lambda c: c["session"].update(refresh_after_seconds=299), "session.refresh_after"),
        (lambda c: c["profiles"]["user"].update(documents=["{}"] * 11), "profiles.user.documents"),
        (lambda c: c["profiles"]["user"].update(documents=["x" * 2049]), "profiles.user.documents"),
        (lambda c: c.pop("hs256"), "(top level)"),
        (lambda c: c.update(surprise=1), "(top level)"),
    ],
)
def test_schema_refuses_what_the_authorizer_cannot_use(change: Any, where: str) -> None:
    cfg = copy.deepcopy(_golden_config())
    change(cfg)
    errors = builds.authorizer_config_errors(cfg)
    assert errors and any(e.startswith(where) for e in errors), errors


def test_a_rendering_bug_is_caught_by_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN a renderer that writes a configuration off the schema THEN the build fails."""
    original = render.authorizer_config

    def broken(spec: Any, profiles: Any) -> dict[str, Any]:
        cfg = original(spec, profiles)
        cfg["session"]["refresh_after_seconds"] = 10
        return cfg

    monkeypatch.setattr(render, "authorizer_config", broken)
    with pytest.raises(IotwsError, match="session.refresh_after_seconds"):
        builds.build(EXAMPLE)


def test_package_from_a_build_directory_renders_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN `iotws generate` output WHEN `iotws package --build` THEN the zip is the one
    `--spec` makes, byte for byte, and nothing was rendered (what `make package` runs)."""
    out = tmp_path / "build"
    assert main(["generate", "--spec", str(EXAMPLE), "--out", str(out), "-q"]) == 0
    calls: list[str] = []

    def counted(spec: Any) -> Any:
        calls.append(spec.source)
        raise AssertionError("package --build rendered the spec again")

    monkeypatch.setattr(builds, "render_spec", counted)
    zip_path = out / "authorizer.zip"
    assert main(["package", "--build", str(out), "--out", str(zip_path)]) == 0
    assert calls == []
    monkeypatch.undo()
    assert zip_path.read_bytes() == authorizer_zip_bytes(EXAMPLE)


def test_make_package_zips_the_generate_output() -> None:
    recipe = (ROOT / "Makefile").read_text().split("\npackage:", 1)[1].split("\n\n", 1)[0]
    assert re.search(r"package --build \$\(OUT\) ", recipe), recipe
    assert "--spec" not in recipe


def test_package_refuses_a_hand_edited_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "build"
    assert main(["generate", "--spec", str(EXAMPLE), "--out", str(out), "-q"]) == 0
    cfg_path = out / "authorizer/config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["token"]["sources"].append("cookie")
    cfg_path.write_text(json.dumps(cfg))
    zip_path = out / "authorizer.zip"
    assert main(["package", "--build", str(out), "--out", str(zip_path)]) != 0
    err = capsys.readouterr().err
    assert "authorizer/config.json is not the file the build proved" in err
    assert "make generate" in err and "Traceback" not in err
    assert not zip_path.exists()
    # Recorded in metadata.json as well, the edit still has to pass the schema.
    meta = json.loads((out / "metadata.json").read_text())
    meta["files"]["authorizer/config.json"] = hashlib.sha256(cfg_path.read_bytes()).hexdigest()
    (out / "metadata.json").write_text(json.dumps(meta))
    assert main(["package", "--build", str(out), "--out", str(zip_path)]) != 0
    err = capsys.readouterr().err
    assert "token.sources" in err and "iotws generate" in err and "Traceback" not in err
    assert not zip_path.exists()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["package", "--out", "x.zip"], "--build DIR"),
        (["package", "--build", "/nonexistent/dir", "--out", "x.zip"], "no build directory"),
    ],
)
def test_package_names_what_is_missing(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main([*argv[:-1], str(tmp_path / argv[-1])]) != 0
    assert needle in capsys.readouterr().err


def test_package_without_authorizer_in_the_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "build"
    spec = ROOT / "examples/cognito-unauth/access.yaml"
    assert main(["generate", "--spec", str(spec), "--out", str(out), "-q"]) == 0
    assert main(["package", "--build", str(out), "--out", str(out / "a.zip")]) != 0
    assert "has no authorizer" in capsys.readouterr().err


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.parent.parent.name)
def test_the_authorizer_parses_every_golden_configuration(path: Path) -> None:
    """The contract seen from the other side: the Lambda's own parser accepts each golden
    configuration (and the schema and the parser agree on it)."""
    raw = json.loads(path.read_text())
    compiled = authorizer_code.config.parse(raw)
    assert sorted(compiled.profiles) == sorted(raw["profiles"])


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.parent.name)
def test_the_authorizer_parses_every_example_build(spec: Path) -> None:
    b = builds.build(spec)
    if b.spec.has_authorizer:
        compiled = authorizer_code.config.parse(b.authorizer_config)
        assert sorted(compiled.profiles) == sorted(b.authorizer_config["profiles"])


def test_make_package_renders_once(tmp_path: Path) -> None:
    """GIVEN the Makefile's own `package` recipe (and its `generate` prerequisite) run
    with an `iotws` that logs every `render_spec` call WHEN `make package` builds the
    example THEN the spec was rendered exactly once and the zip is the `--spec` zip."""
    renders = tmp_path / "renders.log"
    wrapper = tmp_path / "counting_iotws.py"
    wrapper.write_text(
        "import sys\nfrom pathlib import Path\n\n"
        "from iotws.render import policies as render\nfrom iotws.cli import main\n"
        "\nLOG = Path(" + repr(str(renders)) + ")\noriginal = render.render_spec\n\n\n"
        "def counted(spec):\n"
        "    with LOG.open('a') as log:\n"
        "        log.write(f'{spec.source}\\n')\n"
        "    return original(spec)\n\n\n"
        "for module in list(sys.modules.values()):\n"
        "    if getattr(module, 'render_spec', None) is original:\n"
        "        module.render_spec = counted\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    out = tmp_path / "build"
    done = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-o",
            ".venv/.stamp-base",  # the venv is there; never reinstall it from a test
            "package",
            f"OUT={out}",
            f"IOTWS={sys.executable} {wrapper}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert renders.read_text().splitlines() == [str(EXAMPLE.relative_to(ROOT))]
    assert (out / "authorizer.zip").read_bytes() == authorizer_zip_bytes(EXAMPLE)
