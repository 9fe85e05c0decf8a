"""Settings for the whole test session.

`make test` runs the tests on two pytest-xdist workers with `--dist loadgroup`. Every test
is put in the group of its file, so a file's tests share one worker and its module and
session fixtures (Terraform inits, checkov scans, built examples) run once per worker, as
with `--dist loadfile`. A parametrized test marked `spread` has long, independent cases
(one `terraform test` per module); each case gets its own group so the two workers share
them. `tests/support` (the tests' Terraform adapter `tfkit`) goes on sys.path.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_SUPPORT = str(Path(__file__).resolve().parent / "support")
if _SUPPORT not in sys.path:
    sys.path.insert(0, _SUPPORT)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "spread: each case of this parametrized test may run on its own xdist worker",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # tryfirst: xdist reads the xdist_group marks in its own hook of the same name.
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        spread = item.get_closest_marker("spread") is not None
        group = item.nodeid if spread else item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))
    # The long groups first in the collection (Terraform runs, the installed kit, the spread
    # cases). xdist's loadgroup hands out the groups with the most tests first (its default
    # --loadscope-reorder) and keeps the collection order among groups of the same size, so
    # this only decides ties. A stable sort on a per-group key: each file keeps its order.
    long_groups = {_group(item) for item in items if _is_long(item)}
    items.sort(key=lambda item: _group(item) not in long_groups)


def _group(item: pytest.Item) -> str:
    marker = item.get_closest_marker("xdist_group")
    return str(marker.args[0]) if marker is not None and marker.args else item.nodeid


def _is_long(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) is not None for name in ("terraform", "spread")) or (
        _group(item) == "install"
    )
