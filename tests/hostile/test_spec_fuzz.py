"""Fuzz tests of the spec loader (`iotws.spec.model.parse_spec`): on arbitrary text, arbitrary
YAML structures and random mutations of valid specs it raises only `IotwsError`
subclasses (a clear message naming the field, never a traceback), and a spec that loads
renders without any other exception."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iotws.errors import IotwsError
from iotws.render.policies import render_spec
from iotws.spec.model import parse_spec

REPO = Path(__file__).resolve().parents[2]
SEEDS = [
    yaml.safe_load(p.read_text(encoding="utf-8"))
    for p in (
        REPO / "tests/generator/specs/public.yaml",
        REPO / "tests/generator/specs/rooms.yaml",
        REPO / "examples/custom-authorizer/access.yaml",
        REPO / "examples/chat/access.yaml",
        REPO / "examples/cognito-unauth/access.yaml",
    )
]
SEEDS.append(
    {
        "version": 1,
        "app": "demo",
        "stage": "dev",
        "claims": {"sub": {"max_length": 64, "charset": "uuid"}},
        "authorizer": {
            "mode": "jwks",
            "jwks": {"preset": "cognito", "user_pool_id": "eu-west-1_A1", "client_ids": ["c"]},
            "select": {"claim": "role", "default": "user"},
        },
        "profiles": {"user": {"client_id": "{sub}-*", "subscribe": ["users/{sub}/#"]}},
    }
)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**66), max_value=2**66),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(
        ["", "*", "#", "+", "$aws", "{sub}", "{", "a/+/#", "{client_id}-*", "x" * 300, "hs256"]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=10), st.integers()), inner, max_size=4),
    ),
    max_leaves=10,
)
YAML_BITS = [
    "version: 1\n", "app: demo\n", "stage: dev\n", "profiles:\n", "  p:\n", "    client_id: ",
    "authorizer:\n", "  mode: jwks\n", "  jwks: ", "  signing: {enabled: true}\n",
    "- ", ": ", "{", "}", "[", "]", "&a ", "*a", "<<: *a\n", "? ", "!!binary ",
    "!!python/name:os.system ",
    "!!set {a}", "2001-12-14", "0x1F", ".nan", "~", "'", '"', "\t", "\n", "  ", "#", "%YAML 1.1\n",
    "---\n", "...\n", "\x00", "\ufeff",
]  # fmt: skip


def _only_iotws_errors(text: str) -> None:
    try:
        spec = parse_spec(text)
    except IotwsError as exc:
        assert str(exc)  # a message, never empty
        return
    try:
        render_spec(spec)
    except IotwsError:
        pass


@SETTINGS
@given(st.text(max_size=300))
def test_arbitrary_text(text: str) -> None:
    _only_iotws_errors(text)


@SETTINGS
@given(st.lists(st.one_of(st.sampled_from(YAML_BITS), st.text(max_size=8)), max_size=30))
def test_yaml_shaped_text(bits: list[str]) -> None:
    _only_iotws_errors("".join(bits))


@SETTINGS
@given(values)
def test_arbitrary_structures(value: Any) -> None:
    _only_iotws_errors(yaml.safe_dump(value))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@SETTINGS
@given(st.data())
def test_mutated_valid_specs(data: st.DataObject) -> None:
    spec = copy.deepcopy(data.draw(st.sampled_from(SEEDS)))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(_paths(spec)))
        replacement = data.draw(values)
        if not path:
            spec = replacement
            continue
        parent = spec
        for step in path[:-1]:
            parent = parent[step]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = replacement
    _only_iotws_errors(yaml.safe_dump(spec))


def test_the_seeds_are_valid() -> None:
    # The mutation test starts from specs that load (else it would test nothing).
    for seed in SEEDS:
        render_spec(parse_spec(yaml.safe_dump(seed)))
