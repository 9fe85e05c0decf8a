"""MQTT topic syntax and matching as AWS IoT Core applies them (facts.TOPICS_PAGE;
docs/data-plane.md#topics), and MQTT patterns as IoT policy resources
(docs/iot-policies.md#actions-and-resources).
"""

from __future__ import annotations

from collections.abc import Callable

from iotws.iot.facts import (
    RESERVED_TOPIC_START,
    SHARED_SUBSCRIPTION_PREFIX,
    TOPIC_MAX_BYTES,
    TOPIC_MAX_SLASHES,
)


def misplaced_hash(levels: list[str]) -> bool:
    """A `#` that is not a whole level, or not the last one."""
    return any("#" in lv and (lv != "#" or i != len(levels) - 1) for i, lv in enumerate(levels))


def misplaced_plus(levels: list[str]) -> bool:
    """A `+` that is not a whole level."""
    return any("+" in lv and lv != "+" for lv in levels)


def too_long(topic: str) -> bool:
    return len(topic.encode("utf-8")) > TOPIC_MAX_BYTES


def too_deep(topic: str) -> bool:
    return topic.count("/") > TOPIC_MAX_SLASHES


def has_control(text: str) -> bool:
    """C0 control characters or DEL."""
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def _size_error(topic: str, what: str) -> str | None:
    if too_long(topic):
        return f"{what} longer than {TOPIC_MAX_BYTES} bytes"
    if too_deep(topic):
        return f"{what} has more than {TOPIC_MAX_SLASHES} slashes"
    return None


def topic_name_error(topic: str) -> str | None:
    """Why `topic` is not a valid topic name to publish to, or None."""
    if not topic:
        return "empty topic"
    size = _size_error(topic, "topic")
    if size:
        return size
    if "+" in topic or "#" in topic:
        return "wildcard character in a topic name"
    if "\x00" in topic:
        return "U+0000 in topic"
    return None


def topic_filter_error(topic_filter: str) -> str | None:
    """Why `topic_filter` is not a valid subscription filter, or None."""
    if not topic_filter:
        return "empty topic filter"
    size = _size_error(topic_filter, "topic filter")
    if size:
        return size
    if "\x00" in topic_filter:
        return "U+0000 in topic filter"
    levels = topic_filter.split("/")
    if misplaced_hash(levels):
        return "'#' must be a whole level and the last one"
    if misplaced_plus(levels):
        return "'+' must be a whole level"
    return None


def shared_parts(topic_filter: str) -> tuple[str, str] | None:
    """`(share name, topic filter)` of a shared subscription `$share/{ShareName}/{filter}`
    (mqtt.html "MQTT 5 supported features"; IoT accepts them from MQTT 3.1.1 clients too),
    or None when `topic_filter` is not one."""
    if not topic_filter.startswith(SHARED_SUBSCRIPTION_PREFIX):
        return None
    name, sep, inner = topic_filter[len(SHARED_SUBSCRIPTION_PREFIX) :].partition("/")
    return (name, inner) if sep else (name, "")


def shared_filter_error(topic_filter: str) -> str | None:
    """Why a `$share/...` filter is invalid, or None."""
    parts = shared_parts(topic_filter)
    assert parts is not None
    name, inner = parts
    if not name or any(c in name for c in "+#/"):
        return (
            "the share name of $share/{ShareName}/{TopicFilter} must be a non-empty level "
            "without + or #"
        )
    return topic_filter_error(inner)


def is_wildcard(topic_filter: str) -> bool:
    return "+" in topic_filter or "#" in topic_filter


def matches(topic_filter: str, topic: str) -> bool:
    """Whether a message on `topic` is delivered to a subscription on `topic_filter`.

    AWS differs from the MQTT specification: `a/#` does not match `a` (
    docs/data-plane.md#topics). As in MQTT, a filter starting with a wildcard never matches a topic
    starting with `$`.
    """
    if topic_filter == topic:
        return True
    if topic.startswith(RESERVED_TOPIC_START) and topic_filter[:1] in ("+", "#"):
        return False
    f_levels = topic_filter.split("/")
    t_levels = topic.split("/")
    for i, f in enumerate(f_levels):
        if f == "#":
            # '#' needs at least one more level on AWS: `a/#` does not match `a`.
            return len(t_levels) > i
        if i >= len(t_levels):
            return False
        if f != "+" and f != t_levels[i]:
            return False
    return len(f_levels) == len(t_levels)


def policy_path(pattern: str, literal: Callable[[str], str] = str) -> tuple[str, bool]:
    """An MQTT pattern as the path of an IoT/IAM policy resource: `(path, widened)`.

    MQTT `+` and `#` are literal characters in policy resources, so a wildcard level
    becomes `*`. `*` crosses levels: for `#` that is what MQTT means (neither matches the
    parent, docs/iot-policies.md#matching), for `+` it is a widening (`widened` is True).
    `literal` maps every other level (escaping, placeholders to slots or variables).
    """
    out: list[str] = []
    widened = False
    for level in pattern.split("/"):
        if level == "+":
            out.append("*")
            widened = True
        elif level == "#":
            out.append("*")
        else:
            out.append(literal(level))
    return "/".join(out), widened
