"""One contract for the authorizer configuration: its JSON Schema (generator/iotws/schema/
authorizer-config.schema.json, generator/INTERNALS.md "Authorizer configuration").

The Lambda cannot import jsonschema, so its standard-library parser (`iotws_authorizer.config`
with `fields`, `hs256`, `jwks`) states the same rules again. This file proves, by search,
that the two agree: every configuration the examples, the golden specs and the test specs
build is mutated systematically (every key deleted, every value replaced by values of every
JSON type, by numbers at and around every bound of the schema, by strings one past every
length bound or with a trailing newline, every object given unknown keys, every list
emptied, shortened and given a repeated item), and for every mutant the schema's verdict
must be the parser's:

- the schema refuses it: the parser raises ConfigError, naming the mutated field;
- the schema accepts it: the parser accepts it, unless the mutant breaks a rule that a JSON
  Schema cannot state (`SEMANTIC`: a name of a profile or slot that does not exist, a
  regex that does not compile, ...), which the parser must then name.

Any other exception from the parser fails the test (it must fail closed with ConfigError).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rendered import AUTHORIZER_SPECS, SECURITY_SPECS, rendered_config

from iotws import build as builds
from iotws.authorizer_code import ConfigError, config
from iotws_authorizer import hs256, jwks, secrets

ROOT = Path(__file__).resolve().parents[2]
SEED_SPECS = [
    *sorted(ROOT.glob("examples/*/access.yaml")),
    *sorted((ROOT / "tests/generator/specs").glob("*.yaml")),
    *sorted(AUTHORIZER_SPECS.glob("*.yaml")),
    SECURITY_SPECS / "jwks.yaml",
]

# Refusals of schema-valid configurations: the rules a JSON Schema cannot state (the
# schema's description lists them). Each message names its field.
SEMANTIC = re.compile(
    "|".join(
        (
            r"names an unknown profile",
            r"is not a valid regular expression",
            r"unknown slot|malformed slot",
            r"has characters outside identity\.charset",
            r"cannot use the client id itself",
            r"is not JSON$|must be a JSON object",
            r"selection\.order must list every key of selection\.values",
            r"public_profile uses claims",
            r"jwks_url has no valid host and port",
        )
    )
)

Path_ = tuple[str | int, ...]


def _schema() -> dict[str, Any]:
    return builds.authorizer_config_schema()


def _subschemas(node: Any) -> Iterator[dict[str, Any]]:
    """`node` and the schemas it refers to or combines (its $ref, oneOf, allOf, if/then)."""
    if not isinstance(node, dict):
        return
    yield node
    if "$ref" in node:
        target: Any = _schema()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        yield from _subschemas(target)
    for key in ("oneOf", "anyOf", "allOf"):
        for branch in node.get(key, ()):
            yield from _subschemas(branch)
    for key in ("then", "else"):
        yield from _subschemas(node.get(key))


def _schema_at(path: Path_) -> list[dict[str, Any]]:
    """Every schema that applies to the value at `path` of a configuration."""
    nodes = list(_subschemas(_schema()))
    for part in path:
        found: list[dict[str, Any]] = []
        for node in nodes:
            if isinstance(part, int):
                child = node.get("items")
            elif part in node.get("properties", {}):
                child = node["properties"][part]
            else:
                child = node.get("additionalProperties")
            found += _subschemas(child)
        nodes = found
    return nodes


def _numbers(path: Path_, value: float) -> list[Any]:
    """Around every numeric bound of the value's schema (one below, at, one above; a
    hundredth for a `number`) and a few others, as integers and as integral floats
    (JSON Schema: 5.0 is the integer 5, `true` is no number)."""
    out: set[Any] = {0, -1, 1, 2.5, 10**12, value + 0.5, value - 1, value + 1}
    for node in _schema_at(path):
        for key in ("minimum", "maximum"):
            if key in node:
                bound = node[key]
                step = 0.01 if node.get("type") == "number" or bound % 1 else 1
                out |= {round(bound - step, 2), bound, round(bound + step, 2)}
    # 300 and 300.0 are one set member in Python: keep both types by their own keys.
    typed = {(type(v), v) for n in out for v in ((int(n), float(n)) if n % 1 == 0 else (n,))}
    return [v for _, v in sorted(typed, key=lambda tv: (tv[1], tv[0] is float))]


def _strings(path: Path_, value: str) -> list[Any]:
    """Past every length bound of the value's schema, and off its pattern."""
    out: list[Any] = [value + "\n", value + " ", "é" + value, value.upper(), 0, 1.5]
    for node in _schema_at(path):
        if "maxLength" in node:
            out.append("a" * (node["maxLength"] + 1))
        if "minLength" in node and node["minLength"] > 0:
            out.append("a" * (node["minLength"] - 1))
    return out


def _path_text(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _nodes(value: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _nodes(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _nodes(child, (*path, index))


def _replacements(path: Path_, value: Any) -> list[Any]:
    out: list[Any] = [None, True, False, "", "x", [], {}, [value], {"x": value}]
    if isinstance(value, bool):
        out.append(not value)
    elif isinstance(value, int | float):
        out += _numbers(path, value)
    elif isinstance(value, str):
        out += _strings(path, value)
    else:
        out += [0, 1, 1.5]
    if isinstance(value, list):
        out += [value[:-1], [*value, value[-1]] if value else [1]]
    return [v for v in out if v != value or type(v) is not type(value)]


def _set(cfg: Any, path: Path_, value: Any) -> Any:
    if not path:
        return value
    node = cfg
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return cfg


def _delete(cfg: Any, path: Path_) -> Any:
    node = cfg
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    return cfg


def mutants(seed: dict[str, Any]) -> Iterator[tuple[str, Path_, Any]]:
    """(what, path, mutated configuration): every mutation at every path of `seed`."""
    for path, value in list(_nodes(seed)):
        if path:
            yield "delete", path, _delete(copy.deepcopy(seed), path)
        for new in _replacements(path, value):
            yield (
                f"replace with {json.dumps(new)[:40]}",
                path,
                _set(copy.deepcopy(seed), path, copy.deepcopy(new)),
            )
        if isinstance(value, dict):
            first = next(iter(value.values()), 1)
            for key, new in (("zz_extra", 1), ("zz_copy", first), ("Bad Name", first)):
                grown = copy.deepcopy(seed)
                _set(grown, path, {**copy.deepcopy(value), key: copy.deepcopy(new)})
                yield f"add key {key!r}", (*path, key), grown


def _verdict(cfg: Any) -> str | None:
    """None when the parser accepts `cfg`, else its ConfigError's message."""
    try:
        config.parse(cfg)
    except ConfigError as exc:
        return str(exc.detail)
    return None


def judge(path: Path_, what: str, mutant: Any) -> tuple[str | None, bool]:
    """(the disagreement, if any; whether the parser refused a schema-valid mutant by a
    rule of `SEMANTIC`)."""
    where = _path_text(path)
    refused = _verdict(mutant)
    if not builds.authorizer_config_is_valid(mutant):
        if refused is None:
            first = builds.authorizer_config_errors(mutant)[0]
            return f"{where}: {what}: schema refuses, parser accepts: {first}", False
        if where and where not in refused:
            # The parser may name a field the schema names instead (the mode's section).
            named = [
                re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", e.split(":", 1)[0])
                for e in builds.authorizer_config_errors(mutant)
            ]
            if not any(n in refused for n in named if not n.startswith("(")):
                return f"{where}: {what}: the parser's error does not name it: {refused}", False
        return None, False
    if refused is None:
        return None, False
    if SEMANTIC.search(refused):
        return None, True
    return f"{where}: {what}: schema accepts, parser refuses: {refused}", False


def disagreements(seed: dict[str, Any]) -> tuple[int, int, list[str]]:
    """(mutants tried, semantic refusals, disagreements) for one seed configuration."""
    tried = semantic = 0
    found: list[str] = []
    for what, path, mutant in mutants(seed):
        tried += 1
        disagreement, by_semantic_rule = judge(path, what, mutant)
        semantic += by_semantic_rule
        if disagreement:
            found.append(disagreement)
    return tried, semantic, found


@pytest.fixture(scope="module")
def seeds() -> dict[str, dict[str, Any]]:
    out = {}
    for spec in SEED_SPECS:
        b = builds.build(spec)
        if b.spec.has_authorizer:
            out[spec.relative_to(ROOT).as_posix()] = rendered_config(spec)
    return out


def test_every_mode_and_optional_section_is_seeded(seeds: dict[str, dict[str, Any]]) -> None:
    """The search starts from configurations that together use every part of the schema."""
    cfgs = list(seeds.values())
    assert {c["mode"] for c in cfgs} == {"public", "hs256", "jwks"}
    assert any(c["region"] and c["account"] for c in cfgs)
    assert any(c.get("signing_public_keys") for c in cfgs)
    assert any(c["public_profile"] is None for c in cfgs)
    assert any(c.get("jwks", {}).get("preset") == "cognito" for c in cfgs)
    assert any(c.get("hs256", {}).get("max_age_seconds") for c in cfgs)
    assert any(c["selection"] and c["selection"]["default"] is None for c in cfgs)


@pytest.mark.spread  # about 1,000 mutants a seed: the cases may run on both xdist workers
@pytest.mark.parametrize("spec", SEED_SPECS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_parser_and_schema_agree_on_every_mutant(
    seeds: dict[str, dict[str, Any]], spec: Path
) -> None:
    seed = seeds.get(spec.relative_to(ROOT).as_posix())
    if seed is None:
        assert not builds.build(spec).spec.has_authorizer  # a Cognito-only spec: no Lambda
        return
    # GIVEN the configuration the spec builds, which both accept
    assert builds.authorizer_config_errors(seed) == [] and _verdict(seed) is None
    # WHEN every mutant is judged by both THEN they agree
    tried, semantic, found = disagreements(seed)
    assert tried > 500
    assert not found, f"{len(found)} of {tried} mutants:\n" + "\n".join(found[:25])


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**6), max_value=10**7)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=24),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_parser_and_schema_agree_on_random_values_at_random_paths(
    seeds: dict[str, dict[str, Any]], data: st.DataObject
) -> None:
    """The walk above tries chosen values; this tries any JSON value, anywhere."""
    seed = seeds[data.draw(st.sampled_from(sorted(seeds)), label="seed")]
    path = data.draw(st.sampled_from([p for p, _ in _nodes(seed)]), label="path")
    value = data.draw(JSON, label="value")
    mutant = _set(copy.deepcopy(seed), path, value)
    disagreement, _ = judge(path, f"replace with {json.dumps(value)[:40]}", mutant)
    assert disagreement is None, disagreement


def test_the_authorizers_patterns_and_enums_are_the_schemas() -> None:
    props = _schema()["properties"]
    token, jwks_props = props["token"]["properties"], props["jwks"]["properties"]
    assert props["name"]["pattern"] == f"^{config.NAME_PATTERN}$"
    assert props["region"]["pattern"] == f"^{config.REGION_PATTERN}$"
    assert props["account"]["pattern"] == f"^{config.ACCOUNT_PATTERN}$"
    assert token["key_name"]["pattern"] == f"^{config.KEY_NAME_PATTERN}$"
    assert props["claims"]["propertyNames"]["pattern"] == f"^{config.CLAIM_NAME_PATTERN}$"
    keys = props["signing_public_keys"]
    assert keys["propertyNames"]["pattern"] == f"^{config.SIGNING_KEY_NAME_PATTERN}$"
    assert keys["additionalProperties"]["pattern"] == f"^{config.PEM_PREFIX}"
    assert jwks_props["jwks_url"]["pattern"] == f"^{jwks.JWKS_URL_PATTERN}$"
    assert props["mode"]["enum"] == list(config.MODES)
    assert token["sources"]["items"]["enum"] == list(config.TOKEN_SOURCES)
    secret = props["hs256"]["properties"]["secret"]["properties"]
    assert secret["source"]["enum"] == list(secrets.SOURCES)
    assert jwks_props["algorithms"]["items"]["enum"] == list(jwks.ALGORITHMS)
    assert jwks_props["audience_claim"]["enum"] == list(jwks.AUDIENCE_CLAIMS)
    assert props["hs256"]["required"] == list(hs256.KEYS)
    assert sorted(props["jwks"]["required"]) == sorted(jwks.KEYS)


@pytest.mark.parametrize("text", ['{"version": NaN}', '{"version": Infinity}', '{"a": -Infinity}'])
def test_nan_and_infinity_are_not_json(text: str, tmp_path: Path) -> None:
    """Python's json reads them; the schema's ranges cannot hold them (NaN compares false)."""
    path = tmp_path / "iotws_config.json"
    path.write_text(text, encoding="utf-8")
    config.set_path(str(path))
    try:
        with pytest.raises(ConfigError) as err:
            config.get()
        assert err.value.detail == "iotws_config.json is not valid JSON"
    finally:
        config.set_path(None)


@pytest.mark.parametrize(
    ("field", "value"),
    [("region", "eu-west-1\n"), ("name", "démo"), ("account", "123456789012\n")],
)
def test_schema_patterns_end_at_the_end_of_the_string(field: str, value: str) -> None:
    """JSON Schema patterns are ECMA-262, where `$` is the end; Python's `$` also matches
    before a final newline, which the build's check must not let through."""
    cfg = rendered_config(AUTHORIZER_SPECS / "hs256.yaml")
    cfg[field] = value
    assert any(e.startswith(field) for e in builds.authorizer_config_errors(cfg))
    with pytest.raises(ConfigError) as err:
        config.parse(cfg)
    assert err.value.detail is not None and err.value.detail.startswith(field)
