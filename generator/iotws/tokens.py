"""Development tokens: HS256 JWTs for the `hs256` mode, and IoT token-signing signatures.

For production, your identity backend mints tokens; this module shows how and serves
the local emulator and the tests. It never prints a secret.
"""

from __future__ import annotations

import base64
import os
import secrets
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from iotws.errors import IotwsError
from iotws.spec.model import Spec


def mint_hs256(
    secret: bytes,
    claims: dict[str, Any],
    *,
    ttl_seconds: int = 3600,
    now: int | None = None,
) -> str:
    """A compact HS256 JWT with `iat`, `nbf` and `exp` added (PyJWT)."""
    t = int(time.time()) if now is None else now
    body = {"iat": t, "nbf": t, "exp": t + ttl_seconds, **claims}
    return str(jwt.encode(body, secret, algorithm="HS256"))


def claims_for(spec: Spec, sub: str, role: str | None = None) -> dict[str, Any]:
    """Claims the spec's authorizer expects for subject `sub` (audience, issuer, role)."""
    out: dict[str, Any] = {}
    a = spec.authorizer
    if a.hs256:
        out[a.hs256.subject_claim] = sub
        if a.hs256.audience:
            out["aud"] = a.hs256.audience
        if a.hs256.issuer:
            out["iss"] = a.hs256.issuer
    else:
        out["sub"] = sub
    if a.select and role is not None:
        out[a.select.claim] = role
    return out


def secret_from_env(var: str) -> bytes:
    value = os.environ.get(var)
    if not value:
        raise IotwsError(
            f"environment variable {var} is not set",
            field="--secret-env",
            fix=f"export {var}=<your dev secret> (at least 32 random bytes)",
        )
    return value.encode()


def new_dev_secret() -> bytes:
    return secrets.token_urlsafe(32).encode()


def sign_for_iot(token: str, private_key_pem: bytes) -> str:
    """IoT token signing: RSA SHA-256 over the raw token, standard base64 (
    docs/custom-authorizer.md#response). URL-encode the result when it travels in a query string."""
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise IotwsError("IoT token signing needs an RSA key", field="--signing-key")
    sig = key.sign(token.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(sig).decode()


def read_key(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise IotwsError(f"cannot read {path}: {exc.strerror}", field="--signing-key") from None
