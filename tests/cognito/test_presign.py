"""`iotws.presign`: SigV4-presigned IoT WebSocket URLs (docs/cognito-guests.md#browser-connection).

Every expected signature here is computed independently (the `sigv4` fixture: hashlib and
hmac only). That reference is itself pinned to two published AWS examples first.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import pytest

from iotws.errors import IotwsError
from iotws.paths import repo_root
from iotws.presign import AwsCredentials, _presign, presign_wss_url

AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "FQoGZXIvYXdzEXAMPLE/token+with=special&chars"
ENDPOINT = "a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com"
NOW = dt.datetime(2015, 8, 30, 12, 36, 0, tzinfo=dt.UTC)


def _params(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True, strict_parsing=True)


# ----------------------------------------------------------------- the reference itself


def test_reference_reproduces_aws_get_vanilla(sigv4: SimpleNamespace) -> None:
    # AWS SigV4 test suite, "get-vanilla": GET / with host and x-amz-date signed.
    creq, signed = sigv4.canonical_request(
        "GET",
        "/",
        "",
        {"Host": "example.amazonaws.com", "X-Amz-Date": "20150830T123600Z"},
        sigv4.EMPTY_SHA256,
    )
    assert signed == "host;x-amz-date"
    sts = sigv4.string_to_sign("20150830T123600Z", "20150830/us-east-1/service/aws4_request", creq)
    sig = sigv4.signature(SECRET, "20150830T123600Z", "us-east-1", "service", sts)
    assert sig == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"


S3_EXAMPLE_URL = (
    "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
)
S3_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_reference_verifies_aws_published_presigned_url(sigv4: SimpleNamespace) -> None:
    # Amazon S3 API reference, "Authenticating Requests: Using Query Parameters",
    # Example: GET Object (a presigned URL; S3 signs UNSIGNED-PAYLOAD).
    parts = urlsplit(S3_EXAMPLE_URL)
    verdict = sigv4.verify_presigned(
        f"{parts.path}?{parts.query}",
        parts.netloc,
        {"AKIAIOSFODNN7EXAMPLE": S3_SECRET},
        service="s3",
        payload_hash="UNSIGNED-PAYLOAD",
    )
    assert verdict.ok, verdict.reason
    tampered = S3_EXAMPLE_URL.replace("test.txt", "test.txu")
    parts = urlsplit(tampered)
    assert not sigv4.verify_presigned(
        f"{parts.path}?{parts.query}",
        parts.netloc,
        {"AKIAIOSFODNN7EXAMPLE": S3_SECRET},
        service="s3",
        payload_hash="UNSIGNED-PAYLOAD",
    ).ok


def test_presigner_core_reproduces_aws_published_presigned_url() -> None:
    # The same published example through our signing path (service s3, UNSIGNED-PAYLOAD):
    # the clock injection and the query layout give AWS's URL byte for byte.
    url = _presign(
        "https://examplebucket.s3.amazonaws.com/test.txt",
        service="s3",
        region="us-east-1",
        credentials=AwsCredentials("AKIAIOSFODNN7EXAMPLE", S3_SECRET),
        expires=86400,
        now=dt.datetime(2013, 5, 24, tzinfo=dt.UTC),
        sign_payload=False,
    )
    assert url == S3_EXAMPLE_URL


# ----------------------------------------------------------------- the IoT presigner


def test_presigned_url_matches_independent_computation(sigv4: SimpleNamespace) -> None:
    url = presign_wss_url(ENDPOINT, "us-east-1", AwsCredentials(AKID, SECRET, TOKEN), now=NOW)
    parts = urlsplit(url)
    assert parts.scheme == "wss" and parts.netloc == ENDPOINT and parts.path == "/mqtt"
    params = _params(url)
    names = [k for k, _ in params]
    assert names == [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        # appended after signing (docs/cognito-guests.md#browser-connection)
        "X-Amz-Security-Token",
    ]
    values = dict(params)
    assert values["X-Amz-Credential"] == f"{AKID}/20150830/us-east-1/iotdevicegateway/aws4_request"
    assert values["X-Amz-Date"] == "20150830T123600Z"
    assert values["X-Amz-Expires"] == "900"
    assert values["X-Amz-SignedHeaders"] == "host"
    assert values["X-Amz-Security-Token"] == TOKEN

    # GIVEN the canonical request an IoT gateway builds: GET /mqtt, the query without the
    # signature and the token, only the host header, and the empty-payload hash
    query = sigv4.canonical_query(
        [(k, v) for k, v in params if k not in ("X-Amz-Signature", "X-Amz-Security-Token")]
    )
    creq, signed = sigv4.canonical_request(
        "GET", "/mqtt", query, {"host": ENDPOINT}, sigv4.EMPTY_SHA256
    )
    assert signed == "host"
    assert creq.endswith("\n" + sigv4.EMPTY_SHA256)
    sts = sigv4.string_to_sign(
        "20150830T123600Z", "20150830/us-east-1/iotdevicegateway/aws4_request", creq
    )
    # THEN the signature is the one derived independently
    expected = sigv4.signature(SECRET, "20150830T123600Z", "us-east-1", "iotdevicegateway", sts)
    assert values["X-Amz-Signature"] == expected
    # and stays pinned (catches a silent change in both implementations at once)
    assert expected == "bb1e13cf600d0e86f9c7c3efa582ffc36f1345e163f22417062f4cdbda6a10f9"


def test_session_token_is_not_signed(sigv4: SimpleNamespace) -> None:
    with_token = presign_wss_url(
        ENDPOINT, "us-east-1", AwsCredentials(AKID, SECRET, TOKEN), now=NOW
    )
    without = presign_wss_url(ENDPOINT, "us-east-1", AwsCredentials(AKID, SECRET), now=NOW)
    assert "X-Amz-Security-Token" not in without
    assert dict(_params(with_token))["X-Amz-Signature"] == dict(_params(without))["X-Amz-Signature"]
    assert with_token.startswith(without + "&X-Amz-Security-Token=")
    parts = urlsplit(with_token)
    assert sigv4.verify_presigned(f"{parts.path}?{parts.query}", ENDPOINT, {AKID: SECRET}).ok
    # a verifier that (wrongly) signed the token too would reject it
    assert not sigv4.verify_presigned(
        f"{parts.path}?{parts.query}", ENDPOINT, {AKID: SECRET}, token_after_signature=False
    ).ok


def test_signature_depends_on_host_time_region_and_secret(sigv4: SimpleNamespace) -> None:
    creds = AwsCredentials(AKID, SECRET)
    base = presign_wss_url(ENDPOINT, "us-east-1", creds, now=NOW)
    others = [
        presign_wss_url("other-ats.iot.us-east-1.amazonaws.com", "us-east-1", creds, now=NOW),
        presign_wss_url(ENDPOINT, "us-east-1", creds, now=NOW + dt.timedelta(seconds=1)),
        presign_wss_url(ENDPOINT, "eu-west-1", creds, now=NOW),
        presign_wss_url(ENDPOINT, "us-east-1", AwsCredentials(AKID, SECRET + "x"), now=NOW),
        presign_wss_url(ENDPOINT, "us-east-1", creds, now=NOW, expires=60),
    ]
    sig = dict(_params(base))["X-Amz-Signature"]
    assert all(dict(_params(u))["X-Amz-Signature"] != sig for u in others)
    parts = urlsplit(base)
    assert not sigv4.verify_presigned(
        f"{parts.path}?{parts.query}", "other-ats.iot.us-east-1.amazonaws.com", {AKID: SECRET}
    ).ok


@pytest.mark.parametrize(
    "endpoint",
    [
        ENDPOINT,
        ENDPOINT.upper(),
        f"wss://{ENDPOINT}",
        f"wss://{ENDPOINT}/mqtt",
        f"https://{ENDPOINT}/",
    ],
)
def test_endpoint_forms(endpoint: str) -> None:
    url = presign_wss_url(endpoint, "us-east-1", AwsCredentials(AKID, SECRET), now=NOW)
    assert url == presign_wss_url(ENDPOINT, "us-east-1", AwsCredentials(AKID, SECRET), now=NOW)


def test_local_ws_endpoint_keeps_port_and_scheme(sigv4: SimpleNamespace) -> None:
    url = presign_wss_url("ws://127.0.0.1:8080", "us-east-1", AwsCredentials(AKID, SECRET), now=NOW)
    parts = urlsplit(url)
    assert parts.scheme == "ws" and parts.netloc == "127.0.0.1:8080"
    assert sigv4.verify_presigned(
        f"{parts.path}?{parts.query}", "127.0.0.1:8080", {AKID: SECRET}
    ).ok


def test_naive_and_non_utc_times() -> None:
    creds = AwsCredentials(AKID, SECRET)
    plus2 = dt.timezone(dt.timedelta(hours=2))
    assert presign_wss_url(ENDPOINT, "us-east-1", creds, now=NOW.astimezone(plus2)) == (
        presign_wss_url(ENDPOINT, "us-east-1", creds, now=NOW)
    )
    with pytest.raises(IotwsError, match="now"):
        presign_wss_url(ENDPOINT, "us-east-1", creds, now=dt.datetime(2015, 8, 30))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"region": "US-EAST-1"}, "region"),
        ({"region": ""}, "region"),
        ({"expires": 0}, "expires"),
        ({"expires": 604_801}, "expires"),
        ({"expires": True}, "expires"),
        ({"endpoint": "https://x.example.com/other"}, "endpoint"),
        ({"endpoint": "host with space"}, "endpoint"),
        ({"endpoint": "ftp://x.example.com"}, "endpoint"),
        ({"credentials": AwsCredentials("", SECRET)}, "credentials"),
    ],
)
def test_bad_inputs_name_the_field(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {
        "endpoint": ENDPOINT,
        "region": "us-east-1",
        "credentials": AwsCredentials(AKID, SECRET),
        "now": NOW,
    }
    args.update(kwargs)
    with pytest.raises(IotwsError) as err:
        presign_wss_url(**args)  # type: ignore[arg-type,unused-ignore]
    assert err.value.field == field
    assert err.value.fix


def test_credentials_from_cognito_and_repr_hides_secrets() -> None:
    creds = AwsCredentials.from_cognito(
        {"AccessKeyId": "ASIA1", "SecretKey": "s3cr3t", "SessionToken": "t0k3n", "Expiration": 1}
    )
    assert (creds.access_key, creds.secret_key, creds.token) == ("ASIA1", "s3cr3t", "t0k3n")
    assert "s3cr3t" not in repr(creds) and "t0k3n" not in repr(creds)
    with pytest.raises(IotwsError, match="SecretKey"):
        AwsCredentials.from_cognito({"AccessKeyId": "ASIA1"})


def test_fresh_url_uses_the_current_time(sigv4: SimpleNamespace) -> None:
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    url = presign_wss_url(ENDPOINT, "us-east-1", AwsCredentials(AKID, SECRET))
    signed_at = dt.datetime.strptime(dict(_params(url))["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    assert abs(signed_at.replace(tzinfo=dt.UTC) - before) < dt.timedelta(seconds=5)


NODE = shutil.which("node")
PRESIGN_JS = repo_root() / "client" / "presign.js"


def test_browser_presigner_gives_the_same_url() -> None:
    # The browser client's presign.js (Web Crypto only) against iotws.presign (botocore).
    script = (
        f"import {{ presignWssUrl }} from {json.dumps(PRESIGN_JS.as_uri())};\n"
        "const cases = JSON.parse(process.argv[1]);\n"
        "const out = [];\n"
        "for (const c of cases) out.push(await presignWssUrl({endpoint: c.endpoint, "
        "region: c.region, credentials: c.credentials, expires: c.expires, "
        "now: new Date(c.now)}));\n"
        "console.log(JSON.stringify(out));\n"
    )
    cases = [
        (ENDPOINT, "us-east-1", AwsCredentials(AKID, SECRET, TOKEN), 900, NOW),
        ("ws://127.0.0.1:8443", "eu-west-1", AwsCredentials("ASIAX", "k!'()*", None), 60, NOW),
    ]
    payload = [
        {
            "endpoint": e,
            "region": r,
            "credentials": {"accessKeyId": c.access_key, "secretKey": c.secret_key}
            | ({"sessionToken": c.token} if c.token else {}),
            "expires": x,
            "now": n.isoformat(),
        }
        for e, r, c, x, n in cases
    ]
    assert NODE is not None, "node is not on PATH: install Node.js 20+ (needed by `make web`)"
    proc = subprocess.run(
        [NODE, "--no-warnings", "--input-type=module", "-e", script, json.dumps(payload)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(repo_root()),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    want = [presign_wss_url(e, r, c, expires=x, now=n) for e, r, c, x, n in cases]
    assert got == want
