"""Mode jwks (iotws_authorizer.jwks): tokens from an identity provider, verified against
its key set served from 127.0.0.1. Algorithm confusion, kid tricks, claims, caching,
refresh limits and outages: every failure is a deny with a reason code, never a crash."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwkskit
import pytest
from jwkskit import AUDIENCE, JWKS_PATH, claims, event, forge, jwks_config, sign

from iotws_authorizer import jwks as jwks_module

Make = Callable[[dict[str, Any]], Any]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Move the verifier's monotonic clock forward by N seconds."""
    offset = [0.0]
    monkeypatch.setattr(jwks_module, "_clock", lambda: time.monotonic() + offset[0])

    def advance(seconds: float) -> None:
        offset[0] += seconds

    return advance


# ------------------------------------------------------------------ the happy paths


def test_rs256_token_from_the_key_set_is_allowed(
    make_authorizer: Make, server: jwkskit.JwksServer, keys: jwkskit.Keys, valid: Any
) -> None:
    authorizer = make_authorizer(jwks_config(server.url))
    response = authorizer(event(sign(claims(), keys.rsa)))
    valid(response, allowed=True)
    assert "users/alice/*" in json.dumps(response)
    assert authorizer.reason == "ok" and authorizer.logs[-1]["mode"] == "jwks"


def test_es256_token_is_allowed(
    make_authorizer: Make, server: jwkskit.JwksServer, keys: jwkskit.Keys, valid: Any
) -> None:
    authorizer = make_authorizer(jwks_config(server.url))
    valid(authorizer(event(sign(claims(), keys.ec, alg="ES256", kid="ec-1"))), allowed=True)


def test_no_token_gets_the_guest_profile_but_a_bad_token_is_never_downgraded(
    make_authorizer: Make, server: jwkskit.JwksServer, keys: jwkskit.Keys, valid: Any
) -> None:
    authorizer = make_authorizer(jwks_config(server.url))
    valid(authorizer(event(None, "anon-1")), allowed=True)
    assert authorizer.reason == "anonymous"
    valid(authorizer(event(sign(claims(), keys.other_rsa), "anon-1")), allowed=False)
    assert authorizer.reason == "bad_signature"


def test_audience_may_be_a_list_that_contains_ours(
    make_authorizer: Make, server: jwkskit.JwksServer, keys: jwkskit.Keys, valid: Any
) -> None:
    authorizer = make_authorizer(jwks_config(server.url))
    token = sign(claims(aud=["someone-else", AUDIENCE]), keys.rsa)
    valid(authorizer(event(token)), allowed=True)


# ------------------------------------------------------------------ algorithm confusion


def test_only_configured_algorithms(
    make_authorizer: Make, server: jwkskit.JwksServer, keys: jwkskit.Keys, valid: Any
) -> None:
    authorizer = make_authorizer(jwks_config(server.url, algorithms=["RS256"]))
    valid(authorizer(event(sign(claims(), keys.ec, alg="ES256", kid="ec-1"))), allowed=False)
    assert authorizer.reason == "alg_not_allowed"


def test_hs256_signed_with_the_rsa_public_key_is_refused(
    make_authorizer: Make, server: jwkskit.JwksServer, keys: jwkskit.Keys, valid: Any
) -> None:
    # The classic confusion: the attacker HMACs with the public PEM as the secret.
    pem = keys.rsa_public_pem()
    header = {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}
    unsigned = forge(header, claims()).rsplit(".", 1)[0]
    mac = hmac.new(pem, unsigned.encode(), hashlib.sha256).digest()
    token = f"{unsigned}.{jwkskit.b64url(mac)}"
    authorizer = make_authorizer(jwks_config(server.url))
    valid(authorizer(event(token)), allowed=False)
    assert authorizer.reason == "alg_not_allowed"
    assert server.state.hits == 0  # refused before any key was looked up


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "", None, "HS256", "RS384", "PS256", 7])
def test_none_and_foreign_algorithms_are_refused(
    make_authorizer: Make, server: jwkskit.JwksServer, alg: Any, valid: Any
) -> None:
    authorizer = make_authorizer(jwks_config(server.url))
    token = forge({"alg": alg, "kid": "rsa-1"}, claims())
    valid(authorizer(event(token)), allowed=False)
    assert authorizer.reason == "alg_not_allowed"


def test_header_alg_must_match_the_key_type(
    make_authorizer: Make, server: jwkskit.JwksServer, keys: jwkskit.Keys, valid: Any
) -> None:
    # An RS256 header naming the EC key (and the reverse) is refused.
    authorizer = make_authorizer(jwks_config(server.url))
    valid(authorizer(event(sign(claims(), keys.rsa, kid="ec-1"))), allowed=False)
    assert authorizer.reason == "alg_not_allowed"
    valid(authorizer(event(sign(claims(), keys.ec, alg="ES256", kid="rsa-1"))), allowed=False)
    assert authorizer.reason == "alg_not_allowed"


def test_a_configuration_cannot_enable_hmac_or_none(
    make_authorizer: Make, server: jwkskit.JwksServer, keys: jwkskit.Keys, valid: Any
) -> None:
    for algorithms in (["HS256"], ["RS256", "none"], [], "RS256"):
        authorizer = make_authorizer(jwks_config(server.url, algorithms=algorithms))
        valid(authorizer(event(sign(claims(), keys.rsa))), allowed=False)
        assert authorizer.reason == "config_error"


# ------------------------------------------------------------------ kid and key headers


@pytest.mark.parametrize(
    "kid",
    ["../../x", "/etc/passwd", "rsa-1/../rsa-1", "RSA-1", "rsa-1 ", "file:///rsa-1", "%2e%2e"],
)
def test_kid_is_matched_exactly_and_never_used_as_a_path(
    make_authorizer: Make, server: jwkskit.JwksServer, keys: jwkskit.Keys, kid: str, valid: Any
) -> None:
    authorizer = make_authorizer(jwks_config(server.url))
    valid(authorizer(event(sign(claims(), keys.rsa, kid=kid))), allowed=False)
    assert authorizer.reason == "unknown_key"
    assert set(server.state.paths) == {JWKS_PATH}  # only ever the configured URL


@pytest.mark.parametrize("kid", [None, 1, ["rsa-1"], {"k": "rsa-1"}, "", "rsa\n1", "x" * 300])
def test_kid_must_be_a_plain_string(
    make_authorizer: Make, server: jwkskit.JwksServer, keys: jwkskit.Keys, kid: Any, valid: Any
) -> None:
    authorizer = make_authorizer(jwks_config(server.url))
    header = {"alg": "RS256"} if kid is None else {"alg": "RS256", "kid": kid}
    token = forge(header, claims(), b"x" * 256)
    valid(authorizer(event(token)), allowed=False)
    assert authorizer.reason == "malformed_token"


@pytest.mark.parametrize("name", ["jku", "x5u", "jwk", "x5c", "crit"])
def test_key_carrying_headers_are_refused_and_never_fetched(
    make_authorizer: Make, server: jwkskit.JwksServer, keys: jwkskit.Keys, name: str, valid: Any
) -> None:
    with jwkskit.jwks_server(jwkskit.key_set(keys)) as attacker:
        value: Any = {"jku": attacker.url, "x5u": attacker.url, "crit": ["exp"]}.get(name)
        if name == "jwk":
            value = jwkskit.jwk_of(keys.other_rsa, "rsa-1")
        if name == "x5c":
            value = ["MIIB"]
        token = sign(claims(), keys.other_rsa, **{name: value})
        authorizer = make_authorizer(jwks_config(server.url))
        valid(authorizer(event(token)), allowed=False)
        assert authorizer.reason == "malformed_token"
        assert attacker.state.hits == 0


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_a_small_rsa_key_in_the_key_set_is_not_usable(
    make_authorizer: Make, server: jwkskit.JwksServer, keys: jwkskit.Keys, valid: Any
) -> None:
    authorizer = make_authorizer(jwks_config(server.url))
    valid(authorizer(event(sign(claims(), keys.small_rsa, kid="small-1"))), allowed=False)
    assert authorizer.reason == "unknown_key"


def test_signature_by_another_key_under_a_known_kid(
    make_authorizer: Make, server: jwkskit.JwksServer, keys: jwkskit.Keys, valid: Any
) -> None:
    authorizer = make_authorizer(jwks_config(server.url))
    valid(authorizer(event(sign(claims(), keys.other_rsa))), allowed=False)
    assert authorizer.reason == "bad_signature"
    good = sign(claims(), keys.rsa)
    head, body, sig = good.split(".")
    tampered = jwkskit.b64url(json.dumps(claims(sub="mallory")).encode())
    valid(authorizer(event(f"{head}.{tampered}.{sig}")), allowed=False)
    assert authorizer.reason == "bad_signature"


def test_duplicate_kids_in_the_key_set_are_ambiguous_and_dropped(
    make_authorizer: Make, keys: jwkskit.Keys, valid: Any
) -> None:
    doc = {"keys": [jwkskit.jwk_of(keys.rsa, "k"), jwkskit.jwk_of(keys.other_rsa, "k")]}
    with jwkskit.jwks_server(doc) as srv:
        authorizer = make_authorizer(jwks_config(srv.url))
        valid(authorizer(event(sign(claims(), keys.rsa, kid="k"))), allowed=False)
        assert authorizer.reason == "unknown_key"


# ------------------------------------------------------------------ claims


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": "now-10"}, "expired"),
        ({"exp": None}, "malformed_token"),
        ({"exp": "tomorrow"}, "malformed_token"),
        ({"nbf": "now+600"}, "not_yet_valid"),
        ({"iat": "now+600"}, "not_yet_valid"),
        ({"iss": "https://evil.example.test/pool"}, "wrong_issuer"),
        ({"iss": None}, "malformed_token"),
        ({"aud": "another-app"}, "wrong_audience"),
        ({"aud": None}, "wrong_audience"),
        ({"aud": [1, {"a": AUDIENCE}]}, "wrong_audience"),
    ],
)
def test_claims_are_checked(
    make_authorizer: Make,
    server: jwkskit.JwksServer,
    keys: jwkskit.Keys,
    overrides: dict[str, Any],
    reason: str,
    valid: Any,
) -> None:
    # "now+600": relative to the moment the test runs, not to collection (a long run
    # would otherwise turn a future nbf into a past one).
    now = int(time.time())
    overrides = {
        k: now + int(v[3:]) if isinstance(v, str) and v.startswith("now") else v
        for k, v in overrides.items()
    }
    authorizer = make_authorizer(jwks_config(server.url))
    valid(authorizer(event(sign(claims(**overrides), keys.rsa))), allowed=False)
    assert authorizer.reason == reason


def test_leeway_accepts_a_token_that_just_expired(
    make_authorizer: Make, server: jwkskit.JwksServer, keys: jwkskit.Keys, valid: Any
) -> None:
    token = sign(claims(exp=int(time.time()) - 5), keys.rsa)
    authorizer = make_authorizer(jwks_config(server.url, leeway_seconds=30))
    valid(authorizer(event(token)), allowed=True)


def test_cognito_access_tokens_carry_the_app_client_in_client_id(
    make_authorizer: Make, server: jwkskit.JwksServer, keys: jwkskit.Keys, valid: Any
) -> None:
    cfg = jwks_config(server.url, audience_claim="client_id", token_use="access")
    authorizer = make_authorizer(cfg)
    access = claims(aud=None, client_id=AUDIENCE, token_use="access")
    valid(authorizer(event(sign(access, keys.rsa))), allowed=True)
    # an ID token (aud, token_use id) is not an access token
    valid(authorizer(event(sign(claims(), keys.rsa))), allowed=False)
    assert authorizer.reason == "wrong_token_use"
    # another app client of the same pool
    other = claims(aud=None, client_id="another-client", token_use="access")
    valid(authorizer(event(sign(other, keys.rsa))), allowed=False)
    assert authorizer.reason == "wrong_audience"


def test_identity_values_from_a_valid_token_are_still_checked(
    make_authorizer: Make, server: jwkskit.JwksServer, keys: jwkskit.Keys, valid: Any
) -> None:
    # A correctly signed token whose sub would widen the policy (injection) is refused.
    authorizer = make_authorizer(jwks_config(server.url))
    for sub in ("#", "+", "a/b", "a*", "${iot:ClientId}", 'a"b'):
        valid(authorizer(event(sign(claims(sub=sub), keys.rsa), "x-1")), allowed=False)
        assert authorizer.reason == "bad_identity"


# ------------------------------------------------------------------ caching and refresh


def test_the_key_set_is_fetched_once_per_container(
    make_authorizer: Make, server: jwkskit.JwksServer, keys: jwkskit.Keys, valid: Any
) -> None:
    authorizer = make_authorizer(jwks_config(server.url))
    for _ in range(20):
        valid(authorizer(event(sign(claims(), keys.rsa))), allowed=True)
    assert server.state.hits == 1


def test_unknown_kids_refresh_at_most_once_per_interval(
    make_authorizer: Make,
    server: jwkskit.JwksServer,
    keys: jwkskit.Keys,
    clock: Callable[[float], None],
    valid: Any,
) -> None:
    authorizer = make_authorizer(jwks_config(server.url, refresh_interval_seconds=60))
    valid(authorizer(event(sign(claims(), keys.rsa))), allowed=True)
    # a flood of made-up kids: no fetch storm
    for i in range(50):
        valid(authorizer(event(sign(claims(), keys.rsa, kid=f"made-up-{i}"))), allowed=False)
        assert authorizer.reason == "unknown_key"
    assert server.state.hits == 1  # the first fetch was less than 60 s ago
    clock(61)
    valid(authorizer(event(sign(claims(), keys.rsa, kid="made-up-x"))), allowed=False)
    assert server.state.hits == 2


def test_key_rotation_is_picked_up_after_the_refresh_interval(
    make_authorizer: Make,
    server: jwkskit.JwksServer,
    keys: jwkskit.Keys,
    clock: Callable[[float], None],
    valid: Any,
) -> None:
    authorizer = make_authorizer(jwks_config(server.url, refresh_interval_seconds=30))
    valid(authorizer(event(sign(claims(), keys.rsa))), allowed=True)
    server.serve({"keys": [jwkskit.jwk_of(keys.other_rsa, "rsa-2")]})
    rotated = sign(claims(), keys.other_rsa, kid="rsa-2")
    clock(31)
    valid(authorizer(event(rotated)), allowed=True)
    assert server.state.hits == 2


def test_ttl_expiry_refetches_and_stale_keys_survive_one_ttl_of_outage(
    make_authorizer: Make,
    server: jwkskit.JwksServer,
    keys: jwkskit.Keys,
    clock: Callable[[float], None],
    valid: Any,
) -> None:
    authorizer = make_authorizer(jwks_config(server.url, cache_ttl_seconds=600))
    valid(authorizer(event(sign(claims(), keys.rsa))), allowed=True)
    clock(601)
    server.state.mode = "error"
    valid(authorizer(event(sign(claims(), keys.rsa))), allowed=True)  # stale-if-error
    assert server.state.hits == 2
    clock(600)
    valid(authorizer(event(sign(claims(), keys.rsa))), allowed=False)
    assert authorizer.reason == "jwks_unavailable"


# ------------------------------------------------------------------ outages


def _timed(authorizer: Any, ev: dict[str, Any]) -> tuple[dict[str, Any], float]:
    start = time.monotonic()
    response = authorizer(ev)
    return response, time.monotonic() - start


def test_server_down_denies_fast_and_does_not_retry_every_request(
    make_authorizer: Make, keys: jwkskit.Keys, valid: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    authorizer = make_authorizer(jwks_config(jwkskit.dead_url()))
    calls: list[str] = []
    real_fetch = jwks_module.fetch

    def counting_fetch(url: str, timeout: float) -> bytes:
        calls.append(url)
        return real_fetch(url, timeout)

    monkeypatch.setattr(jwks_module, "fetch", counting_fetch)
    for _ in range(5):
        response, elapsed = _timed(authorizer, event(sign(claims(), keys.rsa)))
        valid(response, allowed=False)
        assert authorizer.reason == "jwks_unavailable"
        assert elapsed < 1.0
    assert len(calls) == 1


@pytest.mark.parametrize("mode", ["slow", "trickle"])
def test_a_slow_server_is_cut_off_at_the_deadline(
    make_authorizer: Make, server: jwkskit.JwksServer, keys: jwkskit.Keys, mode: str, valid: Any
) -> None:
    server.state.mode = mode
    server.state.delay = 3.0 if mode == "slow" else 0.2
    authorizer = make_authorizer(jwks_config(server.url, fetch_timeout_seconds=0.5))
    response, elapsed = _timed(authorizer, event(sign(claims(), keys.rsa)))
    valid(response, allowed=False)
    assert authorizer.reason == "jwks_unavailable"
    assert elapsed < 1.5, elapsed  # the deadline (0.5 s) plus scheduling slack
    # the next request within the refresh interval does not wait again
    response, elapsed = _timed(authorizer, event(sign(claims(), keys.rsa)))
    assert authorizer.reason == "jwks_unavailable" and elapsed < 0.3


@pytest.mark.parametrize(
    "body",
    [
        b"<html>not a key set</html>",
        b"[]",
        b'{"keys": "no"}',
        b'{"keys": [1, "x", null, {"kty": "RSA"}]}',
        b"\xff\xfe",
        b"[" * 100_000,
        json.dumps(
            {
                "keys": [
                    {"kid": f"k{i}", "kty": "RSA", "n": "AQAB", "e": "AQAB"} for i in range(2000)
                ]
            }
        ).encode(),
    ],
    ids=["html", "list", "keys-not-list", "junk-keys", "not-utf8", "deep", "too-large"],
)
def test_garbage_key_sets_deny_without_crashing(
    make_authorizer: Make, server: jwkskit.JwksServer, keys: jwkskit.Keys, body: bytes, valid: Any
) -> None:
    server.serve(body)
    authorizer = make_authorizer(jwks_config(server.url))
    valid(authorizer(event(sign(claims(), keys.rsa))), allowed=False)
    assert authorizer.reason in ("jwks_unavailable", "unknown_key")


@pytest.mark.parametrize("mode", ["error", "redirect", "garbage"])
def test_http_errors_and_redirects_are_outages(
    make_authorizer: Make, server: jwkskit.JwksServer, keys: jwkskit.Keys, mode: str, valid: Any
) -> None:
    server.state.mode = mode
    authorizer = make_authorizer(jwks_config(server.url))
    valid(authorizer(event(sign(claims(), keys.rsa))), allowed=False)
    assert authorizer.reason == "jwks_unavailable"
    assert server.state.hits == 1  # the redirect was not followed


# ------------------------------------------------------------------ configuration


@pytest.mark.parametrize(
    "overrides",
    [
        {"jwks_url": "http://auth.example.com/jwks.json"},  # plain http off this machine
        {"jwks_url": "ftp://127.0.0.1/jwks.json"},
        {"jwks_url": "https://user:pw@auth.example.com/jwks.json"},
        {"jwks_url": None},
        {"issuer": ""},
        {"audience": []},
        {"audience": None},
        {"audience_claim": "sub"},
        {"token_use": "refresh"},
        {"fetch_timeout_seconds": 10},
        {"cache_ttl_seconds": 0},
    ],
)
def test_unsafe_configurations_deny_everything(
    make_authorizer: Make, keys: jwkskit.Keys, overrides: dict[str, Any], valid: Any
) -> None:
    authorizer = make_authorizer(jwks_config("https://auth.example.com/jwks.json", **overrides))
    valid(authorizer(event(sign(claims(), keys.rsa))), allowed=False)
    assert authorizer.reason == "config_error"
    assert "jwks" in authorizer.logs[-1]["detail"]


def test_logs_never_contain_the_token(
    make_authorizer: Make, server: jwkskit.JwksServer, keys: jwkskit.Keys
) -> None:
    authorizer = make_authorizer(jwks_config(server.url))
    tokens = [
        sign(claims(), keys.rsa),
        sign(claims(), keys.other_rsa),
        sign(claims(exp=1), keys.rsa),
        sign(claims(), keys.rsa, kid="unknown"),
    ]
    for token in tokens:
        authorizer(event(token))
    text = "\n".join(authorizer.raw_logs)
    for token in tokens:
        for part in token.split("."):
            assert part not in text
    assert "alice" not in text


def test_password_carried_token_is_verified_too(
    make_authorizer: Make, server: jwkskit.JwksServer, keys: jwkskit.Keys, valid: Any
) -> None:
    token = sign(claims(), keys.rsa)
    ev = event()
    ev["protocolData"]["mqtt"]["password"] = base64.b64encode(token.encode()).decode()
    valid(make_authorizer(jwks_config(server.url))(ev), allowed=True)


# ------------------------------------------------------------------ lazy dependencies


def test_jwks_module_imports_third_party_libraries_only_inside_functions() -> None:
    import ast
    import sys
    from pathlib import Path

    source = Path(jwks_module.__file__ or "").read_text(encoding="utf-8")
    allowed = set(sys.stdlib_module_names) | {"iotws_authorizer", "__future__"}
    for node in ast.parse(source).body:  # module level only
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            assert name.split(".")[0] in allowed, name


_NO_SITE_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from iotws_authorizer import jwks
from iotws_authorizer.errors import ConfigError
try:
    jwks.parse_settings({"jwks": json.loads(sys.argv[2])})
except ConfigError as exc:
    print(json.dumps({"reason": exc.reason, "detail": exc.detail}))
"""


def test_without_the_libraries_jwks_is_a_clear_config_error() -> None:
    # A zip built for another target (or with nothing vendored) imports fine and denies
    # every request with a config error that says what to do, at cold start.
    import subprocess
    import sys
    from pathlib import Path

    lambda_dir = str(Path(jwks_module.__file__ or "").resolve().parents[1])
    settings = json.dumps(jwkskit.jwks_settings("https://issuer.example.test/jwks.json"))
    done = subprocess.run(
        [sys.executable, "-S", "-I", "-B", "-c", _NO_SITE_PROBE, lambda_dir, settings],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    result = json.loads(done.stdout)
    assert result["reason"] == "config_error" and "iotws package" in result["detail"]


@pytest.mark.parametrize("field", ["exp", "nbf", "iat"])
def test_time_claims_must_be_finite(
    make_authorizer: Make, server: jwkskit.JwksServer, keys: jwkskit.Keys, valid: Any, field: str
) -> None:
    """`exp: 1e400` (infinity) never expires: refused whichever library parsed it."""
    token = sign(claims(**{field: float("inf")}), keys.rsa)
    authorizer = make_authorizer(jwks_config(server.url))
    valid(authorizer(event(token)), allowed=False)
    assert authorizer.reason == "malformed_token"


def test_max_lifetime_refuses_far_expiries(
    make_authorizer: Make, server: jwkskit.JwksServer, keys: jwkskit.Keys, valid: Any
) -> None:
    authorizer = make_authorizer(jwks_config(server.url, max_lifetime_seconds=600))
    valid(authorizer(event(sign(claims(), keys.rsa))), allowed=True)
    far = sign(claims(exp=int(time.time()) + 86400 * 365), keys.rsa)
    valid(authorizer(event(far)), allowed=False)
    assert authorizer.reason == "malformed_token"
