"""The packaged jwks authorizer: `iotws package` vendors PyJWT and cryptography as Linux
wheels for the Lambda target, reproducibly; the zip verifies a token signed by a key made
here against a key set served from 127.0.0.1.

The first run downloads the pinned wheels from PyPI into the wheel cache
($IOTWS_WHEEL_CACHE, default ~/.cache/iotws/wheels); later runs are offline.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwkskit
import pytest
from jwkskit import AUDIENCE, ISSUER, claims, event, sign

from iotws.cli import main
from iotws.invoke import load_authorizer
from iotws.vendor import MANIFEST_NAME

HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
SPEC = """\
version: 1
app: demo
stage: dev
claims:
  sub: {{max_length: 64, charset: word}}
authorizer:
  mode: jwks
  jwks:
    jwks_url: "{url}"
    issuer: "{issuer}"
    audience: ["{audience}"]
    algorithms: [RS256, ES256]
    fetch_timeout_seconds: 1
  public: {{profile: guest}}
  select:
    claim: role
    default: user
profiles:
  guest:
    client_id: "guest:*"  # disjoint from u-{{sub}}-*
    subscribe: [server]
  user:
    client_id: "u-{{sub}}-*"
    subscribe: ["users/{{sub}}/#"]
    publish: ["users/{{sub}}/out"]
"""
PUBLIC_SPEC = Path(__file__).resolve().parents[1] / "generator/specs/public.yaml"

ELF_MACHINE = {"x86_64": 62, "arm64": 183}  # e_machine of x86-64 and AArch64


def _package(spec: Path, out: Path, *extra: str) -> bytes:
    assert main(["package", "--spec", str(spec), "--out", str(out), *extra]) == 0
    return out.read_bytes()


@pytest.fixture
def jwks_spec(tmp_path: Path, server: jwkskit.JwksServer) -> Path:
    path = tmp_path / "access.yaml"
    path.write_text(SPEC.format(url=server.url, issuer=ISSUER, audience=AUDIENCE), encoding="utf-8")
    return path


@pytest.fixture
def host_zip(tmp_path: Path, jwks_spec: Path) -> Path:
    """The jwks zip for this machine (x86_64 and its Python) so that it can run here."""
    out = tmp_path / "x86" / "authorizer.zip"
    _package(jwks_spec, out, "--arch", "x86_64", "--python", HOST_PYTHON)
    return out


def _elf_machine(data: bytes) -> int:
    assert data[:4] == b"\x7fELF"
    return int.from_bytes(data[18:20], "little")


def test_jwks_zip_vendors_linux_wheels_and_is_reproducible(
    tmp_path: Path, jwks_spec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # default target: arm64, Python 3.13 (the module's defaults)
    first = _package(jwks_spec, tmp_path / "a" / "authorizer.zip")
    second = _package(jwks_spec, tmp_path / "b" / "authorizer.zip")
    assert first == second  # same bytes twice
    with zipfile.ZipFile(tmp_path / "a" / "authorizer.zip") as zf:
        names = zf.namelist()
        assert names == sorted(names)
        assert {"app.py", "iotws_config.json", "jwt/__init__.py", MANIFEST_NAME} <= set(names)
        assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n]
        for info in zf.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.external_attr >> 16 == 0o100644
        manifest = json.loads(zf.read(MANIFEST_NAME))
        assert manifest["architecture"] == "arm64" and manifest["runtime"] == "python3.13"
        shared = [n for n in names if n.endswith(".so")]
        assert any(n.startswith("cryptography/") for n in shared)
        assert any("_cffi_backend.cpython-313" in n for n in shared)
        for name in shared:
            assert _elf_machine(zf.read(name)) == ELF_MACHINE["arm64"], name


def test_public_zips_vendor_nothing_and_stay_small(tmp_path: Path) -> None:
    data = _package(PUBLIC_SPEC, tmp_path / "authorizer.zip")
    with zipfile.ZipFile(tmp_path / "authorizer.zip") as zf:
        assert not [n for n in zf.namelist() if n.startswith(("jwt/", "cryptography/"))]
    assert len(data) < 64 * 1024


def test_bad_targets_are_refused(jwks_spec: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["package", "--spec", str(jwks_spec), "--out", str(tmp_path / "z"), "--arch", "i386"])
    assert not (tmp_path / "z").exists()


def test_packaged_authorizer_verifies_a_token_against_a_local_key_set(
    host_zip: Path,
    server: jwkskit.JwksServer,
    keys: jwkskit.Keys,
    valid: Callable[..., None],
) -> None:
    lines: list[str] = []
    loaded = load_authorizer(host_zip, log_sink=lines.append)
    token = sign(claims(), keys.rsa)
    response = loaded.invoke(event(token))
    valid(response, allowed=True)
    assert "users/alice/*" in json.dumps(response)
    valid(loaded.invoke(event(sign(claims(), keys.other_rsa))), allowed=False)
    valid(loaded.invoke(event(sign(claims(), keys.ec, alg="ES256", kid="ec-1"))), allowed=True)
    reasons = [json.loads(line)["reason"] for line in lines]
    assert reasons == ["ok", "bad_signature", "ok"]
    assert server.state.hits == 1
    assert token not in "\n".join(lines)


_PROBE = """
import json, sys
root = sys.argv[1]
sys.path.insert(0, root)
import app
event, token_ok = json.loads(sys.stdin.read())
class Ctx:
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:f"
out = [app.handler(event, Ctx()), app.handler(token_ok, Ctx())]
import jwt, cryptography
print(json.dumps({"responses": out, "jwt": jwt.__file__, "crypto": cryptography.__file__}))
"""


def test_vendored_libraries_are_enough_without_site_packages(
    host_zip: Path,
    tmp_path: Path,
    server: jwkskit.JwksServer,
    keys: jwkskit.Keys,
    valid: Callable[..., None],
) -> None:
    # Lambda runs the unzipped folder with only the standard library (and boto3): run the
    # zip here the same way, with -S (no site-packages) and -I (no PYTHON* variables).
    root = tmp_path / "task"
    with zipfile.ZipFile(host_zip) as zf:
        zf.extractall(root)
    bad = event(sign(claims(aud="another-app"), keys.rsa))
    good = event(sign(claims(), keys.rsa))
    done = subprocess.run(
        [sys.executable, "-S", "-I", "-B", "-c", _PROBE, str(root)],
        input=json.dumps([bad, good]),
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    denied, allowed = result["responses"]
    valid(denied, allowed=False)
    valid(allowed, allowed=True)
    assert result["jwt"].startswith(str(root)) and result["crypto"].startswith(str(root))
