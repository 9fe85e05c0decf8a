"""Mode `jwks`: a JWT signed by an identity provider (Cognito, any OIDC issuer), verified
against the provider's published JSON Web Key Set (RFC 7517/7518/7519).

Only what the configuration allows: `RS256` and/or `ES256` (never `none`, never `HS256`
or any other symmetric algorithm, whatever the token's header says: no algorithm
confusion). The header's `kid` is a plain string looked up exactly in the key set; the
key-carrying headers `jku`, `x5u`, `jwk`, `x5c` and `crit` make the token malformed (a
token never chooses where its key comes from). `iss`, `exp` are required; `nbf`/`iat`
honoured with `leeway_seconds`; the audience is checked in `aud` (ID tokens, generic
OIDC) or in Cognito's `client_id` claim (access tokens); `token_use` when configured.

The key set: fetched from `jwks_url` on first use, once per container, and cached for
`cache_ttl_seconds`. A token with an unknown `kid` (key rotation) triggers a refetch,
at most once per `refresh_interval_seconds`: a flood of made-up `kid`s costs at most one
fetch per interval (no fetch storm), and so does an outage. Every fetch has a hard
deadline of `fetch_timeout_seconds` (default 1.5 s, well inside IoT's 5 s,
docs/custom-authorizer.md#response), follows no redirect, reads at most 64 KiB. When a refresh fails
the previous
key set stays usable for at most one more TTL (stale-if-error); with no usable keys the
request is denied with `jwks_unavailable`.

PyJWT and `cryptography` are imported lazily, by this module only and only when a token
is verified or a key set parsed: the `public` and `hs256` modes stay standard-library
only. `iotws package` vendors both (Linux wheels) into the zip of a `jwks` spec.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from iotws_authorizer import fields
from iotws_authorizer.errors import (
    ALG_NOT_ALLOWED,
    BAD_SIGNATURE,
    EXPIRED,
    MALFORMED_TOKEN,
    NOT_YET_VALID,
    WRONG_ISSUER,
    ConfigError,
    Deny,
)
from iotws_authorizer.hs256 import (
    b64url_decode,
    check_audience,
    check_lifetime,
    finite_claim,
    json_object,
    subject_of,
    token_parts,
)

# Reason codes of this mode (stable, like those in iotws_authorizer.errors).
# ruff: noqa: S105 - reason codes, not passwords
JWKS_UNAVAILABLE = "jwks_unavailable"
UNKNOWN_KEY = "unknown_key"
WRONG_TOKEN_USE = "wrong_token_use"

ALGORITHMS = ("RS256", "ES256")  # the only ones this mode can ever accept
_KTY = {"RS256": "RSA", "ES256": "EC"}
MIN_RSA_BITS = 2048
MAX_JWKS_BYTES = 64 * 1024
MAX_KEYS = 100
MAX_KID_LENGTH = 256
_KEY_HEADERS = ("jku", "x5u", "jwk", "x5c", "crit")
_TYPES = ("JWT", "at+jwt", "application/at+jwt")
AUDIENCE_CLAIMS = ("aud", "client_id")
# The schema's jwks_url pattern without ^...$ (checked equal by
# tests/authorizer/test_config_contract.py).
JWKS_URL_PATTERN = (
    r"(https://[A-Za-z0-9.-]+|http://(127\.0\.0\.1|localhost|\[::1\]))(:[0-9]{1,5})?"
    r'([/?][!-"$-~]*)?'
)
KEYS = (  # every key of the section is required (the build fills the defaults)
    "preset",
    "jwks_url",
    "issuer",
    "audience",
    "audience_claim",
    "token_use",
    "algorithms",
    "leeway_seconds",
    "cache_ttl_seconds",
    "refresh_interval_seconds",
    "fetch_timeout_seconds",
    "subject_claim",
    "max_lifetime_seconds",
)


class Settings:
    __slots__ = (
        "jwks_url",
        "issuer",
        "audience",
        "audience_claim",
        "token_use",
        "algorithms",
        "leeway",
        "cache_ttl",
        "refresh_interval",
        "fetch_timeout",
        "subject_claim",
        "max_lifetime",
    )

    def __init__(self) -> None:
        self.jwks_url = ""
        self.issuer = ""
        self.audience: frozenset[str] = frozenset()
        self.audience_claim = "aud"
        self.token_use: str | None = None
        self.algorithms: tuple[str, ...] = ("RS256",)
        self.leeway = 0
        self.cache_ttl = 3600
        self.refresh_interval = 60
        self.fetch_timeout = 1.5
        self.subject_claim = "sub"
        self.max_lifetime: int | None = None


def _check_url(url: Any) -> str:
    from urllib.parse import urlsplit  # configuration time only

    # The schema's pattern: https://, or plain http:// only to this machine (the local
    # emulator and tests): a key set fetched over the network without TLS could be swapped
    # by anyone on the path. No user info, no fragment, printable ASCII.
    fields.text(url, "jwks.jwks_url", pattern=JWKS_URL_PATTERN, max_length=2048)
    try:
        host, _ = urlsplit(url).hostname, urlsplit(url).port
    except ValueError:
        host = None
    if not host:
        raise ConfigError("jwks.jwks_url has no valid host and port")
    return str(url)


def parse_settings(raw_config: dict[str, Any]) -> Settings:
    """The resolved `jwks` section (presets are expanded and defaults filled by `iotws
    generate`), by the configuration's JSON Schema (see `iotws_authorizer.fields`)."""
    if "jwks" not in raw_config:
        raise ConfigError("jwks is missing (mode jwks)")
    raw = fields.obj(raw_config["jwks"], "jwks", KEYS)
    s = Settings()
    fields.choice(raw["preset"], "jwks.preset", (None, "cognito"))
    s.jwks_url = _check_url(raw["jwks_url"])
    s.issuer = fields.text(raw["issuer"], "jwks.issuer", min_length=1)
    # Fail closed: without an audience any token of the issuer (any app) would pass.
    audience = fields.array(raw["audience"], "jwks.audience", min_items=1)
    for index, value in enumerate(audience):
        fields.text(value, f"jwks.audience[{index}]", min_length=1)
    s.audience = frozenset(audience)
    s.audience_claim = fields.choice(raw["audience_claim"], "jwks.audience_claim", AUDIENCE_CLAIMS)
    s.token_use = fields.choice(raw["token_use"], "jwks.token_use", (None, "id", "access"))
    algorithms = fields.array(raw["algorithms"], "jwks.algorithms", min_items=1)
    for index, value in enumerate(algorithms):
        fields.choice(value, f"jwks.algorithms[{index}]", ALGORITHMS)
    fields.unique(algorithms, "jwks.algorithms")
    s.algorithms = tuple(algorithms)
    s.leeway = fields.integer(raw["leeway_seconds"], "jwks.leeway_seconds", 0, 300)
    s.cache_ttl = fields.integer(raw["cache_ttl_seconds"], "jwks.cache_ttl_seconds", 60, 86400)
    s.refresh_interval = fields.integer(
        raw["refresh_interval_seconds"], "jwks.refresh_interval_seconds", 1, 3600
    )
    # IoT gives the whole authorizer 5 s (docs/custom-authorizer.md#response): a fetch may take at
    # most 3.
    s.fetch_timeout = fields.number(
        raw["fetch_timeout_seconds"], "jwks.fetch_timeout_seconds", 0.05, 3
    )
    s.subject_claim = fields.text(raw["subject_claim"], "jwks.subject_claim", min_length=1)
    s.max_lifetime = fields.integer(
        raw["max_lifetime_seconds"], "jwks.max_lifetime_seconds", 60, 2592000, null=True
    )
    _require_libraries()
    return s


def _require_libraries() -> None:
    """PyJWT with cryptography must be importable (vendored into the zip by `iotws
    package`): a zip built for another architecture or Python fails here, at cold start,
    with a clear detail, instead of denying every token as unknown_key later."""
    try:
        from jwt.algorithms import has_crypto
    except ImportError as exc:
        raise ConfigError(
            f"jwks needs PyJWT and cryptography ({type(exc).__name__}); rebuild the zip with "
            "iotws package --arch/--python of the function"
        ) from None
    if not has_crypto:
        raise ConfigError(
            "jwks needs cryptography for this runtime; rebuild the zip with "
            "iotws package --arch/--python of the function"
        )


# --------------------------------------------------------------------------- key set


class _Key:
    __slots__ = ("kty", "alg", "key")

    def __init__(self, kty: str, alg: str | None, key: Any) -> None:
        self.kty = kty  # "RSA" or "EC" (P-256)
        self.alg = alg  # the JWK's own "alg", when it has one
        self.key = key  # a cryptography public key object


class _KeySet:
    """The cached key set of one URL, and when it was last fetched or attempted."""

    __slots__ = ("keys", "fetched_at", "attempted_at", "lock")

    def __init__(self) -> None:
        self.keys: dict[str, _Key] | None = None
        self.fetched_at = 0.0  # monotonic time of the last successful fetch
        self.attempted_at: float | None = None  # monotonic time of the last attempt
        self.lock = threading.Lock()  # one fetch at a time (the emulator uses threads)


_sets: dict[str, _KeySet] = {}
_sets_lock = threading.Lock()
_clock = time.monotonic


def reset() -> None:
    """Forget every cached key set (tests only)."""
    with _sets_lock:
        _sets.clear()


def _key_set(url: str) -> _KeySet:
    with _sets_lock:
        found = _sets.get(url)
        if found is None:
            found = _sets[url] = _KeySet()
        return found


class FetchError(Exception):
    """The key set could not be fetched or parsed (the text is for operators)."""


class _Deadline:
    """Shuts the connection's socket when the deadline passes, so that a blocked read
    returns at once (a server that trickles bytes cannot hold the authorizer)."""

    def __init__(self, timeout: float) -> None:
        self.at = _clock() + timeout
        self.sock: Any = None
        self.fired = False
        self.lock = threading.Lock()
        self.timer = threading.Timer(timeout, self.fire)
        self.timer.daemon = True

    def fire(self) -> None:
        with self.lock:
            self.fired = True
            self._shutdown()

    def watch(self, sock: Any) -> None:
        """The connected socket; shut at once if the deadline already passed."""
        with self.lock:
            self.sock = sock
            if self.fired or _clock() >= self.at:
                self.fired = True
                self._shutdown()
            else:
                sock.settimeout(max(0.01, self.at - _clock()))

    def _shutdown(self) -> None:
        if self.sock is None:
            return
        import socket

        try:
            # The plain socket's shutdown, also for TLS sockets: it only unblocks reads.
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)
        except OSError:
            pass

    def check(self) -> None:
        if self.fired or _clock() >= self.at:
            raise FetchError("timed out")


def fetch(url: str, timeout: float) -> bytes:
    """GET `url` with a hard deadline; no redirects; at most MAX_JWKS_BYTES."""
    import http.client
    import ssl
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        raise FetchError("bad URL") from None
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    deadline = _Deadline(timeout)
    deadline.timer.start()
    try:
        conn.connect()  # bounded by the socket timeout (DNS resolution is not: unverified)
        deadline.watch(conn.sock)
        conn.request(
            "GET",
            path,
            headers={"Accept": "application/json", "User-Agent": "iotws-authorizer"},
        )
        response = conn.getresponse()
        deadline.check()
        if response.status != 200:  # redirects included: never followed
            raise FetchError(f"HTTP {response.status}")
        body = b""
        while len(body) <= MAX_JWKS_BYTES:
            chunk = response.read1(16384)  # one receive at a time, then the deadline
            deadline.check()
            if not chunk:
                break
            body += chunk
        if len(body) > MAX_JWKS_BYTES:
            raise FetchError("key set too large")
        return body
    except FetchError:
        raise
    except Exception as exc:  # noqa: BLE001 - any network failure: the key set is unavailable
        reason = "timed out" if deadline.fired or _clock() >= deadline.at else type(exc).__name__
        raise FetchError(reason) from None
    finally:
        deadline.timer.cancel()
        conn.close()


def parse_key_set(data: bytes) -> dict[str, _Key]:
    """kid -> key for every usable signing key (RSA >= 2048 bits, EC P-256).

    Keys this mode cannot use are skipped; a `kid` listed twice is dropped (ambiguous).
    Raises FetchError when the document is not a key set.
    """
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise FetchError("key set is not JSON") from None
    keys = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(keys, list):
        raise FetchError("key set has no keys list")
    from jwt import PyJWK  # lazily: only jwks mode needs PyJWT and cryptography
    from jwt.exceptions import PyJWTError

    found: dict[str, _Key] = {}
    duplicate: set[str] = set()
    for jwk in keys[:MAX_KEYS]:
        if not isinstance(jwk, dict):
            continue
        kid, kty, alg = jwk.get("kid"), jwk.get("kty"), jwk.get("alg")
        if not _plain_kid(kid) or kty not in ("RSA", "EC"):
            continue
        if jwk.get("use", "sig") != "sig":
            continue
        ops = jwk.get("key_ops")
        if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
            continue
        algorithm = "RS256" if kty == "RSA" else "ES256"
        if alg is not None and alg != algorithm:
            continue
        if kty == "EC" and jwk.get("crv") != "P-256":
            continue
        try:
            key = PyJWK(jwk, algorithm).key
        except (PyJWTError, ValueError, TypeError):
            continue
        if kty == "RSA" and getattr(key, "key_size", 0) < MIN_RSA_BITS:
            continue
        assert isinstance(kid, str)
        if kid in found or kid in duplicate:
            found.pop(kid, None)
            duplicate.add(kid)
            continue
        found[kid] = _Key(kty, alg, key)
    return found


def _plain_kid(kid: Any) -> bool:
    return (
        isinstance(kid, str)
        and 0 < len(kid) <= MAX_KID_LENGTH
        and kid.isascii()
        and kid.isprintable()
    )


def _refresh(ks: _KeySet, settings: Settings, now: float) -> None:
    """Fetch the key set unless one was attempted within refresh_interval_seconds."""
    if ks.attempted_at is not None and now - ks.attempted_at < settings.refresh_interval:
        return
    # Wait for a fetch in progress (another thread) rather than fetching twice.
    if not ks.lock.acquire(timeout=settings.fetch_timeout + 0.5):
        return
    try:
        if ks.attempted_at is not None and _clock() - ks.attempted_at < settings.refresh_interval:
            return  # another thread fetched while this one waited
        ks.attempted_at = _clock()
        try:
            keys = parse_key_set(fetch(settings.jwks_url, settings.fetch_timeout))
        except FetchError:
            return  # logged by the caller as jwks_unavailable when no keys are usable
        ks.keys = keys
        ks.fetched_at = _clock()
    finally:
        ks.lock.release()


def _find_key(kid: str, settings: Settings) -> _Key:
    ks = _key_set(settings.jwks_url)
    now = _clock()
    if ks.keys is None or now - ks.fetched_at >= settings.cache_ttl:
        _refresh(ks, settings, now)
    elif kid not in ks.keys:
        _refresh(ks, settings, now)  # a rotated key: at most once per refresh interval
    keys = ks.keys
    # stale-if-error: a key set older than its TTL is used for at most one more TTL
    if keys is None or _clock() - ks.fetched_at >= 2 * settings.cache_ttl:
        raise Deny(JWKS_UNAVAILABLE, "the key set could not be fetched")
    key = keys.get(kid)
    if key is None:
        raise Deny(UNKNOWN_KEY)
    return key


# --------------------------------------------------------------------------- verify


def verify(token: str, settings: Settings) -> tuple[dict[str, Any], str | None]:
    """Verify a compact JWS; return (claims, subject) or raise Deny with the reason."""
    parts = token_parts(token)
    header = json_object(b64url_decode(parts[0]))
    alg = header.get("alg")
    # Only the configured asymmetric algorithms: `none`, HS256 (an RSA public key used
    # as an HMAC secret) and everything else are refused before any key is looked at.
    if not isinstance(alg, str) or alg not in settings.algorithms:
        raise Deny(ALG_NOT_ALLOWED)
    if any(name in header for name in _KEY_HEADERS):
        raise Deny(MALFORMED_TOKEN, "key-carrying or crit header")
    typ = header.get("typ")
    if typ is not None and typ not in _TYPES:
        raise Deny(MALFORMED_TOKEN, "unexpected typ")
    kid = header.get("kid")
    if not _plain_kid(kid):
        raise Deny(MALFORMED_TOKEN, "kid is missing or not a plain string")
    assert isinstance(kid, str)
    b64url_decode(parts[1])  # canonical base64url, as in hs256, before the libraries see it
    b64url_decode(parts[2])
    key = _find_key(kid, settings)
    if key.kty != _KTY[alg] or (key.alg is not None and key.alg != alg):
        raise Deny(ALG_NOT_ALLOWED, "the key is not for this algorithm")
    claims = _decode(token, key, alg, settings)
    if settings.token_use is not None and claims.get("token_use") != settings.token_use:
        raise Deny(WRONG_TOKEN_USE)
    check_audience(claims.get(settings.audience_claim), settings.audience)
    return claims, subject_of(claims, settings.subject_claim)


def _decode(token: str, key: _Key, alg: str, settings: Settings) -> dict[str, Any]:
    import jwt  # lazily: see the module docstring
    from jwt import exceptions as e

    try:
        claims = jwt.decode(
            token,
            key=key.key,
            algorithms=[alg],
            issuer=settings.issuer,
            leeway=settings.leeway,
            options={
                "require": ["exp", "iss"],
                "verify_signature": True,
                "verify_exp": True,
                "verify_nbf": True,
                "verify_iat": True,
                "verify_iss": True,
                "verify_aud": False,  # checked below: `aud` or Cognito's `client_id`
            },
        )
    except e.InvalidSignatureError:
        raise Deny(BAD_SIGNATURE) from None
    except e.ExpiredSignatureError:
        raise Deny(EXPIRED) from None
    except e.ImmatureSignatureError:
        raise Deny(NOT_YET_VALID) from None
    except e.InvalidIssuerError:
        raise Deny(WRONG_ISSUER) from None
    except e.InvalidAlgorithmError:
        raise Deny(ALG_NOT_ALLOWED) from None
    except e.MissingRequiredClaimError as exc:
        raise Deny(MALFORMED_TOKEN, f"{exc.claim} is required") from None
    except (e.PyJWTError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise Deny(MALFORMED_TOKEN, type(exc).__name__) from None
    if not isinstance(claims, dict):  # pragma: no cover - PyJWT returns a dict
        raise Deny(MALFORMED_TOKEN, "not a JSON object")
    # PyJWT accepts any number; require finite ones (`exp: 1e400` is infinity).
    for name in ("exp", "nbf", "iat"):
        finite_claim(claims, name)
    check_lifetime(float(claims["exp"]), time.time(), settings.leeway, settings.max_lifetime)
    return claims
