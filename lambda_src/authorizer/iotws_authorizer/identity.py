"""Identity: profile selection, identity-value checks, the client-id rule, slot filling.

Every value that is substituted into a policy (claims and the client id) is checked
against `identity.charset` (fullmatch, ASCII) and, whatever the configuration says, a
fixed guard: printable ASCII only and none of `+ # * ? / $ " \\ { }` (MQTT and IoT
policy wildcards, reserved `$`, JSON escapes and slot syntax; docs/iot-policies.md#matching,
client-id injection). The values then go in with plain `str.replace`: no JSON escaping
is ever needed, and the compact length is the text length.
"""

from __future__ import annotations

import json
import re
from typing import Any

from iotws_authorizer.config import (
    ACCOUNT_PATTERN,
    MAX_DOCUMENT_CHARS,
    MAX_DOCUMENTS,
    REGION_PATTERN,
    SLOT_ACCOUNT,
    SLOT_CLIENT_ID,
    SLOT_PREFIX,
    SLOT_REGION,
    Config,
    Profile,
)
from iotws_authorizer.errors import (
    BAD_CLIENT_ID,
    BAD_IDENTITY,
    CONFIG_ERROR,
    NO_PROFILE,
    POLICY_TOO_LARGE,
    Deny,
)

# Never substituted, whatever identity.charset says (with non-printable and non-ASCII).
_FORBIDDEN = frozenset('+#*?/$"\\{} ')

_arn_cache: dict[str, tuple[str, str]] = {}


def reset() -> None:
    _arn_cache.clear()


def safe_value(
    value: Any, cfg: Config, max_length: int, pattern: re.Pattern[str] | None = None
) -> bool:
    """True when `value` may be substituted into a policy: within the identity charset
    and, for a claim, within the claim's own declared set (`pattern`)."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= max_length
        and value.isascii()
        and value.isprintable()
        and _FORBIDDEN.isdisjoint(value)
        and cfg.charset is not None
        and cfg.charset.fullmatch(value) is not None
        and (pattern is None or pattern.fullmatch(value) is not None)
    )


def select_profile(claims: dict[str, Any], cfg: Config) -> Profile:
    """The profile for verified claims: the first of the spec's `values` (in the spec's
    order, never the token's) that the claim holds, else the default. A token whose
    groups are `[member, suspended]` gets the same profile as `[suspended, member]`."""
    selection = cfg.selection
    if selection is None:  # pragma: no cover - config.parse requires it in token modes
        raise Deny(CONFIG_ERROR, "no selection")
    for name in selection.claims:
        value = claims.get(name)
        held = (
            {value}
            if isinstance(value, str)
            else {v for v in value if isinstance(v, str)}
            if isinstance(value, list)
            else set()
        )
        for candidate, profile in selection.values.items():
            if candidate in held:
                return cfg.profiles[profile]
    if selection.default is not None:
        return cfg.profiles[selection.default]
    raise Deny(NO_PROFILE)


def region_account(cfg: Config, context: Any) -> tuple[str, str]:
    """Region and account: from the configuration, else from the function's own ARN
    `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`; Deny when neither."""
    if cfg.region is not None and cfg.account is not None:
        return cfg.region, cfg.account
    arn = getattr(context, "invoked_function_arn", None)
    if not isinstance(arn, str):
        raise Deny(CONFIG_ERROR, "region/account unknown: no invoked_function_arn")
    found = _arn_cache.get(arn)
    if found is None:
        parts = arn.split(":")
        if (
            len(parts) < 7
            or parts[0] != "arn"
            or parts[2] != "lambda"
            or not re.fullmatch(REGION_PATTERN, parts[3])
            or not re.fullmatch(ACCOUNT_PATTERN, parts[4])
        ):
            raise Deny(CONFIG_ERROR, "region/account unknown: unexpected function ARN")
        found = (parts[3], parts[4])
        if len(_arn_cache) < 16:
            _arn_cache[arn] = found
    return cfg.region or found[0], cfg.account or found[1]


def slot_values(
    profile: Profile, claims: dict[str, Any], client_id: Any, cfg: Config, context: Any
) -> dict[str, str]:
    """Check the identity and the client id; return slot -> value for this profile."""
    values: dict[str, str] = {}
    # Every declared claim the token carries is checked (ACCESS_SPEC "claims"), whether or
    # not this profile uses it; the ones the profile uses must be present.
    for name, max_length in cfg.claim_max.items():
        value = claims.get(name)
        if value is None and name not in profile.claims:
            continue
        pattern = cfg.claim_patterns.get(name)
        if pattern is None:  # pragma: no cover - config.parse requires one per claim
            raise Deny(CONFIG_ERROR, f"claim {name} has no pattern")
        if not isinstance(value, str) or not safe_value(value, cfg, max_length, pattern):
            raise Deny(BAD_IDENTITY, f"claim {name} is missing or not allowed")
        if name in profile.claims:
            values[f"${{iotws:claim.{name}}}"] = value
    if profile.needs_region or profile.needs_account:
        region, account = region_account(cfg, context)
        values[SLOT_REGION] = region
        values[SLOT_ACCOUNT] = account
    check_client_id(client_id, profile, values, cfg)
    values[SLOT_CLIENT_ID] = client_id
    return values


def check_client_id(client_id: Any, profile: Profile, values: dict[str, str], cfg: Config) -> None:
    """The profile's client-id rule (docs/data-plane.md#client-ids: at most 128 bytes, no leading
    $)."""
    if not safe_value(client_id, cfg, cfg.client_id_max_bytes):
        raise Deny(BAD_CLIENT_ID)
    # ASCII-only after safe_value, so characters are bytes; `$` is refused by the guard.
    expected = fill_text(profile.template, values)
    if profile.wildcard:
        if len(client_id) <= len(expected) or not client_id.startswith(expected):
            raise Deny(BAD_CLIENT_ID)
    elif client_id != expected:
        raise Deny(BAD_CLIENT_ID)


def fill_text(text: str, values: dict[str, str]) -> str:
    for slot, value in values.items():
        if slot in text:
            text = text.replace(slot, value)
    if SLOT_PREFIX in text:  # bug guard: config.parse resolved every slot name
        raise Deny(CONFIG_ERROR, "unfilled slot")
    return text


def documents(profile: Profile, values: dict[str, str]) -> list[dict[str, Any]]:
    """The profile's policy documents with slots filled, checked against 10 x 2,048."""
    if len(profile.documents) > MAX_DOCUMENTS:
        raise Deny(POLICY_TOO_LARGE, "too many documents")
    result: list[dict[str, Any]] = []
    for text in profile.documents:
        filled = fill_text(text, values)
        # Compact already (config.parse); values need no escaping: length is exact.
        if len(filled) > MAX_DOCUMENT_CHARS:
            raise Deny(POLICY_TOO_LARGE)
        doc = json.loads(filled)
        if not isinstance(doc, dict):  # pragma: no cover - config.parse checked it
            raise Deny(CONFIG_ERROR, "document is not an object")
        result.append(doc)
    return result
