"""The emulator with the real packaged authorizer (the example's spec) and the real evaluator."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from emuhelpers import EXAMPLE_SPEC, Running

from iotws.build import generate
from iotws.invoke import load_authorizer
from iotws.package import build_authorizer_zip
from iotws.spec.model import load_spec
from iotws.tokens import claims_for, mint_hs256
from iotws_emulator.auth import binding_from_config
from iotws_emulator.config import EmulatorConfig
from iotws_emulator.policy import EvaluatorEngine
from iotws_emulator.server import Emulator, EmulatorThread

SECRET = b"emulator-test-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build")
    generate(EXAMPLE_SPEC, out)
    return build_authorizer_zip(EXAMPLE_SPEC, out / "authorizer.zip")


@pytest.fixture
def real(packaged: Path) -> Any:
    loaded = load_authorizer(packaged)
    loaded.set_secret_override(SECRET)
    binding = binding_from_config(loaded, loaded.config)
    config = EmulatorConfig(
        authorizers={binding.name: binding},
        engine=EvaluatorEngine(),
        default_authorizer=binding.name,
    )
    th = EmulatorThread(Emulator(config, tcp_port=0))
    th.start()
    yield Running(th), binding.name
    th.stop()


def token(sub: str = "alice") -> str:
    spec = load_spec(EXAMPLE_SPEC)
    return mint_hs256(SECRET, claims_for(spec, sub, "user"))


def test_guest_connects_and_is_confined(real: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="iotws.emulator")
    emu, name = real
    c = emu.client("anon-1", query=f"x-amz-customauthorizer-name={name}")
    c.connect()
    assert c.subscribe("seed/dev/server", "seed/dev/users/alice/#") == [1, 0x80]
    c.close()
    text = "\n".join(r.message for r in caplog.records)
    assert "ALLOW connect client=anon-1" in text and "profile=guest" in text
    assert "DENY subscribe client=anon-1 filter=seed/dev/users/alice/#: IMPLICIT_DENY" in text


def test_guest_client_id_rule_enforced(real: Any) -> None:
    emu, name = real
    c = emu.client("bob", query=f"x-amz-customauthorizer-name={name}")
    assert c.connect(expect_ok=False).is_failure


def test_user_token_private_channel_and_backend_publish(real: Any) -> None:
    emu, name = real
    alice = emu.client("u-alice-1", query=f"x-amz-customauthorizer-name={name}&token={token()}")
    alice.connect()
    assert alice.subscribe("seed/dev/users/alice/#", "seed/dev/users/bob/#") == [1, 0x80]
    import boto3

    iot = boto3.client(
        "iot-data",
        endpoint_url=emu.emu.http_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    iot.publish(topic="seed/dev/users/alice/inbox", qos=1, payload=b"for alice")
    assert alice.get().payload == b"for alice"
    alice.publish_acked("seed/dev/users/alice/out", b"ok")
    alice.publish("seed/dev/users/bob/out", b"nope", qos=1)
    assert alice.disconnected.wait(5)


def test_bad_token_is_refused_not_downgraded(real: Any) -> None:
    emu, name = real
    c = emu.client("anon-2", query=f"x-amz-customauthorizer-name={name}&token=not.a.jwt")
    assert c.connect(expect_ok=False).is_failure
    forged = mint_hs256(
        b"wrong-secret-wrong-secret-wrong!!", claims_for(load_spec(EXAMPLE_SPEC), "alice", "user")
    )
    c2 = emu.client("u-alice-2", query=f"x-amz-customauthorizer-name={name}&token={forged}")
    assert c2.connect(expect_ok=False).is_failure


def test_token_in_mqtt_password(real: Any) -> None:
    emu, name = real
    c = emu.client(
        "u-alice-3", query=f"x-amz-customauthorizer-name={name}", username="u", password=token()
    )
    c.connect()
    assert c.subscribe("seed/dev/users/alice/x") == [1]
