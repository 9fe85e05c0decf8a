"""The HS256 secret: fetched once per container, never logged.

Sources: SSM Parameter Store SecureString (`get_parameter(WithDecryption=True)`),
Secrets Manager (`get_secret_value`: SecretString or SecretBinary) or an environment
variable (development only). boto3 is part of the Lambda Python runtime; it is imported
and its client created only on the first fetch (no import-time side effects).

`set_override(value)` replaces every source: for tests and the local emulator only
(generator/INTERNALS.md "Secrets seam"); the Terraform module never sets it.
"""

from __future__ import annotations

import os
from typing import Any

from iotws_authorizer.errors import CONFIG_ERROR, SECRET_UNAVAILABLE, Deny

SOURCES = ("ssm", "secretsmanager", "env")
MIN_BYTES = 32  # RFC 7518 section 3.2: an HS256 key is at least as long as the hash

_override: bytes | None = None
_cache: dict[tuple[str, str], bytes] = {}
_clients: dict[str, Any] = {}


def set_override(value: bytes | None) -> None:
    """Use `value` as the secret whatever the configuration says (None: back to normal)."""
    global _override
    if value is not None and not isinstance(value, bytes):
        raise TypeError("secret override must be bytes or None")
    _override = value


def reset() -> None:
    """Forget the cached secret, the clients and the override (tests only)."""
    global _override
    _override = None
    _cache.clear()
    _clients.clear()


def get(source: str, name: str) -> bytes:
    """The secret (cached after the first successful fetch); Deny when unavailable."""
    if _override is not None:
        value = _override
    else:
        key = (source, name)
        cached = _cache.get(key)
        if cached is not None:
            return cached
        try:
            value = _fetch(source, name)
        except Deny:
            raise
        except Exception as exc:  # noqa: BLE001 - any SDK failure: deny, do not cache
            raise Deny(SECRET_UNAVAILABLE, f"{source}: {type(exc).__name__}") from None
        if len(value) < MIN_BYTES:
            raise Deny(CONFIG_ERROR, f"{source} secret is shorter than {MIN_BYTES} bytes")
        _cache[key] = value
        return value
    if len(value) < MIN_BYTES:
        raise Deny(CONFIG_ERROR, f"secret override is shorter than {MIN_BYTES} bytes")
    return value


def _client(service: str) -> Any:
    client = _clients.get(service)
    if client is None:
        import boto3  # lazily: only when a secret is first needed

        # Region: the Lambda runtime's AWS_REGION (the function's own region).
        client = boto3.client(service)
        _clients[service] = client
    return client


def _fetch(source: str, name: str) -> bytes:
    if source == "env":
        text = os.environ.get(name)
        if not text:
            raise Deny(SECRET_UNAVAILABLE, "env: variable unset or empty")
        return text.encode("utf-8")
    if source == "ssm":
        response = _client("ssm").get_parameter(Name=name, WithDecryption=True)
        value: Any = response["Parameter"]["Value"]
    elif source == "secretsmanager":
        response = _client("secretsmanager").get_secret_value(SecretId=name)
        value = response.get("SecretString")
        if value is None:
            value = response.get("SecretBinary")
    else:
        raise Deny(CONFIG_ERROR, "unknown secret source")
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    raise Deny(SECRET_UNAVAILABLE, f"{source}: no secret value")
