"""Static Terraform checks over every module and example: fmt, init + validate, and the
native `terraform test` suites (discovered, so new modules are covered automatically)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from tfkit import TerraformError, Tf

pytestmark = pytest.mark.terraform


def test_discovery_finds_the_kit(request: pytest.FixtureRequest) -> None:
    session_items = {item.nodeid for item in request.session.items}
    assert any("test_validate[modules/iot-authorizer]" in n for n in session_items)
    assert any("test_validate[examples/custom-authorizer]" in n for n in session_items)
    assert any("test_native_terraform_test[modules/iot-authorizer]" in n for n in session_items)


def test_fmt(repo: Path, tf_env: dict[str, str]) -> None:
    tf = Tf(repo, env=tf_env)
    try:
        unformatted = tf.fmt_check("modules", "examples")
    except TerraformError as exc:
        pytest.fail(exc.render(), pytrace=False)
    assert unformatted == [], f"run `make fmt` (terraform fmt -recursive): {unformatted}"


def test_validate(tf_root: str, tf_workdir: Callable[[str], Tf]) -> None:
    root = tf_root
    tf = tf_workdir(root)
    try:
        result = tf.validate()
    except TerraformError as exc:
        pytest.fail(exc.render(), pytrace=False)
    assert result["valid"] is True
    assert result["error_count"] == 0
    warnings = [d["summary"] for d in result.get("diagnostics", [])]
    assert warnings == [], f"{root}: validate warnings {warnings}"


@pytest.mark.spread
def test_native_terraform_test(
    tf_native_root: str,
    tf_workdir: Callable[[str], Tf],
    example_build: Callable[[Path], Path],
) -> None:
    tf = tf_workdir(tf_native_root)
    if tf_native_root.startswith("examples/"):
        example_build(tf.working_dir)
    try:
        out = tf.test()
    except TerraformError as exc:
        pytest.fail(exc.render(), pytrace=False)
    match = re.search(r"Success! (\d+) passed, 0 failed", out)
    assert match, out
    assert int(match.group(1)) > 0


def _block_names(text: str, kind: str) -> list[str]:
    return re.findall(rf'^{kind} "([^"]+)"', text, flags=re.MULTILINE)


def test_module_readme_documents_every_input_and_output(tf_module_root: str, repo: Path) -> None:
    """The terraform-docs table between the markers must not drift from the code."""
    root = tf_module_root
    module = repo / root
    readme = (module / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"
    assert start in readme and end in readme, f"{root}/README.md needs the terraform-docs markers"
    table = readme.split(start, 1)[1].split(end, 1)[0]
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(module.glob("*.tf")))
    for kind in ("variable", "output"):
        for name in _block_names(text, kind):
            assert f"`{name}`" in table or f"[{name}]" in table or f"| {name} |" in table, (
                f"{root}/README.md does not document {kind} {name}"
            )


def test_every_variable_and_output_is_described(tf_root: str, repo: Path) -> None:
    for path in sorted((repo / tf_root).glob("*.tf")):
        text = path.read_text(encoding="utf-8")
        for kind in ("variable", "output"):
            for block in re.split(rf'(?m)^(?={kind} ")', text)[1:]:
                body = block.split("\n}\n", 1)[0]
                name = _block_names(block, kind)[0]
                assert re.search(r"^\s+description\s*=", body, re.M), (
                    f"{path.relative_to(repo)}: {kind} {name} has no description"
                )
                if kind == "variable":
                    assert re.search(r"^\s+type\s*=", body, re.M), (
                        f"{path.relative_to(repo)}: variable {name} has no type"
                    )
