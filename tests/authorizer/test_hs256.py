"""Mode hs256: JWT verification, strict by design."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest

SECRET = b"test-secret-0123456789-abcdefghijklmnop"  # the conftest's secret


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_valid_token_allows_user_profile(
    authorizer: Any, mint: Callable[..., str], simple: Any, valid: Any
) -> None:
    response = authorizer(simple(mint()))
    valid(response, allowed=True)
    assert authorizer.last_log == {
        "decision": "allow",
        "reason": "ok",
        "connection_id": "conn-1",
        "principal": response["principalId"],
        "profile": "user",
        "mode": "hs256",
    }


def test_token_minted_by_pyjwt_is_accepted(authorizer: Any, simple: Any, valid: Any) -> None:
    token = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    valid(authorizer(simple(token)), allowed=True)


NOW = int(time.time())

BAD_TOKENS: list[tuple[str, dict[str, Any], str]] = [
    ("expired", {"exp": NOW - 120}, "expired"),
    ("not yet valid", {"nbf": NOW + 3600}, "not_yet_valid"),
    ("issued in the future", {"iat": NOW + 3600, "exp": NOW + 4000}, "not_yet_valid"),
    ("forged signature", {"key": b"another-secret-0123456789-abcdefghijkl"}, "bad_signature"),
    ("alg none", {"header": {"alg": "none", "typ": "JWT"}}, "alg_not_allowed"),
    ("alg HS512", {"header": {"alg": "HS512", "typ": "JWT"}}, "alg_not_allowed"),
    ("alg RS256", {"header": {"alg": "RS256"}}, "alg_not_allowed"),
    ("alg lower case", {"header": {"alg": "hs256"}}, "alg_not_allowed"),
    ("alg missing", {"header": {"typ": "JWT"}}, "alg_not_allowed"),
    ("alg not a string", {"header": {"alg": ["HS256"]}}, "alg_not_allowed"),
    ("typ not JWT", {"header": {"alg": "HS256", "typ": "JWE"}}, "malformed_token"),
    ("crit header", {"header": {"alg": "HS256", "crit": ["exp"]}}, "malformed_token"),
    ("exp missing", {"exp": None}, "malformed_token"),
    ("exp a string", {"exp": str(NOW + 60)}, "malformed_token"),
    ("exp a boolean", {"exp": True}, "malformed_token"),
    ("nbf a string", {"nbf": "soon"}, "malformed_token"),
    ("payload not an object", {"raw_payload": b"[1,2]"}, "malformed_token"),
    ("payload not JSON", {"raw_payload": b"{sub:"}, "malformed_token"),
    ("payload with NaN", {"raw_payload": b'{"sub":"a","exp":NaN}'}, "malformed_token"),
    (
        "payload with a duplicate key",
        {"raw_payload": b'{"sub":"alice","sub":"admin","exp":9999999999}'},
        "malformed_token",
    ),
    ("payload not UTF-8", {"raw_payload": b'{"sub":"\xff"}'}, "malformed_token"),
]


@pytest.mark.parametrize(
    ("kwargs", "reason"), [(k, r) for _, k, r in BAD_TOKENS], ids=[n for n, _, _ in BAD_TOKENS]
)
def test_bad_tokens_are_denied(
    authorizer: Any,
    mint: Callable[..., str],
    simple: Any,
    valid: Any,
    kwargs: dict[str, Any],
    reason: str,
) -> None:
    kwargs = dict(kwargs)
    token = mint(
        {k: v for k, v in kwargs.items() if k not in ("key", "header", "raw_payload")},
        **{k: v for k, v in kwargs.items() if k in ("key", "header", "raw_payload")},
    )
    response = authorizer(simple(token))
    valid(response, allowed=False)
    assert authorizer.reason == reason


def test_alg_none_with_empty_signature_is_denied(authorizer: Any, simple: Any, valid: Any) -> None:
    head = _b64url(json.dumps({"alg": "none"}).encode())
    body = _b64url(json.dumps({"sub": "alice", "exp": NOW + 3600}).encode())
    valid(authorizer(simple(f"{head}.{body}.")), allowed=False)
    assert authorizer.reason in {"alg_not_allowed", "malformed_token"}


def test_tampered_payload_fails_the_signature(
    authorizer: Any, mint: Callable[..., str], simple: Any, valid: Any
) -> None:
    head, _, sig = mint().split(".")
    body = _b64url(json.dumps({"sub": "alice", "role": "admin", "exp": NOW + 3600}).encode())
    valid(authorizer(simple(f"{head}.{body}.{sig}")), allowed=False)
    assert authorizer.reason == "bad_signature"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t + "=",  # padding
        lambda t: t.replace(".", "..", 1),  # four parts
        lambda t: t.rsplit(".", 1)[0],  # two parts
        lambda t: t[:-1] + ("B" if t[-1] == "A" else "A"),  # non-canonical or wrong signature
        lambda t: t.replace("-", "+").replace("_", "/") + "+/",  # standard, not url-safe
        lambda t: t + "é",  # not ASCII
        lambda t: " " + t,
    ],
)
def test_encoding_tricks_are_denied(
    authorizer: Any, mint: Callable[..., str], simple: Any, valid: Any, mutate: Any
) -> None:
    valid(authorizer(simple(mutate(mint()))), allowed=False)
    assert authorizer.reason in {"malformed_token", "bad_signature"}


def test_non_canonical_base64_signature_is_malformed(
    authorizer: Any, mint: Callable[..., str], simple: Any, valid: Any
) -> None:
    head, body, sig = mint().split(".")
    # 32 bytes -> 43 chars: the last char carries 2 unused bits; set them.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(sig[-1])
    twin = sig[:-1] + alphabet[last | 1]
    assert twin != sig and base64.urlsafe_b64decode(twin + "=") == base64.urlsafe_b64decode(
        sig + "="
    )
    valid(authorizer(simple(f"{head}.{body}.{twin}")), allowed=False)
    assert authorizer.reason == "malformed_token"


def test_expiry_within_leeway_is_accepted(
    authorizer: Any, mint: Callable[..., str], simple: Any, valid: Any
) -> None:
    now = int(time.time())  # not the module's NOW: a slow run must not expire the leeway
    valid(authorizer(simple(mint(exp=now - 5, iat=now - 100))), allowed=True)
    valid(authorizer(simple(mint(nbf=int(time.time()) + 10))), allowed=True)


@pytest.fixture
def strict(make_authorizer: Any, config: dict[str, Any]) -> Any:
    config["hs256"].update(
        issuer="https://auth.example.com",
        audience=["demo-web", "demo-app"],
        leeway_seconds=0,
        max_age_seconds=600,
    )
    return make_authorizer(config)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"iss": "https://evil.example.com"}, "wrong_issuer"),
        ({"iss": None}, "wrong_issuer"),
        ({"aud": "other"}, "wrong_audience"),
        ({"aud": ["other", "x"]}, "wrong_audience"),
        ({"aud": None}, "wrong_audience"),
        ({"aud": 5}, "wrong_audience"),
        ({"iat": None}, "malformed_token"),  # max_age_seconds needs iat
        ({"iat": NOW - 3600}, "expired"),  # older than max_age_seconds
    ],
)
def test_issuer_audience_and_age(
    strict: Any,
    mint: Callable[..., str],
    simple: Any,
    valid: Any,
    claims: dict[str, Any],
    reason: str,
) -> None:
    base = {"iss": "https://auth.example.com", "aud": "demo-web"}
    base.update(claims)
    valid(strict(simple(mint(base))), allowed=False)
    assert strict.reason == reason


@pytest.mark.parametrize("aud", ["demo-web", ["x", "demo-app"], ["demo-web"]])
def test_audience_string_or_list_matches(
    strict: Any, mint: Callable[..., str], simple: Any, valid: Any, aud: Any
) -> None:
    token = mint({"iss": "https://auth.example.com", "aud": aud})
    valid(strict(simple(token)), allowed=True)


def test_subject_claim_is_configurable(
    make_authorizer: Any, config: dict[str, Any], mint: Callable[..., str], simple: Any, valid: Any
) -> None:
    config["hs256"]["subject_claim"] = "uid"
    authorizer = make_authorizer(config)
    first = authorizer(simple(mint(uid="u-1")))
    second = authorizer(simple(mint(uid="u-2")))
    valid(first, allowed=True)
    assert first["principalId"] != second["principalId"]


def test_signature_is_checked_with_compare_digest(
    authorizer: Any, mint: Callable[..., str], simple: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from iotws_authorizer import hs256

    calls: list[int] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(hs256.hmac, "compare_digest", spy)
    authorizer(simple(mint()))
    assert calls == [1]
    assert hs256.hashlib is hashlib


@pytest.mark.parametrize("field", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("literal", ["1e400", "-1e400", "1e999"])
def test_time_claims_that_parse_as_infinity_are_refused(
    authorizer: Any, mint: Callable[..., str], simple: Any, valid: Any, field: str, literal: str
) -> None:
    """`exp: 1e400` is valid JSON that Python reads as infinity: it would never expire."""
    now = int(time.time())
    times = {"exp": now + 300, "iat": now - 10, "nbf": now - 10}
    times[field] = literal  # type: ignore[assignment]
    body = ", ".join(f'"{k}": {v}' for k, v in times.items())
    token = mint(raw_payload=('{"sub": "alice", ' + body + "}").encode())
    valid(authorizer(simple(token)), allowed=False)
    assert authorizer.reason == "malformed_token"


def test_max_lifetime_caps_how_far_exp_may_be(
    make_authorizer: Any, config: dict[str, Any], mint: Callable[..., str], simple: Any, valid: Any
) -> None:
    config["hs256"]["max_lifetime_seconds"] = 3600
    authorizer = make_authorizer(config)
    now = int(time.time())
    valid(authorizer(simple(mint(exp=now + 3000))), allowed=True)
    valid(authorizer(simple(mint(exp=now + 10 * 365 * 86400))), allowed=False)
    assert authorizer.reason == "malformed_token"
