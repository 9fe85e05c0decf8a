"""Property-based and fuzz tests of the authorizer handler (`app.handler`) over arbitrary
events and tokens, in modes public, hs256 and jwks.

For every input: it never raises; the response is valid per docs/custom-authorizer.md#response; it
never
allows without a valid credential (tokens made here without the secret or the private
key, and single-character mutations of valid tokens, are always denied); an allow in
mode public only ever binds a client id that passed the guest rule; and no decision line
contains the token, the secret or the raw claims.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jwkskit
import pytest
from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st
from rendered import AUTHORIZER_SPECS, rendered_config

import iotws_authorizer
from iotws_authorizer import jwks as jwks_module

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambda_src" / "authorizer"
SECRET = b"hostile-secret-0123456789-abcdefghijklmnopq"
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
GUEST_ID = re.compile(r"anon-[A-Za-z0-9_.:@=|-]+")


# ------------------------------------------------------------------ harness


class Harness:
    """The handler with one configuration; each run captures its decision lines."""

    def __init__(self, app: ModuleType, path: Path, secret: bytes | None = None) -> None:
        self.app, self.path, self.secret = app, path, secret

    def run(self, event: Any) -> tuple[dict[str, Any], list[str]]:
        from iotws_authorizer import config, log, secrets

        config.set_path(str(self.path))
        secrets.set_override(self.secret)
        lines: list[str] = []
        log.set_sink(lines.append)
        try:
            response: dict[str, Any] = self.app.handler(event, jwkskit.context())
        finally:
            log.set_sink(None)
        return response, lines


@pytest.fixture(scope="module")
def app() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("iotws_hostile_app", LAMBDA_DIR / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    iotws_authorizer.reset()
    jwks_module.reset()
    yield module
    from iotws_authorizer import config

    config.set_path(None)
    iotws_authorizer.reset()
    jwks_module.reset()


@pytest.fixture(scope="module")
def keys() -> jwkskit.Keys:
    return jwkskit.new_keys()


@pytest.fixture(scope="module")
def server(keys: jwkskit.Keys) -> Iterator[jwkskit.JwksServer]:
    with jwkskit.jwks_server(jwkskit.key_set(keys)) as running:
        yield running


def _write(tmp: Path, name: str, cfg: dict[str, Any]) -> Path:
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(cfg), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def configs(
    tmp_path_factory: pytest.TempPathFactory, server: jwkskit.JwksServer
) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("configs")
    jwks_cfg = jwkskit.jwks_config(server.url)
    jwks_cfg["public_profile"] = None  # no anonymous fallback: only tokens can allow
    hs = rendered_config(AUTHORIZER_SPECS / "hs256.yaml")  # its secret: the harness's override
    hs["public_profile"] = None
    public = rendered_config(AUTHORIZER_SPECS / "public.yaml")
    return {
        "jwks": _write(tmp, "jwks", jwks_cfg),
        "hs256": _write(tmp, "hs256", hs),
        "public": _write(tmp, "public", public),
    }


@pytest.fixture(scope="module")
def harness(app: ModuleType, configs: dict[str, Path]) -> dict[str, Harness]:
    return {
        "jwks": Harness(app, configs["jwks"]),
        "hs256": Harness(app, configs["hs256"], SECRET),
        "public": Harness(app, configs["public"]),
    }


# ------------------------------------------------------------------ strategies

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
b64_parts = st.text(alphabet=B64URL, max_size=80)
jwt_like = st.tuples(b64_parts, b64_parts, b64_parts).map(".".join)


def _b64url_json(obj: Any) -> str:
    return str(jwkskit.b64url(json.dumps(obj).encode()))


headers_json = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.one_of(st.sampled_from(["none", "HS256", "RS256", "ES256", "PS256"]), scalars),
        "kid": st.one_of(st.sampled_from(["rsa-1", "ec-1", "../../x", "rsa-1\x00"]), scalars),
        "typ": st.one_of(st.just("JWT"), scalars),
        "jku": st.text(max_size=20),
    },
)
structured_jwts = st.tuples(headers_json, json_values, st.binary(max_size=300)).map(
    lambda t: f"{_b64url_json(t[0])}.{_b64url_json(t[1])}.{jwkskit.b64url(t[2])}"
)
tokens = st.one_of(st.text(max_size=200), jwt_like, structured_jwts)
client_ids = st.one_of(
    st.sampled_from(["alice-1", "anon-1", "anon-", "anon-#", "anon-+", "$aws", "a" * 129]),
    st.text(max_size=140),
    scalars,
)


@st.composite
def structured_events(draw: st.DrawFn) -> dict[str, Any]:
    token = draw(st.one_of(tokens, json_values))
    event: dict[str, Any] = {}
    if draw(st.booleans()):
        event["token"] = token
    http: dict[str, Any] = {}
    if draw(st.booleans()):
        name = draw(st.sampled_from(["token", "Token", "TOKEN", "x-amz-customauthorizer-name"]))
        http["headers"] = {name: token, **draw(st.dictionaries(st.text(max_size=8), json_values))}
    if draw(st.booleans()):
        text = token if isinstance(token, str) else draw(st.text(max_size=50))
        http["queryString"] = draw(
            st.sampled_from(["?token=", "token=", "?a=1&token=", "?token=x&token="])
        ) + draw(st.sampled_from([text, text.replace("&", "%26"), "%ff%fe"]))
    mqtt: dict[str, Any] = {}
    if draw(st.booleans()):
        mqtt["clientId"] = draw(client_ids)
    if draw(st.booleans()):
        raw = token.encode("utf-8", "surrogatepass") if isinstance(token, str) else b"\xff"
        mqtt["password"] = draw(st.sampled_from([base64.b64encode(raw).decode(), "%%%", None]))
    if draw(st.booleans()):
        mqtt["username"] = draw(st.sampled_from(["u?token=", "u?SDK=x&token=", "u"])) + draw(
            st.text(max_size=40)
        )
    protocol_data: Any = {"http": http, "mqtt": mqtt}
    if draw(st.booleans()):
        protocol_data = draw(st.one_of(json_values, st.just(protocol_data)))
    event["protocolData"] = protocol_data
    event["connectionMetadata"] = draw(st.one_of(json_values, st.just({"id": "conn-1"})))
    event["protocols"] = draw(st.one_of(json_values, st.just(["tls", "mqtt"])))
    event["signatureVerified"] = draw(st.one_of(st.booleans(), scalars))
    return event


events = st.one_of(json_values, structured_events())


def _strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings_in(k)
            yield from _strings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings_in(v)


def _check_logs(lines: list[str], event: Any, secret: bytes | None = SECRET) -> None:
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["decision"] in ("allow", "deny") and isinstance(record["reason"], str)
    text = lines[0]
    if secret is not None:
        assert secret.decode() not in text
    # No long string of the event (tokens, passwords, headers, claims) reaches the log,
    # except the connection id, which is logged on purpose.
    meta = event.get("connectionMetadata") if isinstance(event, dict) else None
    connection = str(meta.get("id")) if isinstance(meta, dict) else None
    for value in _strings_in(event):
        if len(value) >= 16 and value != connection and value not in (connection or ""):
            assert json.dumps(value)[1:-1] not in text, value


# ------------------------------------------------------------------ properties


@SETTINGS
@given(event=events)
def test_hs256_never_raises_never_allows_never_leaks(
    harness: dict[str, Harness], event: Any
) -> None:
    response, lines = harness["hs256"].run(event)
    jwkskit.assert_valid_response(response, allowed=False)
    _check_logs(lines, event)


@SETTINGS
@given(event=events)
def test_jwks_never_raises_never_allows_never_leaks(
    harness: dict[str, Harness], event: Any
) -> None:
    response, lines = harness["jwks"].run(event)
    jwkskit.assert_valid_response(response, allowed=False)
    _check_logs(lines, event, None)


@SETTINGS
@given(event=events)
def test_public_mode_allows_only_bound_guest_ids(harness: dict[str, Harness], event: Any) -> None:
    response, lines = harness["public"].run(event)
    jwkskit.assert_valid_response(response)
    _check_logs(lines, event, None)
    target(1.0 if response["isAuthenticated"] else 0.0, label="allowed")  # steer towards allows
    if response["isAuthenticated"]:
        client_id = event["protocolData"]["mqtt"]["clientId"]
        assert isinstance(client_id, str) and GUEST_ID.fullmatch(client_id)
        assert len(client_id.encode()) <= 128
        assert f"client/{client_id}" in json.dumps(response["policyDocuments"])


def _hs256(claims: dict[str, Any]) -> str:
    head = _b64url_json({"alg": "HS256", "typ": "JWT"})
    signing_input = f"{head}.{_b64url_json(claims)}"
    mac = hmac.new(SECRET, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{jwkskit.b64url(mac)}"


def _mutate(token: str, data: st.DataObject) -> str:
    index = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    char = data.draw(st.sampled_from(B64URL + ".=+/ ").filter(lambda c: c != token[index]))
    return token[:index] + char + token[index + 1 :]


@SETTINGS
@given(data=st.data())
def test_mutated_hs256_tokens_are_denied(harness: dict[str, Harness], data: st.DataObject) -> None:
    good = _hs256({"sub": "alice", "exp": int(time.time()) + 300})
    response, _ = harness["hs256"].run(jwkskit.event(good))
    jwkskit.assert_valid_response(response, allowed=True)  # the original is valid
    response, lines = harness["hs256"].run(jwkskit.event(_mutate(good, data)))
    jwkskit.assert_valid_response(response, allowed=False)
    assert good not in lines[0]


@SETTINGS
@given(data=st.data(), alg=st.sampled_from(["RS256", "ES256"]))
def test_mutated_jwks_tokens_are_denied(
    harness: dict[str, Harness], keys: jwkskit.Keys, data: st.DataObject, alg: str
) -> None:
    key, kid = (keys.rsa, "rsa-1") if alg == "RS256" else (keys.ec, "ec-1")
    good = jwkskit.sign(jwkskit.claims(), key, alg=alg, kid=kid)
    response, _ = harness["jwks"].run(jwkskit.event(good))
    jwkskit.assert_valid_response(response, allowed=True)
    response, _ = harness["jwks"].run(jwkskit.event(_mutate(good, data)))
    jwkskit.assert_valid_response(response, allowed=False)


@SETTINGS
@given(body=json_values, header=headers_json)
def test_jwks_tokens_signed_by_a_stranger_are_denied(
    harness: dict[str, Harness], keys: jwkskit.Keys, body: Any, header: dict[str, Any]
) -> None:
    # Whatever the claims and header fields, a key the issuer never published cannot allow.
    claims = body if isinstance(body, dict) else {"v": body}
    claims = {**jwkskit.claims(), **claims}
    header = {k: v for k, v in header.items() if k not in ("alg", "typ")}
    try:
        token = jwkskit.sign(claims, keys.other_rsa, alg="RS256", kid=None, **header)
    except (TypeError, ValueError):
        return  # PyJWT refuses to encode this header or payload: nothing to send
    response, lines = harness["jwks"].run(jwkskit.event(token))
    jwkskit.assert_valid_response(response, allowed=False)
    assert token.split(".")[2] not in lines[0]
