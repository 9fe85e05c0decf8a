"""generator/INTERNALS.md's data-flow diagram matches the real imports: every arrow
`A --> B` is an import of A by B, and every import between the diagram's modules is an
arrow. The IoT core (`iotws.iot`) imports nothing else of the kit."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from iotws.paths import repo_root

ROOT = repo_root()
INTERNALS = ROOT / "generator" / "INTERNALS.md"
PACKAGES = {
    "iotws": ROOT / "generator" / "iotws",
    "iotws_emulator": ROOT / "emulator" / "iotws_emulator",
}
_NODE = re.compile(r'^\s*(\w+)\["([\w.]+)')
_EDGE = re.compile(r"^\s*(\w+)\s*-->\s*(\w+)\s*$")


def _diagram() -> tuple[dict[str, str], set[tuple[str, str]]]:
    text = INTERNALS.read_text(encoding="utf-8")
    section = text.split("## Layout and data flow", 1)[1]
    block = section.split("```mermaid", 1)[1].split("```", 1)[0]
    nodes: dict[str, str] = {}
    edges: set[tuple[str, str]] = set()
    for line in block.splitlines():
        if m := _NODE.match(line):
            nodes[m.group(1)] = m.group(2)
        elif m := _EDGE.match(line):
            edges.add((m.group(1), m.group(2)))
    return nodes, edges


def _module_name(path: Path) -> str:
    for top, folder in PACKAGES.items():
        if path.is_relative_to(folder):
            rel = path.relative_to(folder).with_suffix("")
            return ".".join((top, *rel.parts)).removesuffix(".__init__")
    raise AssertionError(path)


def _imports(path: Path) -> set[str]:
    """Absolute imports of a file, as `module` and `module.name` for `from` imports."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def _owner(module: str, modules: list[str]) -> str | None:
    """The diagram module that `module` belongs to (the longest prefix), or None."""
    hits = [m for m in modules if module == m or module.startswith(m + ".")]
    return max(hits, key=len) if hits else None


def _real_edges(modules: list[str]) -> set[tuple[str, str]]:
    edges: set[tuple[str, str]] = set()
    for folder in PACKAGES.values():
        for path in folder.rglob("*.py"):
            importer = _owner(_module_name(path), modules)
            if importer is None:
                continue
            for imported in _imports(path):
                source = _owner(imported, modules)
                if source is not None and source != importer:
                    edges.add((source, importer))
    return edges


def test_the_diagram_matches_the_imports() -> None:
    nodes, arrows = _diagram()
    assert len(nodes) >= 10 and arrows, "the diagram in INTERNALS.md was not found"
    unknown = {n for edge in arrows for n in edge} - set(nodes)
    assert not unknown, f"arrows name undeclared nodes: {unknown}"
    drawn = {(nodes[a], nodes[b]) for a, b in arrows}
    real = _real_edges(list(nodes.values()))
    assert drawn - real == set(), "arrows without an import (remove them from the diagram)"
    assert real - drawn == set(), "imports the diagram does not show (add the arrows)"


def test_every_diagram_module_exists() -> None:
    nodes, _ = _diagram()
    for module in nodes.values():
        top, *rest = module.split(".")
        base = PACKAGES[top].joinpath(*rest)
        assert base.with_suffix(".py").is_file() or (base / "__init__.py").is_file(), module


def test_the_iot_core_imports_nothing_else_of_the_kit() -> None:
    core = PACKAGES["iotws"] / "iot"
    for path in core.rglob("*.py"):
        kit = {m for m in _imports(path) if m.split(".")[0] in PACKAGES}
        assert all(m.startswith("iotws.iot") for m in kit), (path.name, kit)
    # arns.py is loaded by path by the checkov checks when the kit is not installed
    arns = {m for m in _imports(core / "arns.py") if m.split(".")[0] in PACKAGES}
    assert arns == set()
