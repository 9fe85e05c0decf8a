"""JSON Schema patterns are ECMA-262: `$` ends the string. Python's `$` also matches before a
final newline, so a plain validator let `region: "us-east-1\\n"` through the spec check and
into every ARN of a Cognito guest policy. `iotws.schemas` validates both shipped schemas
with ECMA-262 patterns; these tests search every anchored pattern of both schemas for a
value that matches with a trailing newline, and check the spec check end to end."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iotws import schemas
from iotws.errors import SpecError
from iotws.paths import examples_dir
from iotws.spec.model import parse_spec

SCHEMAS = ("access.schema.json", "authorizer-config.schema.json")


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


ANCHORED = sorted({p for name in SCHEMAS for p in _patterns(schemas.load(name)) if p.endswith("$")})


def test_the_schemas_have_anchored_patterns() -> None:
    assert len(ANCHORED) >= 10


@pytest.mark.parametrize("pattern", ANCHORED)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_no_anchored_pattern_takes_a_trailing_newline(pattern: str, data: st.DataObject) -> None:
    # ECMA-262 classes (\w, \d) are ASCII: draw ASCII values
    ascii_only = st.characters(codec="ascii")
    regex = pattern.removesuffix("$") + r"\Z"
    value = data.draw(st.from_regex(regex, fullmatch=True, alphabet=ascii_only))
    assert schemas.ecma_regex(pattern).search(value), "a value the pattern means is accepted"
    for tail in ("\n", "\r\n", " "):
        assert not schemas.ecma_regex(pattern).search(value + tail), repr(value + tail)


def _cognito_spec() -> dict[str, Any]:
    text = (examples_dir() / "cognito-unauth" / "access.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("aws", "region"), "us-east-1\n", "aws.region"),
        (("aws", "account"), "123456789012\n", "aws.account"),
        (("app",), "chat\n", "app"),
    ],
)
def test_the_spec_check_refuses_a_trailing_newline(
    path: tuple[str, ...], value: str, field: str
) -> None:
    spec = _cognito_spec()
    node = spec
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(SpecError) as err:
        parse_spec(yaml.safe_dump(spec))
    assert any(e.field == field for e in err.value.errors), [e.field for e in err.value.errors]


def test_a_profile_name_with_a_trailing_newline_is_refused() -> None:
    spec = _cognito_spec()
    name = spec["cognito"]["guest_profile"]
    spec["profiles"][name + "\n"] = copy.deepcopy(spec["profiles"].pop(name))
    spec["cognito"]["guest_profile"] = name + "\n"
    with pytest.raises(SpecError):
        parse_spec(yaml.safe_dump(spec))
