"""The access spec's `authorizer.jwks` (presets, safe URLs, required audience) and
`authorizer.signing` (RSA public keys of at least 2,048 bits,
docs/custom-authorizer.md#authorizer-resource), and
what `iotws generate` renders from them for the authorizer, Terraform and the emulator."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from iotws.errors import IotwsError, SpecError
from iotws.render.policies import render_spec
from iotws.spec.model import load_spec, parse_spec

BASE = """\
version: 1
app: demo
stage: dev
claims:
  sub: {max_length: 64, charset: uuid}
authorizer:
  mode: MODE
AUTH
  select:
    claim: role
    default: user
profiles:
  user:
    client_id: "{sub}-*"
    subscribe: ["users/{sub}/#"]
"""


def spec_text(auth: str, mode: str = "jwks") -> str:
    return BASE.replace("MODE", mode).replace("AUTH", textwrap.indent(textwrap.dedent(auth), "  "))


def fields(exc: pytest.ExceptionInfo[IotwsError]) -> list[str]:
    errors = exc.value.errors if isinstance(exc.value, SpecError) else [exc.value]
    return [str(e.field) for e in errors]


# ------------------------------------------------------------------ jwks


@pytest.mark.parametrize(
    ("token_use", "claim"), [(None, "aud"), ("id", "aud"), ("access", "client_id")]
)
def test_cognito_preset_resolves_issuer_url_and_audience(token_use: str | None, claim: str) -> None:
    use = f"\n      token_use: {token_use}" if token_use else ""
    auth = f"""\
    jwks:
      preset: cognito
      user_pool_id: eu-west-1_AbC123
      client_ids: [app-client-1]{use}
    """
    cfg = render_spec(parse_spec(spec_text(auth))).authorizer_config["jwks"]
    issuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"
    assert cfg["issuer"] == issuer
    assert cfg["jwks_url"] == f"{issuer}/.well-known/jwks.json"
    assert cfg["audience"] == ["app-client-1"]
    assert cfg["audience_claim"] == claim
    assert cfg["token_use"] == (token_use or "id")
    assert cfg["algorithms"] == ["RS256"]
    assert cfg["fetch_timeout_seconds"] == 1.5


def test_generic_issuer_is_copied_with_defaults() -> None:
    auth = """\
    jwks:
      jwks_url: https://issuer.example.com/.well-known/jwks.json
      issuer: https://issuer.example.com/
      audience: [web]
      algorithms: [ES256]
      fetch_timeout_seconds: 1
    """
    cfg = render_spec(parse_spec(spec_text(auth))).authorizer_config["jwks"]
    assert cfg == {
        "preset": None,
        "jwks_url": "https://issuer.example.com/.well-known/jwks.json",
        "issuer": "https://issuer.example.com/",
        "audience": ["web"],
        "audience_claim": "aud",
        "token_use": None,
        "algorithms": ["ES256"],
        "leeway_seconds": 30,
        "cache_ttl_seconds": 3600,
        "refresh_interval_seconds": 60,
        "fetch_timeout_seconds": 1,
        "subject_claim": "sub",
        "max_lifetime_seconds": None,
    }


def test_the_rendered_jwks_settings_are_accepted_by_the_authorizer() -> None:
    from iotws_authorizer import jwks

    auth = """\
    jwks:
      preset: cognito
      user_pool_id: us-east-1_Zz9
      client_ids: [a, b]
      token_use: access
    """
    settings = jwks.parse_settings(render_spec(parse_spec(spec_text(auth))).authorizer_config)
    assert settings.audience == frozenset({"a", "b"}) and settings.audience_claim == "client_id"


@pytest.mark.parametrize(
    ("auth", "field"),
    [
        ("jwks: {preset: cognito, client_ids: [a]}", "authorizer.jwks.user_pool_id"),
        ("jwks: {preset: cognito, user_pool_id: eu-west-1_A}", "authorizer.jwks.client_ids"),
        (
            "jwks: {preset: cognito, user_pool_id: eu-west-1_A, client_ids: [a], "
            "jwks_url: 'https://evil.example.com/k'}",
            "authorizer.jwks.jwks_url",
        ),
        (
            "jwks: {preset: cognito, user_pool_id: eu-west-1_A, client_ids: [a], audience: [a]}",
            "authorizer.jwks.audience",
        ),
        (
            "jwks: {jwks_url: 'https://i.example.com/k', issuer: 'https://i.example.com/'}",
            "authorizer.jwks.audience",
        ),
        ("jwks: {issuer: i, audience: [a]}", "authorizer.jwks.jwks_url"),
        (
            "jwks: {jwks_url: 'http://i.example.com/k', issuer: i, audience: [a]}",
            "authorizer.jwks.jwks_url",
        ),
        (
            "jwks: {jwks_url: 'https://u:p@i.example.com/k', issuer: i, audience: [a]}",
            "authorizer.jwks.jwks_url",
        ),
        (
            "jwks: {jwks_url: 'https://i.example.com/k', issuer: i, audience: [a], "
            "client_ids: [a]}",
            "authorizer.jwks.client_ids",
        ),
        (
            "jwks: {jwks_url: 'https://i.example.com/k', issuer: i, audience: [a], "
            "algorithms: [HS256]}",
            "authorizer.jwks.algorithms[0]",
        ),
        (
            "jwks: {jwks_url: 'https://i.example.com/k', issuer: i, audience: [a], "
            "algorithms: [none]}",
            "authorizer.jwks.algorithms[0]",
        ),
        (
            "jwks: {jwks_url: 'https://i.example.com/k', issuer: i, audience: [a], "
            "fetch_timeout_seconds: 5}",
            "authorizer.jwks.fetch_timeout_seconds",
        ),
    ],
)
def test_unsafe_jwks_settings_are_refused(auth: str, field: str) -> None:
    with pytest.raises(IotwsError) as exc:
        parse_spec(spec_text(auth))
    assert field in fields(exc)


def test_local_http_key_sets_are_allowed_for_tests() -> None:
    auth = "jwks: {jwks_url: 'http://127.0.0.1:8000/k', issuer: i, audience: [a]}"
    assert parse_spec(spec_text(auth)).authorizer.jwks is not None


# ------------------------------------------------------------------ signing


def _write_public(path: Path, key: Any) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


HS256 = """\
hs256:
  secret: {env: IOTWS_JWT_SECRET}
signing:
SIGNING
"""


def _signing_spec(tmp_path: Path, signing: str) -> Path:
    auth = HS256.replace("SIGNING", textwrap.indent(textwrap.dedent(signing), "  "))
    spec = tmp_path / "access.yaml"
    spec.write_text(spec_text(auth, "hs256"), encoding="utf-8")
    return spec


@pytest.fixture(scope="module")
def rsa2048() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_signing_keys_are_rendered_for_terraform_and_the_emulator(
    tmp_path: Path, rsa2048: rsa.RSAPrivateKey
) -> None:
    (tmp_path / "keys").mkdir()
    _write_public(tmp_path / "keys" / "k1.pem", rsa2048)
    spec = _signing_spec(tmp_path, "enabled: true\npublic_keys: {'prod:key_1': keys/k1.pem}")
    cfg = render_spec(load_spec(spec)).authorizer_config
    assert cfg["signing_enabled"] is True
    pem = cfg["signing_public_keys"]["prod:key_1"]
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    loaded = serialization.load_pem_public_key(pem.encode())
    assert isinstance(loaded, rsa.RSAPublicKey) and loaded.key_size == 2048


def test_without_signing_nothing_is_rendered() -> None:
    cfg = render_spec(parse_spec(spec_text(HS256.replace("signing:\nSIGNING\n", ""), "hs256")))
    assert cfg.authorizer_config["signing_enabled"] is False
    assert "signing_public_keys" not in cfg.authorizer_config


@pytest.mark.parametrize("problem", ["small", "ec", "private", "missing", "not-pem"])
def test_bad_signing_keys_are_refused(
    tmp_path: Path, rsa2048: rsa.RSAPrivateKey, problem: str
) -> None:
    path = tmp_path / "k.pem"
    if problem == "small":
        _write_public(path, rsa.generate_private_key(public_exponent=65537, key_size=1024))  # noqa: S505
    elif problem == "ec":
        _write_public(path, ec.generate_private_key(ec.SECP256R1()))
    elif problem == "private":
        path.write_bytes(
            rsa2048.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    elif problem == "not-pem":
        path.write_text("hello", encoding="utf-8")
    spec = _signing_spec(tmp_path, "enabled: true\npublic_keys: {k1: k.pem}")
    with pytest.raises(IotwsError) as exc:
        load_spec(spec)
    assert fields(exc) == ["authorizer.signing.public_keys.k1"]
    if problem == "private":
        assert "BEGIN" not in str(exc.value)  # never echoes key material


@pytest.mark.parametrize(
    ("signing", "field"),
    [
        ("enabled: true", "authorizer.signing.public_keys"),
        ("public_keys: {k1: k.pem}", "authorizer.signing.public_keys"),
        ("enabled: true\npublic_keys: {'bad name': k.pem}", "authorizer.signing.public_keys"),
        ("enabled: true\npublic_keys: {}", "authorizer.signing.public_keys"),
        ("enabled: true\npublic_keys: {1: k.pem}", "authorizer.signing.public_keys.1"),
    ],
)
def test_signing_section_rules(tmp_path: Path, signing: str, field: str) -> None:
    with pytest.raises(IotwsError) as exc:
        load_spec(_signing_spec(tmp_path, signing))
    assert field in fields(exc)
