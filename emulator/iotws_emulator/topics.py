"""Topic names and filters the way AWS IoT Core checks and matches them
(docs/data-plane.md#topics)."""

from __future__ import annotations

MAX_TOPIC_BYTES = 256  # docs/data-plane.md#topics
MAX_SLASHES = 7  # docs/data-plane.md#topics


def topic_name_error(topic: str) -> str | None:
    """Why `topic` is not a valid topic name to publish to, or None."""
    if not topic:
        return "empty topic"
    if len(topic.encode("utf-8")) > MAX_TOPIC_BYTES:
        return f"topic longer than {MAX_TOPIC_BYTES} bytes"
    if topic.count("/") > MAX_SLASHES:
        return f"topic has more than {MAX_SLASHES} slashes"
    if "+" in topic or "#" in topic:
        return "wildcard character in a topic name"
    if "\x00" in topic:
        return "U+0000 in topic"
    return None


def topic_filter_error(topic_filter: str) -> str | None:
    """Why `topic_filter` is not a valid subscription filter, or None."""
    if not topic_filter:
        return "empty topic filter"
    if len(topic_filter.encode("utf-8")) > MAX_TOPIC_BYTES:
        return f"topic filter longer than {MAX_TOPIC_BYTES} bytes"
    if topic_filter.count("/") > MAX_SLASHES:
        return f"topic filter has more than {MAX_SLASHES} slashes"
    if "\x00" in topic_filter:
        return "U+0000 in topic filter"
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return "'#' must be a whole level and the last one"
        if "+" in level and level != "+":
            return "'+' must be a whole level"
    return None


SHARE_PREFIX = "$share/"


def shared_parts(topic_filter: str) -> tuple[str, str] | None:
    """`(share name, topic filter)` of a shared subscription `$share/{ShareName}/{filter}`
    (mqtt.html "MQTT 5 supported features"; IoT accepts them from MQTT 3.1.1 clients too),
    or None when `topic_filter` is not one."""
    if not topic_filter.startswith(SHARE_PREFIX):
        return None
    name, sep, inner = topic_filter[len(SHARE_PREFIX) :].partition("/")
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
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
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
