"""Mode `hs256`: a JWT signed with HMAC-SHA256 and a shared secret (RFC 7515/7519).

Strict on purpose: the header's `alg` must be exactly `HS256` (no `none`, no algorithm
chosen by the token), `typ` if present must be `JWT`, no `crit`; base64url parts
without padding and in canonical form; JSON objects without duplicate keys or NaN;
`exp` required; `nbf`/`iat` honoured with `leeway_seconds`; `iss`/`aud` checked when
configured; `max_age_seconds` (when set) requires `iat`. The signature is checked with
`hmac.compare_digest` before the payload is decoded.

The JWS pieces both token modes apply the same way (the three parts, strict base64url and
JSON, finite date claims, the lifetime bound, the audience and the subject)
are defined here once and imported by `jwks`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import time
from typing import Any

from iotws_authorizer import fields, secrets
from iotws_authorizer.errors import (
    ALG_NOT_ALLOWED,
    BAD_SIGNATURE,
    EXPIRED,
    MALFORMED_TOKEN,
    NOT_YET_VALID,
    WRONG_AUDIENCE,
    WRONG_ISSUER,
    ConfigError,
    Deny,
)

KEYS = (  # every key of the `hs256` section is required
    "secret",
    "issuer",
    "audience",
    "leeway_seconds",
    "max_age_seconds",
    "max_lifetime_seconds",
    "subject_claim",
)
_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class Settings:
    __slots__ = (
        "source",
        "secret_name",
        "issuer",
        "audiences",
        "leeway",
        "max_age",
        "max_lifetime",
        "subject_claim",
    )

    def __init__(self) -> None:
        self.source = "env"
        self.secret_name = ""
        self.issuer: str | None = None
        self.audiences: frozenset[str] = frozenset()
        self.leeway = 0
        self.max_age: int | None = None
        self.max_lifetime: int | None = None
        self.subject_claim = "sub"


def parse_settings(raw_config: dict[str, Any]) -> Settings:
    """The `hs256` section, by the configuration's JSON Schema (see `iotws_authorizer.fields`)."""
    if "hs256" not in raw_config:
        raise ConfigError("hs256 is missing (mode hs256)")
    raw = fields.obj(raw_config["hs256"], "hs256", KEYS)
    s = Settings()
    secret = fields.obj(raw["secret"], "hs256.secret", ("source", "name"))
    s.source = fields.choice(secret["source"], "hs256.secret.source", secrets.SOURCES)
    s.secret_name = fields.text(secret["name"], "hs256.secret.name", min_length=1)
    s.issuer = fields.text(raw["issuer"], "hs256.issuer", min_length=1, null=True)
    audience = raw["audience"]
    if isinstance(audience, list):
        fields.array(audience, "hs256.audience", min_items=1)
        for index, value in enumerate(audience):
            fields.text(value, f"hs256.audience[{index}]", min_length=1)
    else:
        fields.text(audience, "hs256.audience", min_length=1, null=True)
    s.audiences = frozenset([audience] if isinstance(audience, str) else audience or ())
    s.leeway = fields.integer(raw["leeway_seconds"], "hs256.leeway_seconds", 0, 300)
    s.max_age = fields.integer(
        raw["max_age_seconds"], "hs256.max_age_seconds", 60, 604800, null=True
    )
    s.max_lifetime = fields.integer(
        raw["max_lifetime_seconds"], "hs256.max_lifetime_seconds", 60, 2592000, null=True
    )
    s.subject_claim = fields.text(raw["subject_claim"], "hs256.subject_claim", min_length=1)
    return s


def b64url_decode(part: str) -> bytes:
    """One JWT part: strict, canonical base64url (shared with `jwks`); else a deny."""
    if not part or not _B64URL.issuperset(part) or len(part) % 4 == 1:
        raise Deny(MALFORMED_TOKEN, "not base64url")
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):  # pragma: no cover - excluded by the regex
        raise Deny(MALFORMED_TOKEN, "not base64url") from None
    # Canonical form only: unused trailing bits must be zero (no malleable encodings).
    if base64.urlsafe_b64encode(raw).rstrip(b"=") != part.encode("ascii"):
        raise Deny(MALFORMED_TOKEN, "non-canonical base64url")
    return raw


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate key")
    return obj


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_object(raw: bytes) -> dict[str, Any]:
    """A JWT header or payload: one JSON object, no duplicate keys, no NaN/Infinity."""
    try:
        obj = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constants
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Deny(MALFORMED_TOKEN, "not a JSON object") from None
    if not isinstance(obj, dict):
        raise Deny(MALFORMED_TOKEN, "not a JSON object")
    return obj


def finite_claim(claims: dict[str, Any], name: str) -> float | None:
    """A numeric date claim (`exp`, `nbf`, `iat`; shared with `jwks`), None when absent."""
    value = claims.get(name)
    if value is None:
        return None
    # Finite only: `exp: 1e400` parses as infinity and would never expire.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Deny(MALFORMED_TOKEN, f"{name} is not a finite number")
    return float(value)


def check_lifetime(exp: float, now: float, leeway: int, max_lifetime: int | None) -> None:
    """`max_lifetime_seconds`: a token may not be valid for longer than this from now."""
    if max_lifetime is not None and exp - now > max_lifetime + leeway:
        raise Deny(MALFORMED_TOKEN, "exp is further away than max_lifetime_seconds")


def token_parts(token: str) -> list[str]:
    """A compact JWS's three base64url parts (shared with `jwks`); else a deny."""
    if not token.isascii():
        raise Deny(MALFORMED_TOKEN, "not ASCII")
    parts = token.split(".")
    if len(parts) != 3:
        raise Deny(MALFORMED_TOKEN, "not three parts")
    return parts


def check_audience(value: Any, allowed: frozenset[str]) -> None:
    """The audience claim (a string or a list of them; shared with `jwks`) names one of
    `allowed`; else a deny."""
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    if not any(isinstance(v, str) and v in allowed for v in values):
        raise Deny(WRONG_AUDIENCE)


def subject_of(claims: dict[str, Any], claim: str) -> str | None:
    """The subject claim when it is a string (shared with `jwks`)."""
    subject = claims.get(claim)
    return subject if isinstance(subject, str) else None


def verify(token: str, settings: Settings) -> tuple[dict[str, Any], str | None]:
    """Verify a compact JWS; return (claims, subject) or raise Deny with the reason."""
    header_b64, payload_b64, signature_b64 = token_parts(token)
    header = json_object(b64url_decode(header_b64))
    if header.get("alg") != "HS256":
        raise Deny(ALG_NOT_ALLOWED)
    if "typ" in header and header["typ"] != "JWT":
        raise Deny(MALFORMED_TOKEN, "typ is not JWT")
    if "crit" in header:
        raise Deny(MALFORMED_TOKEN, "crit header is not supported")
    signature = b64url_decode(signature_b64)
    key = secrets.get(settings.source, settings.secret_name)
    signing_input = f"{header_b64}.{payload_b64}".encode("ascii")
    expected = hmac.new(key, signing_input, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise Deny(BAD_SIGNATURE)

    claims = json_object(b64url_decode(payload_b64))
    now = time.time()
    leeway = settings.leeway
    exp = finite_claim(claims, "exp")
    if exp is None:
        raise Deny(MALFORMED_TOKEN, "exp is required")
    if now >= exp + leeway:
        raise Deny(EXPIRED)
    check_lifetime(exp, now, leeway, settings.max_lifetime)
    nbf = finite_claim(claims, "nbf")
    if nbf is not None and now + leeway < nbf:
        raise Deny(NOT_YET_VALID)
    iat = finite_claim(claims, "iat")
    if iat is not None and now + leeway < iat:
        raise Deny(NOT_YET_VALID, "issued in the future")
    if settings.max_age is not None:
        if iat is None:
            raise Deny(MALFORMED_TOKEN, "iat is required (max_age_seconds)")
        if now - iat > settings.max_age + leeway:
            raise Deny(EXPIRED, "older than max_age_seconds")
    if settings.issuer is not None and claims.get("iss") != settings.issuer:
        raise Deny(WRONG_ISSUER)
    if settings.audiences:
        check_audience(claims.get("aud"), settings.audiences)
    return claims, subject_of(claims, settings.subject_claim)
