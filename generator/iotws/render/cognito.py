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
caller (docs/iot-policies.md, docs/cognito-guests.md). The client-id rule must contain it, so a
guest can
connect only with its own client id and never take over another guest's connection.

IAM policies cannot carry run-time slots, so the ARNs need the spec's literal
`aws.region` and `aws.account`. Size limits (IAM quotas page): the inline policies of one
role may total 10,240 characters and a managed policy 6,144, both counted without white
space; the module attaches this policy inline, so 10,240 is the hard limit here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from iotws.errors import IotwsError
from iotws.iot.facts import (
    CLIENT_ID_MAX_BYTES,
    IDENTITY_CHARS,
    INLINE_ROLE_POLICY_MAX_CHARS,
    MANAGED_POLICY_MAX_CHARS,
    MAX_DOCUMENT_CHARS,
    RESERVED_TOPIC_START,
    TOPIC_MAX_BYTES,
    TOPIC_MAX_SLASHES,
)
from iotws.iot.grants import TopicGrant, resolve, topic_grants
from iotws.iot.topics import misplaced_hash, misplaced_plus, too_deep, too_long

IDENTITY_PLACEHOLDER = "identity_id"
# The IAM policy variable of the caller's Cognito identity id
# (docs/iot-policies.md#policy-variables, docs/cognito-guests.md#binding-the-client-id).
IDENTITY_VARIABLE = "${cognito-identity.amazonaws.com:sub}"
# Cognito identity ids are at most 55 characters ("<region>:<uuid>", GetId API reference).
IDENTITY_ID_MAX_LENGTH = 55
# A named IoT policy (what an authenticated identity also needs): docs/iot-policies.md.
IOT_POLICY_MAX_CHARS = MAX_DOCUMENT_CHARS

_PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
_ACCOUNT_RE = re.compile(r"^[0-9]{12}$")
ONLY_IDENTITY = "only the identity id exists for guests: use {identity_id}"
ACCOUNT_FIX = (
    'add `aws: {region: us-east-1, account: "123456789012"}` (your own values) to the spec: '
    "the guest IAM policy needs literal ARNs"
)


class ProfileLike(Protocol):
    """The parts of `iotws.spec.model.Profile` this module reads."""

    @property
    def name(self) -> str: ...

    @property
    def client_id(self) -> str: ...

    @property
    def subscribe(self) -> Sequence[str]: ...

    @property
    def publish(self) -> Sequence[str]: ...

    @property
    def receive(self) -> Sequence[str]: ...


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


def _check_target(region: str | None, account: str | None) -> tuple[str, str]:
    if not account:
        raise IotwsError(
            "is required for the Cognito guest path", field="aws.account", fix=ACCOUNT_FIX
        )
    if not region:
        raise IotwsError(
            "is required for the Cognito guest path", field="aws.region", fix=ACCOUNT_FIX
        )
    if not _ACCOUNT_RE.match(account):
        raise IotwsError(
            f"{account!r} is not a 12-digit account id",
            field="aws.account",
            fix='quote the 12-digit account id, e.g. "123456789012"',
        )
    if not _REGION_RE.match(region):
        raise IotwsError(
            f"{region!r} is not a region code", field="aws.region", fix="use e.g. us-east-1"
        )
    return region, account


def _escape_literal(text: str) -> str:
    """Literal text inside an IAM resource: `$`, `*` and `?` have meanings there."""
    return text.replace("$", "${$}").replace("*", "${*}").replace("?", "${?}")


def _substitute(text: str) -> str:
    """Literal parts escaped, `{identity_id}` -> the Cognito identity policy variable."""
    out: list[str] = []
    pos = 0
    for m in _PLACEHOLDER_RE.finditer(text):
        out.append(_escape_literal(text[pos : m.start()]))
        out.append(IDENTITY_VARIABLE)
        pos = m.end()
    out.append(_escape_literal(text[pos:]))
    return "".join(out)


def _worst_case(text: str) -> str:
    return _PLACEHOLDER_RE.sub("x" * IDENTITY_ID_MAX_LENGTH, text)


def _check_text(text: str, fld: str) -> None:
    """Placeholders and characters allowed in a guest profile's strings."""
    for m in _PLACEHOLDER_RE.finditer(text):
        if m.group(1) != IDENTITY_PLACEHOLDER:
            raise IotwsError(
                f"placeholder {{{m.group(1)}}} is not available to Cognito guests",
                field=fld,
                fix=ONLY_IDENTITY,
            )
    if "{" in _PLACEHOLDER_RE.sub("", text) or "}" in _PLACEHOLDER_RE.sub("", text):
        raise IotwsError(
            "has a { or } outside a placeholder", field=fld, fix="write it as {identity_id}"
        )
    # IAM policy documents may hold only tab, LF, CR and U+0020..U+00FF (IAM quotas page).
    bad = sorted({c for c in text if not (0x20 <= ord(c) <= 0xFF) or ord(c) == 0x7F})
    if bad:
        shown = " ".join(f"U+{ord(c):04X}" for c in bad)
        raise IotwsError(
            f"has characters an IAM policy cannot hold: {shown}",
            field=fld,
            fix="use Latin-1 characters only in topics of the Cognito profiles",
        )


def _client_resource(profile: ProfileLike, fld: str) -> str:
    rule = profile.client_id
    _check_text(rule, fld)
    wildcard = rule.endswith("*")
    body = rule[:-1] if wildcard else rule
    if len(_PLACEHOLDER_RE.findall(body)) != 1:
        raise IotwsError(
            "must contain {identity_id} exactly once, so that a guest can connect only with "
            "its own client id (docs/cognito-guests.md#binding-the-client-id)",
            field=fld,
            fix="write e.g. guest-{identity_id} or {identity_id}",
        )
    literal = _PLACEHOLDER_RE.sub("", body)
    if not set(literal) <= IDENTITY_CHARS or rule.startswith("$"):
        raise IotwsError(
            f"{rule!r} has characters client ids here may not have",
            field=fld,
            fix="use letters, digits and _ . : @ = | - around {identity_id} (docs/iot-policies.md)",
        )
    size = len(_worst_case(body).encode()) + (1 if wildcard else 0)
    if size > CLIENT_ID_MAX_BYTES:
        raise IotwsError(
            f"can be {size} bytes with a {IDENTITY_ID_MAX_LENGTH}-character identity id; IoT "
            f"allows {CLIENT_ID_MAX_BYTES}",
            field=fld,
            fix="shorten the literal part",
        )
    return _substitute(body) + ("*" if wildcard else "")


def _check_topic(pattern: str, prefix: str, fld: str) -> None:
    """A pattern of a profile rendered on its own (the spec check does more)."""
    _check_text(pattern, fld)
    levels = pattern.split("/")
    if pattern.startswith(RESERVED_TOPIC_START) or "" in levels or any(c in pattern for c in "*?"):
        raise IotwsError(
            f"{pattern!r} is not a topic pattern of the access spec",
            field=fld,
            fix="use MQTT levels with + and # (no leading $, no * or ?, no empty level)",
        )
    if misplaced_plus(levels) or misplaced_hash(levels):
        raise IotwsError(
            f"{pattern!r}: + and # must be whole levels, # only the last",
            field=fld,
            fix="write e.g. rooms/+/messages or users/{identity_id}/#",
        )
    full = f"{prefix}/{pattern}" if prefix else pattern
    worst = _worst_case(full)
    size = len(worst.encode("utf-8"))
    if too_long(worst) or too_deep(full):
        raise IotwsError(
            f"{full!r} can be {size} bytes and has {full.count('/')} slashes; IoT allows "
            f"{TOPIC_MAX_BYTES} bytes and {TOPIC_MAX_SLASHES} slashes",
            field=fld,
            fix="shorten the topic or the topic_prefix",
        )


def render_guest_policy(
    profile: ProfileLike, *, prefix: str, region: str | None, account: str | None
) -> GuestPolicy:
    """The IAM role policy of `profile`, for Cognito identities (guest or authenticated).

    Raises `IotwsError` naming the field and the fix when the profile grants nothing, uses
    a placeholder other than `{identity_id}`, renders over the inline-policy size limit,
    or when the spec has no `aws.region`/`aws.account`.
    """
    base_field = f"profiles.{profile.name}"
    region, account = _check_target(region, account)
    arn = f"arn:aws:iot:{region}:{account}:"
    if not (profile.subscribe or profile.publish or profile.receive):
        raise IotwsError(
            "grants nothing: a Cognito profile needs subscribe, receive or publish topics",
            field=base_field,
            fix="add at least one topic, or point cognito.guest_profile at another profile",
        )
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Connect",
            "Effect": "Allow",
            "Action": "iot:Connect",
            "Resource": [f"{arn}client/{_client_resource(profile, f'{base_field}.client_id')}"],
        }
    ]
    widenings: list[dict[str, str]] = []
    grants = topic_grants(
        publish=profile.publish, subscribe=profile.subscribe, receive=profile.receive
    )
    for sid in ("Subscribe", "Receive", "Publish"):
        action = f"iot:{sid}"
        mine: list[TopicGrant] = [g for g in grants if g.action == action]
        for g in mine:
            _check_topic(g.pattern, prefix, f"{base_field}.{g.spec_key}[{g.index}]")
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
            field=base_field,
            fix="grant fewer topics (a + or # pattern can replace many literal topics)",
        )
    return result
