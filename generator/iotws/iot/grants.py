"""A profile as a list of grants, and each grant as a policy resource.

The IoT-policy emitter (`iotws.render.policies`) and the IAM emitter of the Cognito path
(`iotws.render.cognito`) consume the same grants: one action, one resource type and one MQTT
pattern each (docs/iot-policies.md#actions-and-resources). They differ only in how they
write literal levels and placeholders (run-time slots or IAM policy variables).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from iotws.iot.topics import policy_path

# The resource type each data-plane action is checked against.
RESOURCE_TYPES = {
    "iot:Connect": "client",
    "iot:Publish": "topic",
    "iot:Subscribe": "topicfilter",
    "iot:Receive": "topic",
}


@dataclass(frozen=True)
class TopicGrant:
    """`action` on the MQTT `pattern` (relative to the topic prefix); `index` is the
    pattern's position in the profile's list (for error messages)."""

    action: str
    pattern: str
    index: int

    @property
    def resource_type(self) -> str:
        return RESOURCE_TYPES[self.action]


@dataclass(frozen=True)
class Resolved:
    """A grant as a policy resource; `widened`: a `+` became `*`."""

    grant: TopicGrant
    resource: str
    widened: bool


def topic_grants(
    *, publish: Sequence[str], subscribe: Sequence[str], receive: Sequence[str]
) -> list[TopicGrant]:
    """The topic grants of one profile, in the order the documents list them."""
    out: list[TopicGrant] = []
    for action, patterns in (
        ("iot:Publish", publish),
        ("iot:Subscribe", subscribe),
        ("iot:Receive", receive),
    ):
        out.extend(TopicGrant(action, p, i) for i, p in enumerate(patterns))
    return out


def resolve(
    grants: Iterable[TopicGrant],
    *,
    arn_base: str,
    prefix: str,
    literal: Callable[[str], str],
) -> list[Resolved]:
    """Each grant as `arn_base + TYPE/PATH`, the prefix in front; a resource that an
    earlier grant of the same action already gave is left out."""
    seen: set[tuple[str, str]] = set()
    out: list[Resolved] = []
    for g in grants:
        full = f"{prefix}/{g.pattern}" if prefix else g.pattern
        path, widened = policy_path(full, literal)
        resource = f"{arn_base}{g.resource_type}/{path}"
        if (g.action, resource) in seen:
            continue
        seen.add((g.action, resource))
        out.append(Resolved(g, resource, widened))
    return out
