"""The Cognito guest path: render a profile as the IAM policy of an identity pool's role.

Unauthenticated (guest) Cognito identities are authorized by their role's IAM policy
alone (docs/cognito-guests.md): no IoT policy is attached to them. That IAM policy is
rendered here from the access-spec profile named by `cognito.guest_profile`:

| spec | IAM action | resource |
|---|---|---|
| `client_id: g-{identity_id}` | `iot:Connect` | `client/g-${cognito-identity.amazonaws.com:sub}` |
| `subscribe: x/+` | `iot:Subscribe` | `topicfilter/<prefix>/x/*` (widening, reported) |
| `receive` (default: subscribe) | `iot:Receive` | `topic/<prefix>/x/*` |
| `publish: x/y` | `iot:Publish` | `topic/<prefix>/x/y` |

and nothing else. `{identity_id}` is the only placeholder a guest has: it becomes the IAM
policy variable `${cognito-identity.amazonaws.com:sub}`, the identity id Cognito gave the
caller (docs/iot-policies.md, docs/cognito-guests.md). The client-id rule must contain it,
so a guest can connect only with its own client id and never take over another guest's
connection.

IAM policies cannot carry run-time slots, so the ARNs need the spec's literal
`aws.region` and `aws.account`. The profile comes from a checked spec: the spec check
(`iotws.spec.model`) has refused wrong placeholders, a client-id rule without exactly one
`{identity_id}`, bad topics, characters IAM cannot hold and a missing `aws` section, so
this module only renders, and checks the one thing only rendering shows: the size. Size
limits (IAM quotas page): the inline policies of one role may total 10,240 characters and a
managed policy 6,144, both counted without white space; the module attaches this policy
inline, so 10,240 is the hard limit here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from iotws.errors import IotwsError
from iotws.iot.facts import (
    COGNITO_IDENTITY_VARIABLE,
    INLINE_ROLE_POLICY_MAX_CHARS,
    MANAGED_POLICY_MAX_CHARS,
    MAX_DOCUMENT_CHARS,
)
from iotws.iot.grants import TopicGrant, resolve, topic_grants
from iotws.spec.model import Profile

# The IAM policy variable of the caller's Cognito identity id
# (docs/iot-policies.md#policy-variables, docs/cognito-guests.md#binding-the-client-id).
IDENTITY_VARIABLE = COGNITO_IDENTITY_VARIABLE
# A named IoT policy (what an authenticated identity also needs): docs/iot-policies.md.
IOT_POLICY_MAX_CHARS = MAX_DOCUMENT_CHARS

_PLACEHOLDER_RE = re.compile(r"\{identity_id\}")


@dataclass
class GuestPolicy:
    """A rendered role policy with what the report needs."""

    profile: str
    policy: dict[str, Any]
    widenings: list[dict[str, str]] = field(default_factory=list)

    @property
    def chars(self) -> int:
        """Size as IAM counts it: without white space (outside strings too, conservatively)."""
        return policy_chars(self.policy)

    @property
    def fits_managed_policy(self) -> bool:
        return self.chars <= MANAGED_POLICY_MAX_CHARS

    @property
    def fits_iot_policy(self) -> bool:
        """Whether the same document would also fit one named IoT policy (authenticated path)."""
        return self.chars <= IOT_POLICY_MAX_CHARS

    def report(self) -> dict[str, Any]:
        return {
            "chars_without_whitespace": self.chars,
            "limit": INLINE_ROLE_POLICY_MAX_CHARS,
            "fits_managed_policy": self.fits_managed_policy,
            "fits_iot_policy": self.fits_iot_policy,
            "widenings": self.widenings,
        }


def policy_chars(policy: dict[str, Any]) -> int:
    text = json.dumps(policy, separators=(",", ":"), ensure_ascii=False)
    return len("".join(text.split()))


def _escape_literal(text: str) -> str:
    """Literal text inside an IAM resource: `$`, `*` and `?` have meanings there."""
    return text.replace("$", "${$}").replace("*", "${*}").replace("?", "${?}")


def _substitute(text: str) -> str:
    """Literal parts escaped, `{identity_id}` -> the Cognito identity policy variable."""
    return IDENTITY_VARIABLE.join(_escape_literal(part) for part in _PLACEHOLDER_RE.split(text))


def _client_resource(rule: str) -> str:
    """`g-{identity_id}` -> `g-${cognito-identity.amazonaws.com:sub}`; a final `*` stays a
    wildcard."""
    wildcard = rule.endswith("*")
    return _substitute(rule[:-1] if wildcard else rule) + ("*" if wildcard else "")


def render_guest_policy(profile: Profile, *, prefix: str, region: str, account: str) -> GuestPolicy:
    """The IAM role policy of `profile` (of a checked spec), for Cognito identities (guest
    or authenticated).

    Raises `IotwsError` naming the profile and the fix when the policy renders over the
    inline-policy size limit.
    """
    arn = f"arn:aws:iot:{region}:{account}:"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Connect",
            "Effect": "Allow",
            "Action": "iot:Connect",
            "Resource": [f"{arn}client/{_client_resource(profile.client_id)}"],
        }
    ]
    widenings: list[dict[str, str]] = []
    grants = topic_grants(
        publish=profile.publish, subscribe=profile.subscribe, receive=profile.receive
    )
    for sid in ("Subscribe", "Receive", "Publish"):
        action = f"iot:{sid}"
        mine: list[TopicGrant] = [g for g in grants if g.action == action]
        resources: list[str] = []
        # `+` and `#` become `*` (no single-level wildcard in policies; `*` is multi-level
        # like `#`, neither matches the parent: docs/iot-policies.md#matching).
        for r in resolve(mine, arn_base=arn, prefix=prefix, literal=_substitute):
            resources.append(r.resource)
            if r.widened:
                widenings.append(
                    {
                        "action": action,
                        "pattern": r.grant.pattern,
                        "resource": r.resource,
                        "kind": "plus-as-star",
                        "explanation": "IAM/IoT policy resources have no single-level "
                        "wildcard: * also matches several levels",
                    }
                )
        if resources:
            statements.append(
                {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resources}
            )
    result = GuestPolicy(
        profile=profile.name,
        policy={"Version": "2012-10-17", "Statement": statements},
        widenings=widenings,
    )
    if result.chars > INLINE_ROLE_POLICY_MAX_CHARS:
        raise IotwsError(
            f"the Cognito role policy of profile {profile.name!r} is {result.chars} characters "
            f"without white space; a role's inline policies may total "
            f"{INLINE_ROLE_POLICY_MAX_CHARS}",
            field=f"profiles.{profile.name}",
            fix="grant fewer topics (a + or # pattern can replace many literal topics)",
        )
    return result
