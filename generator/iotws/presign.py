"""SigV4-presigned WebSocket URLs for AWS IoT Core (the Cognito guest path).

A browser cannot set headers on a WebSocket upgrade, so IAM credentials travel in the
query string of a SigV4-presigned URL (docs/cognito-guests.md#browser-connection):

- service name `iotdevicegateway`, method `GET`, path `/mqtt`;
- the only signed header is `host`; the payload hash is the SHA-256 of the empty string;
- the session token of temporary credentials is appended as `X-Amz-Security-Token`
  **after** signing: it is not part of the canonical query string that was signed.

The signing itself is botocore's (`SigV4QueryAuth` on an `AWSRequest`); this module only
pins the IoT-specific choices above, makes the clock injectable for tests and moves the
session token after the signature.

    from iotws.presign import AwsCredentials, presign_wss_url
    url = presign_wss_url("abc123-ats.iot.us-east-1.amazonaws.com", "us-east-1",
                          AwsCredentials(access_key, secret_key, session_token))
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from botocore.auth import SIGV4_TIMESTAMP, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from iotws.errors import IotwsError
from iotws.iot.facts import REGION_PATTERN

SERVICE = "iotdevicegateway"
PATH = "/mqtt"
DEFAULT_EXPIRES = 900
# SigV4 query authentication accepts at most 7 days. The URL's lifetime only bounds when
# the connection may start; IoT ends a WebSocket connection after 24 hours anyway
# (docs/cognito-guests.md).
MAX_EXPIRES = 604_800
_REGION_RE = re.compile(REGION_PATTERN)
_HOST_RE = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
_SCHEMES = {"wss": "https", "https": "https", "ws": "http", "http": "http"}


class CredentialsLike(Protocol):
    """Anything with botocore's credential attribute names (e.g. `ReadOnlyCredentials`)."""

    @property
    def access_key(self) -> str: ...

    @property
    def secret_key(self) -> str: ...

    @property
    def token(self) -> str | None: ...


@dataclass(frozen=True)
class AwsCredentials:
    """AWS credentials; `token` is the session token of temporary credentials."""

    access_key: str
    secret_key: str
    token: str | None = None

    def __repr__(self) -> str:  # never print the secret or the token
        return f"AwsCredentials(access_key={self.access_key!r}, secret_key=***, token=***)"

    @classmethod
    def from_cognito(cls, credentials: Mapping[str, Any]) -> AwsCredentials:
        """From the `Credentials` map of Cognito `GetCredentialsForIdentity`."""
        try:
            return cls(
                access_key=str(credentials["AccessKeyId"]),
                secret_key=str(credentials["SecretKey"]),
                token=str(credentials["SessionToken"]) if credentials.get("SessionToken") else None,
            )
        except KeyError as exc:
            raise IotwsError(
                f"the Cognito credentials have no {exc.args[0]}",
                field="Credentials",
                fix="pass the `Credentials` map returned by GetCredentialsForIdentity",
            ) from None


class _FixedClockQueryAuth(SigV4QueryAuth):  # type: ignore[misc]  # botocore is untyped
    """`SigV4QueryAuth` whose timestamp can be fixed (for tests and reproducible URLs).

    botocore's `add_auth` stores the current time in `request.context["timestamp"]` and
    then calls `_modify_request_before_signing`, which is where X-Amz-Date and the
    credential scope are read: overriding the timestamp there fixes both. The tests check
    that X-Amz-Date equals the injected time, so a botocore change here cannot go unseen.
    """

    def __init__(
        self,
        credentials: Credentials,
        service_name: str,
        region_name: str,
        expires: int,
        now: _dt.datetime | None,
    ) -> None:
        super().__init__(credentials, service_name, region_name, expires=expires)
        self._now = now

    def _modify_request_before_signing(self, request: AWSRequest) -> None:
        if self._now is not None:
            request.context["timestamp"] = self._now.strftime(SIGV4_TIMESTAMP)
        super()._modify_request_before_signing(request)


def _utc(now: _dt.datetime | None) -> _dt.datetime | None:
    if now is None:
        return None
    if now.tzinfo is None:
        raise IotwsError(
            "the time must be timezone-aware",
            field="now",
            fix="pass datetime.datetime.now(datetime.timezone.utc) or another aware time",
        )
    return now.astimezone(_dt.UTC)


def _presign(
    url: str,
    *,
    service: str,
    region: str,
    credentials: CredentialsLike,
    expires: int,
    now: _dt.datetime | None,
    sign_payload: bool = True,
) -> str:
    """Presign a GET of `url` (http or https) and append the session token afterwards.

    `sign_payload=False` uses `UNSIGNED-PAYLOAD` as S3 does; IoT needs the empty-payload
    hash, which is the default. Kept generic so tests can replay AWS's published examples.
    """
    # The signer gets the credentials WITHOUT the session token: botocore would otherwise
    # put X-Amz-Security-Token into the signed query, and IoT expects it after signing.
    signer = _FixedClockQueryAuth(
        Credentials(credentials.access_key, credentials.secret_key),
        service,
        region,
        expires,
        _utc(now),
    )
    request = AWSRequest(method="GET", url=url)
    request.context["payload_signing_enabled"] = sign_payload
    signer.add_auth(request)
    signed = str(request.url)
    if credentials.token:
        signed += "&X-Amz-Security-Token=" + quote(credentials.token, safe="")
    return signed


def _split_endpoint(endpoint: str) -> tuple[str, str]:
    """`(scheme, host[:port])` from `host`, `host:port` or a ws/wss/http/https URL."""
    text = endpoint.strip()
    scheme = "wss"
    if "://" in text:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES or parts.path not in ("", "/", PATH) or parts.query:
            raise IotwsError(
                f"{endpoint!r} is not an IoT data endpoint",
                field="endpoint",
                fix="pass the host name of the iot:Data-ATS endpoint, "
                "e.g. abc123-ats.iot.us-east-1.amazonaws.com (or a wss:// URL of it)",
            )
        text = parts.netloc
    if not _HOST_RE.fullmatch(text):
        raise IotwsError(
            f"{endpoint!r} is not a host name",
            field="endpoint",
            fix="pass the host name of the iot:Data-ATS endpoint, "
            "e.g. abc123-ats.iot.us-east-1.amazonaws.com",
        )
    return scheme, text.lower()


def presign_wss_url(
    endpoint: str,
    region: str,
    credentials: CredentialsLike,
    expires: int = DEFAULT_EXPIRES,
    now: _dt.datetime | None = None,
) -> str:
    """The `wss://<endpoint>/mqtt?X-Amz-...` URL that IoT Core accepts for these credentials.

    `endpoint` is the account's `iot:Data-ATS` host (a `ws://127.0.0.1:PORT` URL is kept as
    `ws://` for local stand-ins). `expires` is how long the URL may be used to open a
    connection (1..604800 s); `now` fixes the signing time (aware datetime; default: now).
    """
    if not _REGION_RE.fullmatch(region):
        raise IotwsError(
            f"{region!r} is not an AWS region", field="region", fix="pass e.g. us-east-1"
        )
    if isinstance(expires, bool) or not isinstance(expires, int) or not 1 <= expires <= MAX_EXPIRES:
        raise IotwsError(
            f"{expires!r} is out of range",
            field="expires",
            fix=f"pass a whole number of seconds from 1 to {MAX_EXPIRES}",
        )
    if not credentials.access_key or not credentials.secret_key:
        raise IotwsError(
            "the credentials have no access key or secret key",
            field="credentials",
            fix="pass the credentials returned by Cognito GetCredentialsForIdentity",
        )
    scheme, host = _split_endpoint(endpoint)
    signed = _presign(
        f"{_SCHEMES[scheme]}://{host}{PATH}",
        service=SERVICE,
        region=region,
        credentials=credentials,
        expires=expires,
        now=now,
    )
    return ("wss" if _SCHEMES[scheme] == "https" else "ws") + signed[signed.index("://") :]
