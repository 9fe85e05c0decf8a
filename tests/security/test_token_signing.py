"""IoT token signing on the kit side (docs/custom-authorizer.md#event,
docs/custom-authorizer.md#token-signing): the emulator's
gateway check (`iotws_emulator.signing`) accepts exactly the signatures `iotws token
--signing-key` (and a production backend) make, from every place a client can put them,
and refuses unsigned, badly signed and ambiguous requests before any authorizer runs."""

from __future__ import annotations

import base64
import functools
import json
import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iotws.cli import main
from iotws.render.policies import render_spec
from iotws.spec.model import load_spec
from iotws.tokens import sign_for_iot
from iotws_emulator import signing

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJl"


def _private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _public_pem(key: Any) -> str:
    pem: bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode()


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def signature(key: rsa.RSAPrivateKey) -> str:
    return str(sign_for_iot(TOKEN, _private_pem(key)))


def test_signature_verifies_with_the_right_key_only(
    key: rsa.RSAPrivateKey, other: rsa.RSAPrivateKey, signature: str
) -> None:
    assert signing.verify_request_signature(TOKEN, signature, {"k1": _public_pem(key)})
    # rotation: any configured key may verify
    both = {"old": _public_pem(other), "new": _public_pem(key)}
    assert signing.verify_request_signature(TOKEN, signature, both)
    assert not signing.verify_request_signature(TOKEN, signature, {"k1": _public_pem(other)})
    assert not signing.verify_request_signature(TOKEN + "x", signature, {"k1": _public_pem(key)})
    assert not signing.verify_request_signature(TOKEN, signature, {})


def test_weak_keys_never_verify() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    sig = sign_for_iot(TOKEN, _private_pem(small))
    assert not signing.verify_request_signature(TOKEN, sig, {"small": _public_pem(small)})


@pytest.mark.parametrize(
    "bad", ["", "not base64!", "AAAA", "=" * 8, "A" * 5000, "url-safe_base64-chars"]
)
def test_malformed_signatures_are_false(key: rsa.RSAPrivateKey, bad: str) -> None:
    assert not signing.verify_request_signature(TOKEN, bad, {"k1": _public_pem(key)})


def test_garbage_keys_are_skipped(key: rsa.RSAPrivateKey, signature: str) -> None:
    keys = {"junk": "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----", "k": "x"}
    assert not signing.verify_request_signature(TOKEN, signature, keys)
    keys["good"] = _public_pem(key)
    assert signing.verify_request_signature(TOKEN, signature, keys)


@functools.cache
def _hypothesis_pem() -> str:
    return _public_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@given(token=st.text(max_size=300), sig=st.text(max_size=400))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_verification_never_raises(token: str, sig: str) -> None:
    assert signing.verify_request_signature(token, sig, {"k": _hypothesis_pem()}) is False


# ------------------------------------------------------------------ where signatures travel


def test_signature_in_every_carrier(key: rsa.RSAPrivateKey, signature: str) -> None:
    keys = {"k1": _public_pem(key)}
    encoded = quote(signature, safe="")
    carriers: list[tuple[Any, str | None, str | None]] = [
        ({"X-Amz-CustomAuthorizer-Signature": signature}, None, None),
        ([("x-amz-customauthorizer-signature", signature)], None, None),
        (None, f"x-amz-customauthorizer-name=a&token=t&{signing.SIGNATURE_PARAM}={encoded}", None),
        (None, f"?{signing.SIGNATURE_PARAM}={encoded}", None),
        (None, None, f"u?x-amz-customauthorizer-name=a&{signing.SIGNATURE_PARAM}={encoded}&SDK=x"),
        # a client that forgot to URL-encode: "+" stays "+" (base64 has no spaces)
        (None, f"{signing.SIGNATURE_PARAM}={signature}", None),
    ]
    for headers, query, username in carriers:
        assert signing.find_signature(headers, query, username) == [signature]
        assert signing.check_request(TOKEN, headers, query, username, keys) is None


def test_refusals(key: rsa.RSAPrivateKey, other: rsa.RSAPrivateKey, signature: str) -> None:
    keys = {"k1": _public_pem(key)}
    q = f"{signing.SIGNATURE_PARAM}={quote(signature, safe='')}"
    assert signing.check_request(TOKEN, None, "", None, keys) == signing.UNSIGNED
    assert signing.check_request(None, None, q, None, keys) == signing.NO_TOKEN
    assert signing.check_request(TOKEN, None, q, None, {}) == signing.NO_KEYS
    assert signing.check_request(TOKEN, None, f"{q}&{q}", None, keys) == signing.AMBIGUOUS
    other_sig = quote(sign_for_iot(TOKEN, _private_pem(other)), safe="")
    bad = f"{signing.SIGNATURE_PARAM}={other_sig}"
    assert signing.check_request(TOKEN, None, bad, None, keys) == signing.BAD_SIGNATURE
    # a good signature for another token is no signature for this one
    assert signing.check_request(TOKEN + "A", None, q, None, keys) == signing.BAD_SIGNATURE


def test_signing_keys_come_from_the_packaged_configuration() -> None:
    assert signing.signing_keys({"signing_enabled": False}) is None
    assert signing.signing_keys({}) is None
    assert signing.signing_keys({"signing_enabled": True}) == {}  # fail closed
    pem = {"k": "PEM"}
    assert signing.signing_keys({"signing_enabled": True, "signing_public_keys": pem}) == pem


# ------------------------------------------------------------------ the whole kit path


def test_spec_to_token_to_gateway_check(
    tmp_path: Path,
    key: rsa.RSAPrivateKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a spec with signing on and the public key beside it; the backend's private key
    (tmp_path / "public.pem").write_text(_public_pem(key), encoding="utf-8")
    (tmp_path / "private.pem").write_bytes(_private_pem(key))
    spec = tmp_path / "access.yaml"
    spec.write_text(
        textwrap.dedent(
            """\
            version: 1
            app: demo
            stage: dev
            claims: {sub: {max_length: 64, charset: word}}
            authorizer:
              mode: hs256
              hs256: {secret: {env: IOTWS_JWT_SECRET}}
              signing:
                enabled: true
                public_keys: {backend-2026: public.pem}
              select: {claim: role, default: user}
            profiles:
              user: {client_id: "{sub}-*", subscribe: ["users/{sub}/#"]}
            """
        ),
        encoding="utf-8",
    )
    config = render_spec(load_spec(spec)).authorizer_config
    keys = signing.signing_keys(config)
    assert keys is not None and set(keys) == {"backend-2026"}
    # WHEN the development token command signs a token (as a backend would)
    monkeypatch.setenv("IOTWS_JWT_SECRET", "x" * 32)
    args = ["token", "--spec", str(spec), "--sub", "bob", "--signing-key"]
    assert main([*args, str(tmp_path / "private.pem"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    query = (
        f"x-amz-customauthorizer-name=demo-dev-authorizer&token={quote(out['token'], safe='')}"
        f"&x-amz-customauthorizer-signature={quote(out['signature'], safe='')}"
    )
    # THEN the gateway check passes, and fails for a token it did not sign
    assert signing.check_request(out["token"], None, query, None, keys) is None
    forged = out["token"][:-2] + "AA"
    assert signing.check_request(forged, None, query, None, keys) == signing.BAD_SIGNATURE
    assert base64.b64decode(out["signature"])  # standard base64
