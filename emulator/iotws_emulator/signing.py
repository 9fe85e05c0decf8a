"""IoT custom-authorizer token signing, as the device gateway applies it.

With signing on (`signingDisabled: false`), the client sends, besides the token under
the authorizer's token key name, `x-amz-customauthorizer-signature`: the standard
base64 of an RSA PKCS#1 v1.5 SHA-256 signature over the raw token, URL-encoded when it
travels in a query string. The gateway checks it against the authorizer's
`tokenSigningPublicKeys` and refuses a missing or bad signature **without invoking the
Lambda** (docs/custom-authorizer.md#event, docs/custom-authorizer.md#token-signing). The Lambda then
sees `signatureVerified: true`.

How the emulator uses this module (before it builds the event):

    keys = signing_keys(packaged_config)          # None: signing is off
    if keys is not None:
        refusal = check_request(token, info.headers, info.query, username, keys)
        if refusal is not None:
            refuse the connection (log `refusal`), do NOT invoke the authorizer
        event = replace(event, signature_verified=True)  # iotws_authorizer.event

Unverified details, handled defensively: whether the gateway tries every key (this
module accepts a signature that any configured key verifies, as one key per rotation
step needs); where the signature is looked for first (headers, then query, then the MQTT
user-name query, like the token); and whether a raw `+` in a query value means a space
(base64 never contains spaces, so `+` is kept as `+`).
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from iotws.iot.facts import SIGNING_MIN_RSA_BITS

SIGNATURE_PARAM = "x-amz-customauthorizer-signature"
MAX_SIGNATURE_LENGTH = 2048  # base64 of a 8,192-bit RSA signature is 1,368 characters

# Refusal reasons (logged by the emulator; stable for tests).
NO_TOKEN = "signing_no_token"  # noqa: S105 - a reason code
UNSIGNED = "signing_unsigned"
AMBIGUOUS = "signing_ambiguous"
BAD_SIGNATURE = "signing_bad_signature"
NO_KEYS = "signing_no_keys"


def verify_request_signature(token: str, signature_b64: str, public_keys: dict[str, str]) -> bool:
    """True when `signature_b64` (standard base64, already URL-decoded) is an RSA PKCS#1
    v1.5 SHA-256 signature of the UTF-8 bytes of `token` by one of `public_keys`
    (name -> PEM). Never raises on bad input: anything malformed is False."""
    if not isinstance(token, str) or not token or not isinstance(signature_b64, str):
        return False
    if not signature_b64 or len(signature_b64) > MAX_SIGNATURE_LENGTH:
        return False
    try:
        signature = binascii.a2b_base64(signature_b64.strip(), strict_mode=True)
        message = token.encode("utf-8")
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return False
    for pem in public_keys.values():
        try:
            key = serialization.load_pem_public_key(pem.encode("ascii"))
        except (ValueError, TypeError, UnicodeEncodeError, AttributeError):
            continue
        # IoT takes RSA keys of at least 2,048 bits only
        # (docs/custom-authorizer.md#authorizer-resource).
        if not isinstance(key, rsa.RSAPublicKey) or key.key_size < SIGNING_MIN_RSA_BITS:
            continue
        try:
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            continue
        return True
    return False


def _query_values(query: str | None, name: str) -> list[str]:
    """Values of `name` in a raw query string ("a=1&b=2", a leading "?" tolerated);
    percent-decoded, `+` kept (see the module docstring)."""
    if not query:
        return []
    if query.startswith("?"):
        query = query[1:]
    found: list[str] = []
    for pair in query.split("&"):
        key, sep, value = pair.partition("=")
        if sep and unquote(key) == name:
            found.append(unquote(value))
    return found


def _header_values(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> list[str]:
    if headers is None:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [v for k, v in items if isinstance(k, str) and k.lower() == SIGNATURE_PARAM]


def find_signature(
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None,
    query: str | None,
    username: str | None,
) -> list[str]:
    """Every `x-amz-customauthorizer-signature` the request carries, from the first place
    that has one: headers (case-insensitive), then the query string, then the query part
    of the MQTT user name. More than one value is ambiguous (see `check_request`)."""
    found = _header_values(headers)
    if not found:
        found = _query_values(query, SIGNATURE_PARAM)
    if not found and username and "?" in username:
        found = _query_values(username.split("?", 1)[1], SIGNATURE_PARAM)
    return found


def check_request(
    token: str | None,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None,
    query: str | None,
    username: str | None,
    public_keys: dict[str, str],
) -> str | None:
    """None when the request passes the gateway's signature check; else the refusal
    reason (the authorizer must then not be invoked)."""
    if not public_keys:
        return NO_KEYS  # signing on without keys: nothing can pass (fail closed)
    if not token:
        return NO_TOKEN
    signatures = find_signature(headers, query, username)
    if not signatures:
        return UNSIGNED
    if len(signatures) > 1:
        return AMBIGUOUS
    if not verify_request_signature(token, signatures[0], public_keys):
        return BAD_SIGNATURE
    return None


def signing_keys(config: Mapping[str, Any]) -> dict[str, str] | None:
    """From the packaged authorizer configuration: None when signing is off, else the
    public keys (name -> PEM; empty when the configuration has none: refuse all)."""
    if config.get("signing_enabled") is not True:
        return None
    keys = config.get("signing_public_keys")
    if not isinstance(keys, Mapping):
        return {}
    return {k: v for k, v in keys.items() if isinstance(k, str) and isinstance(v, str)}
