"""Token signing in the emulator (docs/custom-authorizer.md#event,
docs/custom-authorizer.md#token-signing): with signing on, the
gateway verifies the signature itself and refuses unsigned or badly signed requests
without invoking the authorizer."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from emuhelpers import AUTH_NAME, StubAuthorizer

NOT_AUTHORIZED = 135


def _key() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return key, pem


def _sign(key: rsa.RSAPrivateKey, token: str) -> str:
    sig = key.sign(token.encode(), padding.PKCS1v15(), hashes.SHA256())
    return quote(base64.b64encode(sig).decode(), safe="")


def test_signed_requests_reach_the_authorizer_others_never_do(start_emulator: Any) -> None:
    key, pem = _key()
    other, _ = _key()
    auth = StubAuthorizer()
    emu = start_emulator(
        auth, binding_config={"signing_enabled": True, "signing_public_keys": {"k1": pem}}
    )
    base = f"x-amz-customauthorizer-name={AUTH_NAME}&token=tok123"

    # GIVEN no signature, a signature by another key, a tampered token
    cases = [
        base,
        f"{base}&x-amz-customauthorizer-signature={_sign(other, 'tok123')}",
        f"x-amz-customauthorizer-name={AUTH_NAME}&token=tok124"
        f"&x-amz-customauthorizer-signature={_sign(key, 'tok123')}",
    ]
    for i, query in enumerate(cases):
        rc = emu.client(f"s{i}", query=query).connect(expect_ok=False)
        # THEN refused, and the Lambda was never invoked
        assert rc.is_failure and rc.value == NOT_AUTHORIZED, query
    assert auth.events == []

    # GIVEN a good signature THEN the authorizer runs and sees signatureVerified
    good = emu.client("ok", query=f"{base}&x-amz-customauthorizer-signature={_sign(key, 'tok123')}")
    good.connect()
    good.close()
    assert len(auth.events) == 1
    assert auth.events[0]["signatureVerified"] is True
    assert auth.events[0]["token"] == "tok123"


def test_signing_off_passes_signature_verified_false(start_emulator: Any) -> None:
    auth = StubAuthorizer()
    emu = start_emulator(auth)
    c = emu.client("plain", query=f"x-amz-customauthorizer-name={AUTH_NAME}&token=t")
    c.connect()
    c.close()
    assert auth.events[0]["signatureVerified"] is False
