"""`iotws token`: development tokens match what the spec's authorizer expects."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from iotws.cli import main

SPEC = Path(__file__).parents[2] / "examples/custom-authorizer/access.yaml"


def test_token_has_claims_and_verifies(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IOTWS_JWT_SECRET", "s3cret-for-tests-only-0123456789abcdef")
    assert main(["token", "--spec", str(SPEC), "--sub", "alice", "--role", "user"]) == 0
    out = capsys.readouterr().out.strip()
    claims = jwt.decode(
        out,
        "s3cret-for-tests-only-0123456789abcdef",
        algorithms=["HS256"],
        audience="seed-web",
    )
    assert claims["sub"] == "alice" and claims["role"] == "user"
    assert claims["exp"] - claims["iat"] == 3600
    assert "s3cret" not in out


def test_token_without_secret_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("IOTWS_JWT_SECRET", raising=False)
    assert main(["token", "--spec", str(SPEC), "--sub", "alice"]) == 2
    err = capsys.readouterr().err
    assert "--secret-env" in err and "export IOTWS_JWT_SECRET" in err


def test_token_signature_for_iot_signing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "k.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    monkeypatch.setenv("IOTWS_JWT_SECRET", "x" * 32)
    args = ["token", "--spec", str(SPEC), "--sub", "bob", "--signing-key", str(pem), "--json"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    # docs/custom-authorizer.md#response: RSA SHA-256 over the raw token, standard base64
    key.public_key().verify(
        base64.b64decode(data["signature"]),
        data["token"].encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
