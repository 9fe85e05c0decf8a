"""Typed reads of `iotws_config.json` fields, each failing with a ConfigError that names it.

The configuration's contract is its JSON Schema (generator/iotws/schema/
authorizer-config.schema.json, generator/INTERNALS.md "Authorizer configuration"); the
authorizer runs with the standard library only, so `config`, `hs256` and `jwks` check the
schema's rules with these few functions: required and unknown keys, JSON types, enums,
ranges, lengths and patterns. Types follow JSON Schema: `true` is not an integer, `5.0` is
the integer 5. Paths read `profiles.user.documents[0]`.
"""

from __future__ import annotations

import re
from typing import Any

from iotws_authorizer.errors import ConfigError


def at(where: str, key: str) -> str:
    """The path of `key` inside the object at `where` ("" is the configuration itself)."""
    return f"{where}.{key}" if where else key


def obj(
    value: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, Any]:
    """An object with every key of `required`, and no key outside `required + optional`."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where or 'the configuration'} must be an object")
    for key in required:
        if key not in value:
            raise ConfigError(f"{at(where, key)} is missing")
    if len(value) > len(required):
        for key in value:
            if key not in required and key not in optional:
                raise ConfigError(f"{at(where, str(key))} is not a known key")
    return value


def mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be an object")
    return value


def array(value: Any, where: str, min_items: int = 0, max_items: int | None = None) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"{where} must be a list")
    if len(value) < min_items or (max_items is not None and len(value) > max_items):
        most = "" if max_items is None else f" and at most {max_items}"
        raise ConfigError(f"{where} must have at least {min_items}{most} items")
    return value


def text(
    value: Any,
    where: str,
    *,
    pattern: str | None = None,
    min_length: int = 0,
    max_length: int | None = None,
    null: bool = False,
) -> Any:
    """A string (or None with `null`); `pattern` must match all of it (ASCII classes)."""
    if value is None and null:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string{' or null' if null else ''}")
    if len(value) < min_length or (max_length is not None and len(value) > max_length):
        most = "" if max_length is None else f" and at most {max_length}"
        raise ConfigError(f"{where} must have at least {min_length}{most} characters")
    if pattern is not None and re.fullmatch(pattern, value, re.ASCII) is None:
        raise ConfigError(f"{where} must match ^{pattern}$")
    return value


def integer(value: Any, where: str, lo: int, hi: int | None = None, *, null: bool = False) -> Any:
    """An integer in lo..hi (an integral number such as 5.0 counts; booleans do not)."""
    if value is None and null:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{where} must be an integer{' or null' if null else ''}")
    if value < lo or (hi is not None and value > hi):
        raise ConfigError(f"{where} must be in {lo}..{'' if hi is None else hi}")
    return value


def number(value: Any, where: str, lo: float, hi: float) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ConfigError(f"{where} must be a number")
    if not lo <= value <= hi:
        raise ConfigError(f"{where} must be in {lo:g}..{hi:g}")
    return float(value)


def boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false")
    return value


def choice(value: Any, where: str, allowed: tuple[Any, ...]) -> Any:
    """One of `allowed` (strings and None; a JSON number or boolean is never one)."""
    if not (value is None or isinstance(value, str)) or value not in allowed:
        shown = ", ".join("null" if a is None else a for a in allowed)
        raise ConfigError(f"{where} must be one of {shown}")
    return value


def unique(items: list[Any], where: str) -> None:
    """Items are strings here (checked first): a set finds the repeats."""
    if len(set(items)) != len(items):
        raise ConfigError(f"{where} must not repeat an item")
