"""The emulator's Cognito guest path: the SigV4 presign verifier with fixed inputs, the fake
Cognito Identity endpoint, and MQTT connections presigned by `iotws.presign` under the
guest IAM policy rendered from examples/cognito-unauth/access.yaml (docs/cognito-guests.md)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.path.insert(0, str(Path(__file__).resolve().parent))

from emuhelpers import PahoClient, wait_for  # noqa: E402

from iotws.presign import AwsCredentials, _presign, presign_wss_url  # noqa: E402
from iotws.render.policies import render_spec  # noqa: E402
from iotws.spec.model import load_spec  # noqa: E402
from iotws_emulator.config import EmulatorConfig  # noqa: E402
from iotws_emulator.policy import EvaluatorEngine  # noqa: E402
from iotws_emulator.server import CognitoGuests, Emulator, EmulatorThread  # noqa: E402
from iotws_emulator.sigv4 import FakeCognito, GuestCredentials, verify_presigned  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "examples" / "cognito-unauth" / "access.yaml"
PREFIX = "guests/dev"
HOST = "127.0.0.1:8443"
SIGNED_AT = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
CREDS = GuestCredentials(
    access_key_id="ASIAEXAMPLEKEY000001",
    secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    session_token="FwoGZXIvYXdzEJr//////////wEaDEXAMPLETOKEN+/=",
    identity_id="us-east-1:11111111-2222-3333-4444-555555555555",
    expiration=SIGNED_AT + dt.timedelta(hours=1),
)


def lookup(key: str) -> GuestCredentials | None:
    return CREDS if key == CREDS.access_key_id else None


def presigned(now: dt.datetime = SIGNED_AT, creds: GuestCredentials = CREDS) -> str:
    url = presign_wss_url(
        f"ws://{HOST}",
        "us-east-1",
        AwsCredentials(creds.access_key_id, creds.secret_key, creds.session_token),
        now=now,
    )
    split = urlsplit(url)
    return f"{split.path}?{split.query}"


def later(seconds: int = 10) -> dt.datetime:
    return SIGNED_AT + dt.timedelta(seconds=seconds)


# --------------------------------------------------------------------------- verifier


def test_valid_presigned_url_is_accepted() -> None:
    verdict = verify_presigned(presigned(), HOST, lookup, now=later())
    assert verdict.ok, verdict.reason
    assert verdict.credentials is CREDS
    assert verdict.params["X-Amz-SignedHeaders"] == "host"
    # the token comes last, after the signature (docs/cognito-guests.md#browser-connection)
    assert presigned().rsplit("&", 1)[1].startswith("X-Amz-Security-Token=")


def test_tampered_signature_is_refused() -> None:
    url = presigned()
    sig = urlsplit(url).query.split("X-Amz-Signature=")[1].split("&")[0]
    flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
    verdict = verify_presigned(url.replace(sig, flipped), HOST, lookup, now=later())
    assert (verdict.ok, verdict.reason) == (False, "signature mismatch")


def test_other_host_or_tampered_query_is_refused() -> None:
    assert verify_presigned(presigned(), "127.0.0.1:9999", lookup, now=later()).reason == (
        "signature mismatch"
    )
    url = presigned().replace("X-Amz-Expires=900", "X-Amz-Expires=901")
    assert verify_presigned(url, HOST, lookup, now=later()).reason == "signature mismatch"


def test_wrong_service_is_refused() -> None:
    url = _presign(
        f"http://{HOST}/mqtt",
        service="execute-api",
        region="us-east-1",
        credentials=AwsCredentials(CREDS.access_key_id, CREDS.secret_key, CREDS.session_token),
        expires=900,
        now=SIGNED_AT,
    )
    split = urlsplit(url)
    verdict = verify_presigned(f"{split.path}?{split.query}", HOST, lookup, now=later())
    assert not verdict.ok
    assert "execute-api" in verdict.reason


def test_expired_url_and_expired_credentials_are_refused() -> None:
    assert verify_presigned(presigned(), HOST, lookup, now=later(901)).reason == (
        "presigned URL expired"
    )
    assert verify_presigned(presigned(), HOST, lookup, now=later(-600)).reason == (
        "signed in the future"
    )
    old = replace(CREDS, expiration=later(5))
    verdict = verify_presigned(presigned(creds=old), HOST, lambda _k: old, now=later(10))
    assert verdict.reason == "credentials expired"


def test_token_signed_before_the_signature_is_refused() -> None:
    # botocore signs the session token into the query when the credentials carry one:
    # that is exactly what IoT does not accept (docs/cognito-guests.md).
    request = AWSRequest(method="GET", url=f"http://{HOST}/mqtt")
    SigV4QueryAuth(
        Credentials(CREDS.access_key_id, CREDS.secret_key, CREDS.session_token),
        "iotdevicegateway",
        "us-east-1",
        expires=900,
    ).add_auth(request)
    split = urlsplit(str(request.url))
    verdict = verify_presigned(
        f"{split.path}?{split.query}", HOST, lookup, now=dt.datetime.now(dt.UTC)
    )
    assert not verdict.ok
    assert verdict.reason == "session token before the signature (it was signed)"


def test_unknown_key_missing_or_wrong_token_and_unsigned_are_refused() -> None:
    assert verify_presigned(presigned(), HOST, lambda _k: None, now=later()).reason.startswith(
        "unknown access key"
    )
    no_token = presigned().rsplit("&X-Amz-Security-Token=", 1)[0]
    assert verify_presigned(no_token, HOST, lookup, now=later()).reason == (
        "missing or wrong X-Amz-Security-Token"
    )
    assert verify_presigned(no_token + "&X-Amz-Security-Token=x", HOST, lookup, now=later()).reason
    assert not verify_presigned(no_token + "&X-Amz-Security-Token=x", HOST, lookup).ok
    unsigned = verify_presigned("/mqtt", HOST, lookup, now=later())
    assert not unsigned.ok and "not a presigned URL" in unsigned.reason


def test_fake_cognito_calls() -> None:
    pool = FakeCognito("us-east-1", "us-east-1:pool")
    status, got = pool.handle(
        "AWSCognitoIdentityService.GetId", json.dumps({"IdentityPoolId": "us-east-1:pool"}).encode()
    )
    assert status == 200 and got["IdentityId"].startswith("us-east-1:")
    status, creds = pool.handle(
        "AWSCognitoIdentityService.GetCredentialsForIdentity",
        json.dumps({"IdentityId": got["IdentityId"]}).encode(),
    )
    assert status == 200
    key = creds["Credentials"]["AccessKeyId"]
    found = pool.lookup(key)
    assert found is not None and found.identity_id == got["IdentityId"]
    status, err = pool.handle(
        "AWSCognitoIdentityService.GetCredentialsForIdentity",
        json.dumps({"IdentityId": "us-east-1:nobody"}).encode(),
    )
    assert (status, err["__type"]) == (400, "ResourceNotFoundException")
    status, err = pool.handle("AWSCognitoIdentityService.GetId", b'{"IdentityPoolId": "x"}')
    assert (status, err["__type"]) == (400, "ResourceNotFoundException")


# --------------------------------------------------------------------------- emulator


@dataclass
class Guests:
    emu: Emulator
    port: int

    def cognito(self) -> Any:
        return boto3.client(
            "cognito-identity",
            endpoint_url=f"http://127.0.0.1:{self.port}/cognito",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def guest(self) -> tuple[str, AwsCredentials]:
        """GetId + GetCredentialsForIdentity through boto3 against the fake endpoint."""
        assert self.emu.cognito is not None
        c = self.cognito()
        identity = c.get_id(IdentityPoolId=self.emu.cognito.pool.pool_id)["IdentityId"]
        res = c.get_credentials_for_identity(IdentityId=identity)
        return identity, AwsCredentials.from_cognito(res["Credentials"])

    def publish(self, topic: str, payload: bytes) -> None:
        """`POST /topics/...` (what boto3's iot-data client sends), on the emulator's loop."""
        url = f"http://127.0.0.1:{self.port}/topics/{quote(topic, safe='')}?qos=0"
        with urllib.request.urlopen(urllib.request.Request(url, payload, method="POST")) as r:  # noqa: S310
            assert r.status == 200

    def client(self, client_id: str, creds: AwsCredentials) -> PahoClient:
        url = presign_wss_url(f"ws://127.0.0.1:{self.port}", "us-east-1", creds)
        return PahoClient(self.port, client_id, query=urlsplit(url).query)


@pytest.fixture
def guests() -> Iterator[Guests]:
    spec = load_spec(SPEC)
    document = json.loads(render_spec(spec).extra_files["cognito/guest.iam.json"])
    engine = EvaluatorEngine()
    config = EmulatorConfig(authorizers={}, engine=engine, region="us-east-1")
    cognito = CognitoGuests(FakeCognito("us-east-1"), engine.compile([document]), "guest")
    th = EmulatorThread(Emulator(config, cognito=cognito))
    th.start()
    try:
        yield Guests(th.emulator, th.emulator.port)
    finally:
        th.stop()


def test_guest_connects_with_own_client_id_and_policy_applies(
    guests: Guests, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="iotws.emulator")
    identity, creds = guests.guest()
    other, _ = guests.guest()
    c = guests.client(f"guest-{identity}", creds)
    try:
        c.connect()
        assert (
            f"ALLOW upgrade sigv4 from 127.0.0.1: key={creds.access_key} identity={identity}"
            in (caplog.text)
        )
        assert wait_for(lambda: f"ALLOW connect client=guest-{identity}" in caplog.text)
        own = f"{PREFIX}/guests/{identity}/#"
        assert c.subscribe(f"{PREFIX}/server", own) == [1, 1]
        assert c.subscribe(f"{PREFIX}/guests/{other}/#") == [128]
        guests.publish(f"{PREFIX}/guests/{identity}/inbox", b"just you")
        guests.publish(f"{PREFIX}/server", b"everyone")
        got = {c.get().payload, c.get().payload}
        assert got == {b"just you", b"everyone"}
        c.publish_acked(f"{PREFIX}/client", b"hi")
        assert "principal=" + identity in caplog.text
    finally:
        c.close()


def test_guest_cannot_use_another_identitys_client_id(guests: Guests) -> None:
    _, creds = guests.guest()
    other, _ = guests.guest()
    c = guests.client(f"guest-{other}", creds)
    try:
        rc = c.connect(expect_ok=False)
        assert not c.connected.is_set()
        assert rc is None or rc.is_failure
    finally:
        c.close()


def test_unsigned_badly_signed_and_unknown_key_upgrades_get_403(
    guests: Guests, caplog: pytest.LogCaptureFixture
) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    caplog.set_level(logging.INFO, logger="iotws.emulator")
    identity, creds = guests.guest()
    good = presign_wss_url(f"ws://127.0.0.1:{guests.port}", "us-east-1", creds)
    unknown = presign_wss_url(
        f"ws://127.0.0.1:{guests.port}",
        "us-east-1",
        AwsCredentials("ASIANOBODY0000000000", "secret", "token"),
    )
    base = f"ws://127.0.0.1:{guests.port}/mqtt"
    bad = good.replace("X-Amz-Expires=900", "X-Amz-Expires=899")
    for url in (base, base + "?x-amz-customauthorizer-name=x", bad, unknown):
        with pytest.raises(InvalidStatus) as info:
            connect(url, subprotocols=["mqtt"], open_timeout=5).close()  # type: ignore[list-item]
        assert info.value.response.status_code == 403
    assert caplog.text.count("DENY upgrade sigv4") == 4
    assert "signature mismatch" in caplog.text and "unknown access key" in caplog.text
    with connect(good, subprotocols=["mqtt"], open_timeout=5) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "mqtt"
    assert f"identity={identity}" in caplog.text


def test_config_json_tells_the_page_where_cognito_is(guests: Guests) -> None:
    import urllib.request

    assert guests.emu.cognito is not None
    with urllib.request.urlopen(f"http://127.0.0.1:{guests.port}/config.json") as r:  # noqa: S310
        cfg = json.load(r)
    base = f"127.0.0.1:{guests.port}"
    assert cfg["identityPoolId"] == guests.emu.cognito.pool.pool_id
    assert cfg["region"] == "us-east-1"
    assert cfg["endpoint"] == f"ws://{base}"
    assert cfg["cognitoEndpoint"] == f"http://{base}/cognito"
