"""The version comes from one place (`iotws.__version__`); everything that names it agrees."""

from __future__ import annotations

import re
from pathlib import Path

from iotws import __version__

REPO = Path(__file__).resolve().parents[2]
MAJOR_MINOR = ".".join(__version__.split(".")[:2])


def test_the_changelog_starts_with_this_version() -> None:
    text = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    first = re.search(r"^## (\S+)", text, re.M)
    assert first is not None and first.group(1) == __version__


def test_pyproject_takes_the_version_from_the_package() -> None:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in text
    assert 'version = { attr = "iotws.__version__" }' in text
    assert not re.search(r"^version\s*=\s*\"", text, re.M)


def test_each_module_checks_this_kit_version() -> None:
    escaped = MAJOR_MINOR.replace(".", "[.]")
    for module in sorted((REPO / "modules").iterdir()):
        variables = (module / "variables.tf").read_text(encoding="utf-8")
        assert f'can(regex("^{escaped}[.]", jsondecode(var.build_metadata).kit_version))' in (
            variables
        ), module.name
        assert "make package" in variables, module.name
        readme = (module / "README.md").read_text(encoding="utf-8")
        assert f"kit **{MAJOR_MINOR}.x**" in readme, module.name
        assert f"?ref=v{__version__}" in readme, module.name
