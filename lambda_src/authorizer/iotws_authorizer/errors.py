"""Why a request is denied: every deny carries one stable reason code."""

from __future__ import annotations

# Reason codes written to the decision log (stable: dashboards and tests use them).
# ruff: noqa: S105 - reason codes, not passwords
OK = "ok"
ANONYMOUS = "anonymous"
BAD_EVENT = "bad_event"
NO_TOKEN = "no_token"
TOKEN_TOO_LONG = "token_too_long"
MALFORMED_TOKEN = "malformed_token"
BAD_SIGNATURE = "bad_signature"
ALG_NOT_ALLOWED = "alg_not_allowed"
EXPIRED = "expired"
NOT_YET_VALID = "not_yet_valid"
WRONG_ISSUER = "wrong_issuer"
WRONG_AUDIENCE = "wrong_audience"
NO_PROFILE = "no_profile"
BAD_IDENTITY = "bad_identity"
BAD_CLIENT_ID = "bad_client_id"
MISSING_CLIENT_ID = "missing_client_id"
POLICY_TOO_LARGE = "policy_too_large"
SECRET_UNAVAILABLE = "secret_unavailable"
CONFIG_ERROR = "config_error"
INTERNAL_ERROR = "internal_error"


class Deny(Exception):
    """Raised anywhere on the decision path: the request is denied with `reason`.

    `detail` is for operators and must never contain a token, secret, password or claim.
    """

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class ConfigError(Deny):
    """The packaged configuration is unusable: every request is denied."""

    def __init__(self, detail: str) -> None:
        super().__init__(CONFIG_ERROR, detail)
