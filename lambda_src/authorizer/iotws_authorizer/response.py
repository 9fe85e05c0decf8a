"""The authorizer response (docs/custom-authorizer.md#response; generator/INTERNALS.md).

Always the same five keys; both durations are always sent (the defaults are not
documented). `principalId` must be 1-128 letters and digits: it is a hash, never a
user name or client id (a raw MQTT user name there fails the connection).
"""

from __future__ import annotations

import hashlib
from typing import Any

DENY_PRINCIPAL = "denied"
PRINCIPAL_LENGTH = 32


def principal_id(mode: str, profile: str, subject: str) -> str:
    """32 hex characters derived from the mode, the profile and the subject or client id."""
    text = f"{mode}:{profile}:{subject}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(text).hexdigest()[:PRINCIPAL_LENGTH]


def allow(
    principal: str, documents: list[dict[str, Any]], refresh: int, disconnect: int
) -> dict[str, Any]:
    return {
        "isAuthenticated": True,
        "principalId": principal,
        "disconnectAfterInSeconds": disconnect,
        "refreshAfterInSeconds": refresh,
        "policyDocuments": documents,
    }


def deny(refresh: int, disconnect: int) -> dict[str, Any]:
    return {
        "isAuthenticated": False,
        "principalId": DENY_PRINCIPAL,
        "disconnectAfterInSeconds": disconnect,
        "refreshAfterInSeconds": refresh,
        "policyDocuments": [],
    }
