"""The kit's JSON Schemas (package data in `iotws/schema/`: the access spec's and the
authorizer configuration's) and the one validator both are checked with.

A JSON Schema `pattern` is an ECMA-262 regular expression: `$` ends the string. Python's `$`
also matches before a final newline, so a plain `jsonschema` validator accepts
`"us-east-1\\n"` for `^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`, and such a value would reach an ARN.
The validator here reads patterns as ECMA-262 (`$` is `\\Z`, `\\d` and `\\w` are ASCII), for
`pattern` and for `propertyNames` (which applies `pattern` to keys). The authorizer matches
the same patterns with `re.fullmatch`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

import jsonschema


@cache
def load(name: str) -> dict[str, Any]:
    """A schema shipped in `iotws/schema/`, e.g. `access.schema.json`."""
    text = resources.files("iotws").joinpath(f"schema/{name}").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def ecma_regex(pattern: str) -> re.Pattern[str]:
    """A JSON Schema pattern (ECMA-262) as a Python regex (see the module's docstring)."""
    out, in_class, i = [], False, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            char = r"\Z"
        out.append(char)
        i += 1
    return re.compile("".join(out), re.ASCII)


def _pattern(
    validator: Any, pattern: str, instance: Any, schema: dict[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    if validator.is_type(instance, "string") and not ecma_regex(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


_Validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": _pattern})


@cache
def validator(name: str) -> Any:
    """The validator of a shipped schema, with ECMA-262 patterns."""
    return _Validator(load(name))
