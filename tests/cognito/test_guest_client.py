"""The guest client end to end, offline: moto's Cognito identity hands out guest
credentials, the client presigns its URL, and a presign-verifying stand-in of the IoT
data plane (fixture `standin`) accepts the connection only when the signature is right.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import json
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from iotws.paths import examples_dir
from iotws.presign import AwsCredentials, presign_wss_url

SCRIPT = examples_dir() / "cognito-unauth" / "scripts" / "guest_client.py"
REGION = "us-east-1"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("iotws_example_guest_client", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def pool(moto_server: str, aws_env: None) -> str:
    admin = boto3.client("cognito-identity", region_name=REGION, endpoint_url=moto_server)
    created = admin.create_identity_pool(
        IdentityPoolName="guests_dev", AllowUnauthenticatedIdentities=True
    )
    pool_id: str = created["IdentityPoolId"]
    return pool_id


def guest_creds(moto_server: str, pool_id: str) -> AwsCredentials:
    """Credentials as the client will get them (the stand-in must know the secret)."""
    c = boto3.client(
        "cognito-identity",
        region_name=REGION,
        endpoint_url=moto_server,
        config=Config(signature_version=UNSIGNED),
    )
    identity = c.get_id(IdentityPoolId=pool_id)["IdentityId"]
    return AwsCredentials.from_cognito(
        c.get_credentials_for_identity(IdentityId=identity)["Credentials"]
    )


def test_moto_supports_the_enhanced_flow(moto_server: str, pool: str) -> None:
    module = load_script()
    identity_id, creds = module.guest_credentials(pool, REGION, moto_server)
    assert identity_id.startswith(f"{REGION}:")
    assert creds.access_key and creds.secret_key and creds.token


def test_guest_client_connects_subscribes_and_gets_its_echo(
    moto_server: str, pool: str, standin: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    creds = guest_creds(moto_server, pool)
    standin.secrets[creds.access_key] = creds.secret_key
    module = load_script()
    rc = module.main(
        [
            "--endpoint",
            standin.endpoint,
            "--region",
            REGION,
            "--identity-pool-id",
            pool,
            "--cognito-endpoint-url",
            moto_server,
            "--subscribe",
            "guests/dev/guests/{identity_id}/inbox",
            "--publish",
            "guests/dev/guests/{identity_id}/inbox",
            "--message",
            "hi",
            "--expect",
            "1",
            "--timeout",
            "10",
        ]
    )
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rc == 0, out
    identity = out["identity_id"]
    assert out["client_id"] == f"guest-{identity}"
    assert out["messages"] == [{"topic": f"guests/dev/guests/{identity}/inbox", "payload": "hi"}]
    # what the stand-in saw: one valid presigned upgrade carrying the session token
    assert standin.rejected == []
    assert len(standin.accepted) == 1
    assert standin.accepted[0]["X-Amz-Security-Token"] == creds.token
    assert standin.accepted[0]["X-Amz-Credential"].split("/")[3] == "iotdevicegateway"
    assert standin.client_ids == [f"guest-{identity}"]
    assert standin.subscriptions == [f"guests/dev/guests/{identity}/inbox"]


def test_guest_client_is_refused_with_a_wrong_signature(
    moto_server: str, pool: str, standin: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    creds = guest_creds(moto_server, pool)
    standin.secrets[creds.access_key] = creds.secret_key + "-not-the-secret"
    module = load_script()
    rc = module.main(
        [
            "--endpoint",
            standin.endpoint,
            "--region",
            REGION,
            "--identity-pool-id",
            pool,
            "--cognito-endpoint-url",
            moto_server,
            "--timeout",
            "3",
        ]
    )
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rc == 1 and not out["ok"]
    assert standin.accepted == [] and standin.rejected == ["signature mismatch"]
    assert standin.client_ids == []


async def _try_connect(url: str) -> str:
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    try:
        async with connect(url, subprotocols=["mqtt"], open_timeout=5):  # type: ignore[list-item]
            return "open"
    except InvalidStatus as exc:
        return f"refused {exc.response.status_code}"


def test_standin_accepts_only_valid_presigned_urls(standin: Any) -> None:
    creds = AwsCredentials("ASIAGUEST", "guest-secret", "session/token+1=")
    standin.secrets["ASIAGUEST"] = "guest-secret"
    now = dt.datetime.now(dt.UTC)
    good = presign_wss_url(standin.endpoint, REGION, creds, now=now)
    expired = presign_wss_url(
        standin.endpoint, REGION, creds, expires=60, now=now - dt.timedelta(minutes=5)
    )
    base, _, token = good.partition("&X-Amz-Security-Token=")
    head, _, sig = base.partition("&X-Amz-Signature=")
    token_first = f"{head}&X-Amz-Security-Token={token}&X-Amz-Signature={sig}"
    other_key = presign_wss_url(standin.endpoint, REGION, AwsCredentials("ASIAX", "s"), now=now)
    other_host = presign_wss_url(f"ws://localhost:{standin.port}", REGION, creds, now=now).replace(
        "localhost", "127.0.0.1"
    )

    async def attempts() -> list[str]:
        return [await _try_connect(u) for u in (good, expired, token_first, other_key, other_host)]

    assert asyncio.run(attempts()) == ["open"] + ["refused 403"] * 4
    assert standin.rejected == [
        "expired",
        "session token before the signature",
        "unknown access key",
        "signature mismatch",
    ]
