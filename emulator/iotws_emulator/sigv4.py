"""The Cognito guest path of the emulator (docs/cognito-guests.md).

- `verify_presigned` checks a SigV4-presigned WebSocket upgrade (`GET /mqtt?X-Amz-...`) the
  way the IoT device gateway does: service `iotdevicegateway`, signed header `host`,
  empty-payload hash, and the session token appended as `X-Amz-Security-Token` **after**
  the signature (not part of the signed canonical query). hashlib/hmac only; the same
  rules as the independent reference in tests/cognito/conftest.py.
- `FakeCognito` answers Cognito Identity's two calls of the enhanced (simplified) flow,
  `GetId` and `GetCredentialsForIdentity` (JSON 1.1 protocol, `X-Amz-Target` header),
  minting identity ids `REGION:uuid` and temporary credentials that it remembers, so the
  upgrade check can look up the secret key and identity id of an access key id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import string
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

SERVICE = "iotdevicegateway"
ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
TOKEN_PARAM = "X-Amz-Security-Token"  # noqa: S105 - a parameter name
MAX_EXPIRES = 604_800  # SigV4 query authentication: at most 7 days
CLOCK_SKEW = dt.timedelta(minutes=5)
CREDENTIALS_TTL = 3600  # Cognito guest credentials last one hour
TARGET_PREFIX = "AWSCognitoIdentityService."
# policy variable (docs/cognito-guests.md#binding-the-client-id)
COGNITO_SUB = "cognito-identity.amazonaws.com:sub"
_KEY_CHARS = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class GuestCredentials:
    """Temporary credentials handed to one guest identity."""

    access_key_id: str
    secret_key: str
    session_token: str
    identity_id: str
    expiration: dt.datetime

    def __repr__(self) -> str:  # never print the secret or the token
        return f"GuestCredentials({self.access_key_id!r}, identity_id={self.identity_id!r})"


@dataclass
class Verdict:
    ok: bool
    reason: str
    credentials: GuestCredentials | None = None
    params: dict[str, str] = field(default_factory=dict)


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def _uri_encode(text: str) -> str:
    # RFC 3986 unreserved characters stay, everything else is %XX (upper-case hex).
    return quote(text, safe="-_.~")


def signature(
    secret_key: str, amz_date: str, region: str, service: str, canonical_request: str
) -> str:
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    sts = "\n".join([ALGORITHM, amz_date, scope, digest])
    key = _hmac(("AWS4" + secret_key).encode("utf-8"), amz_date[:8])
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, sts.encode("utf-8"), hashlib.sha256).hexdigest()


def verify_presigned(
    path_and_query: str,
    host: str,
    lookup: Callable[[str], GuestCredentials | None],
    *,
    now: dt.datetime | None = None,
    service: str = SERVICE,
) -> Verdict:
    """Check a presigned `GET /mqtt` (docs/cognito-guests.md#browser-connection); `lookup` maps an
    access key id
    to its credentials, None for an unknown key."""
    now = now or dt.datetime.now(dt.UTC)
    parts = urlsplit(path_and_query)
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return Verdict(False, "malformed query string")
    params = dict(pairs)
    if len(params) != len(pairs):
        return Verdict(False, "repeated query parameter", params=params)
    for name in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires"):
        if name not in params:
            return Verdict(False, f"missing {name} (not a presigned URL)", params=params)
    if "X-Amz-Signature" not in params:
        return Verdict(False, "missing X-Amz-Signature", params=params)
    if params["X-Amz-Algorithm"] != ALGORITHM:
        return Verdict(False, f"algorithm must be {ALGORITHM}", params=params)
    if params.get("X-Amz-SignedHeaders") != "host":
        return Verdict(False, "signed headers must be exactly host", params=params)
    cred = params["X-Amz-Credential"].split("/")
    if len(cred) != 5 or cred[4] != "aws4_request":
        return Verdict(False, "malformed credential scope", params=params)
    access_key, date, region, scope_service = cred[0], cred[1], cred[2], cred[3]
    if scope_service != service:
        return Verdict(False, f"credential scope service {scope_service!r}, not {service}")
    amz_date = params["X-Amz-Date"]
    try:
        signed_at = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        expires = int(params["X-Amz-Expires"])
    except ValueError:
        return Verdict(False, "malformed X-Amz-Date or X-Amz-Expires", params=params)
    if amz_date[:8] != date:
        return Verdict(False, "X-Amz-Date does not match the credential scope", params=params)
    if not 1 <= expires <= MAX_EXPIRES:
        return Verdict(False, f"X-Amz-Expires must be 1..{MAX_EXPIRES}", params=params)
    if now > signed_at + dt.timedelta(seconds=expires):
        return Verdict(False, "presigned URL expired", params=params)
    if signed_at > now + CLOCK_SKEW:
        return Verdict(False, "signed in the future", params=params)
    # docs/cognito-guests.md#browser-connection: the token follows the signature and is not signed.
    names = [p.split("=", 1)[0] for p in parts.query.split("&") if p]
    if TOKEN_PARAM in names and names.index(TOKEN_PARAM) < names.index("X-Amz-Signature"):
        return Verdict(False, "session token before the signature (it was signed)", params=params)
    creds = lookup(access_key)
    if creds is None:
        return Verdict(False, f"unknown access key {access_key}", params=params)
    if now >= creds.expiration:
        return Verdict(False, "credentials expired", params=params)
    query = "&".join(
        f"{k}={v}"
        for k, v in sorted(
            (_uri_encode(k), _uri_encode(v))
            for k, v in pairs
            if k not in ("X-Amz-Signature", TOKEN_PARAM)
        )
    )
    host_value = " ".join(host.split())
    creq = "\n".join(
        ["GET", parts.path or "/", query, f"host:{host_value}\n", "host", EMPTY_SHA256]
    )
    expected = signature(creds.secret_key, amz_date, region, service, creq)
    if not hmac.compare_digest(expected, params["X-Amz-Signature"]):
        return Verdict(False, "signature mismatch", params=params)
    if not hmac.compare_digest(params.get(TOKEN_PARAM, ""), creds.session_token):
        return Verdict(False, "missing or wrong X-Amz-Security-Token", params=params)
    return Verdict(True, "ok", creds, params)


class CognitoError(Exception):
    def __init__(self, error_type: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.status = status


class FakeCognito:
    """Cognito Identity's `GetId` and `GetCredentialsForIdentity` for one guest pool."""

    def __init__(
        self,
        region: str,
        pool_id: str | None = None,
        *,
        ttl_seconds: int = CREDENTIALS_TTL,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.region = region
        self.pool_id = pool_id or f"{region}:{uuid.uuid4()}"
        self.ttl_seconds = ttl_seconds
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._lock = threading.Lock()
        self._identities: set[str] = set()
        self._credentials: dict[str, GuestCredentials] = {}

    def new_identity(self) -> str:
        identity_id = f"{self.region}:{uuid.uuid4()}"
        with self._lock:
            self._identities.add(identity_id)
        return identity_id

    def credentials_for(self, identity_id: str) -> GuestCredentials:
        with self._lock:
            if identity_id not in self._identities:
                raise CognitoError(
                    "ResourceNotFoundException", f"Identity '{identity_id}' not found."
                )
            creds = GuestCredentials(
                access_key_id="ASIA" + "".join(secrets.choice(_KEY_CHARS) for _ in range(16)),
                secret_key=secrets.token_urlsafe(30),
                session_token=secrets.token_urlsafe(96),
                identity_id=identity_id,
                expiration=self._clock().replace(microsecond=0)
                + dt.timedelta(seconds=self.ttl_seconds),
            )
            self._credentials[creds.access_key_id] = creds
        return creds

    def lookup(self, access_key_id: str) -> GuestCredentials | None:
        with self._lock:
            return self._credentials.get(access_key_id)

    def handle(self, target: str | None, body: bytes) -> tuple[int, dict[str, Any]]:
        """One JSON 1.1 call: (HTTP status, response body); errors carry `__type`."""
        try:
            return 200, self._dispatch(target or "", body)
        except CognitoError as exc:
            return exc.status, {"__type": exc.error_type, "message": str(exc)}

    def _dispatch(self, target: str, body: bytes) -> dict[str, Any]:
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            raise CognitoError("SerializationException", "body is not JSON") from None
        if not isinstance(request, Mapping):
            raise CognitoError("SerializationException", "body is not a JSON object")
        op = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
        if op == "GetId":
            if request.get("IdentityPoolId") != self.pool_id:
                raise CognitoError(
                    "ResourceNotFoundException",
                    f"IdentityPool '{request.get('IdentityPoolId')}' not found.",
                )
            return {"IdentityId": self.new_identity()}
        if op == "GetCredentialsForIdentity":
            identity_id = request.get("IdentityId")
            if not isinstance(identity_id, str):
                raise CognitoError("InvalidParameterException", "IdentityId is required")
            if request.get("Logins"):
                raise CognitoError(
                    "NotAuthorizedException", "only unauthenticated guests are emulated"
                )
            creds = self.credentials_for(identity_id)
            return {
                "IdentityId": identity_id,
                "Credentials": {
                    "AccessKeyId": creds.access_key_id,
                    "SecretKey": creds.secret_key,
                    "SessionToken": creds.session_token,
                    # JSON 1.1 timestamps are epoch seconds.
                    "Expiration": creds.expiration.timestamp(),
                },
            }
        raise CognitoError("UnknownOperationException", f"unsupported operation {target!r}")
