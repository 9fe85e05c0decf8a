"""The backend publish helper (`lambda_src/iotws_publish`): IoT Core's limits checked before
the call, JSON encoding, endpoint discovered once, lazy client, throttling retried, and its
place in every backend Lambda zip (reproducible, importable from the zip)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

import iotws_publish
from iotws.errors import IotwsError
from iotws.package import build_function_zip, function_zip_bytes
from iotws_publish import MAX_PAYLOAD_BYTES, Publisher, PublishError, check_topic, encode_payload

ENDPOINT = "https://abc-ats.iot.us-east-1.amazonaws.com"


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("IOT_DATA_ENDPOINT", raising=False)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    iotws_publish.forget_endpoints()
    yield
    iotws_publish.forget_endpoints()


def stubbed(**kwargs: Any) -> tuple[Publisher, Stubber, list[float]]:
    client = boto3.client("iot-data", region_name="us-east-1", endpoint_url=ENDPOINT)
    sleeps: list[float] = []
    pub = Publisher(client=client, sleep=sleeps.append, jitter=lambda: 1.0, **kwargs)
    return pub, Stubber(client), sleeps


# ------------------------------------------------------------------------- limits


@pytest.mark.parametrize(
    "topic",
    ["a", "a/b/c/d/e/f/g/h", "x" * 256, "é" * 128, "$aws/things/t/shadow/update"],
)
def test_topics_within_the_limits(topic: str) -> None:
    assert check_topic(topic, allow_reserved=topic.startswith("$")) == topic


@pytest.mark.parametrize(
    ("topic", "needle"),
    [
        ("", "empty"),
        (None, "empty or not a string"),
        ("x" * 257, "257 bytes of UTF-8, IoT Core allows 256"),
        ("é" * 129, "258 bytes"),
        ("a/b/c/d/e/f/g/h/i", "8 slashes, IoT Core allows 7"),
        ("rooms/+/x", "wildcard"),
        ("rooms/#", "wildcard"),
        ("$aws/things/t/shadow/update", "starts with $"),
        ("a\x00b", "NUL"),
        ("\ud800", "not valid UTF-8"),
    ],
)
def test_topics_iot_would_refuse(topic: Any, needle: str) -> None:
    with pytest.raises(PublishError, match="topic") as err:
        check_topic(topic)
    assert needle in str(err.value)
    assert err.value.field == "topic" and err.value.fix


def test_payload_encoding_and_size() -> None:
    assert encode_payload(b"\x00\xff") == b"\x00\xff"
    assert encode_payload("héllo") == "héllo".encode()
    assert encode_payload({"text": "héllo", "n": [1, 2]}) == '{"text":"héllo","n":[1,2]}'.encode()
    assert len(encode_payload(b"x" * MAX_PAYLOAD_BYTES)) == 131072
    with pytest.raises(PublishError, match="131073 bytes, IoT Core allows 131072"):
        encode_payload(b"x" * (MAX_PAYLOAD_BYTES + 1))
    with pytest.raises(PublishError, match="payload: cannot be encoded as JSON"):
        encode_payload({"x": object()})
    with pytest.raises(PublishError, match="JSON"):
        encode_payload({"x": float("nan")})


def test_refused_before_any_call() -> None:
    pub, stubber, _ = stubbed()
    with stubber:  # no responses queued: any call would fail the stubber
        with pytest.raises(PublishError, match="wildcard"):
            pub.publish("a/+", {"x": 1})
        with pytest.raises(PublishError, match="payload"):
            pub.publish("a", b"x" * (MAX_PAYLOAD_BYTES + 1))
        with pytest.raises(PublishError, match="qos: 2 is not supported"):
            pub.publish("a", "x", qos=2)
    stubber.assert_no_pending_responses()


# ------------------------------------------------------------------------- the call


def test_publish_parameters_json_and_retain() -> None:
    pub, stubber, _ = stubbed()
    stubber.add_response("publish", {}, {"topic": "a/b", "qos": 1, "payload": b'{"k":"v"}'})
    stubber.add_response(
        "publish", {}, {"topic": "p", "qos": 0, "retain": True, "payload": b"text"}
    )
    with stubber:
        pub.publish("a/b", {"k": "v"})
        pub.publish("p", "text", qos=0, retain=True)
    stubber.assert_no_pending_responses()


def test_throttling_is_retried_with_backoff_then_succeeds() -> None:
    pub, stubber, sleeps = stubbed(base_delay=0.1, max_delay=0.3)
    for _ in range(3):
        stubber.add_client_error(
            "publish", service_error_code="ThrottlingException", http_status_code=429
        )
    stubber.add_response("publish", {}, None)
    with stubber:
        pub.publish("a", "x")
    stubber.assert_no_pending_responses()
    assert sleeps == [0.1, 0.2, 0.3]  # exponential, capped (jitter() = 1 here)


def test_throttling_gives_up_after_max_attempts() -> None:
    pub, stubber, sleeps = stubbed(max_attempts=3)
    for _ in range(3):
        stubber.add_client_error("publish", service_error_code="ThrottlingException")
    with stubber, pytest.raises(ClientError, match="ThrottlingException"):
        pub.publish("a", "x")
    assert len(sleeps) == 2


def test_other_errors_are_not_retried() -> None:
    pub, stubber, sleeps = stubbed()
    stubber.add_client_error(
        "publish", service_error_code="ForbiddenException", http_status_code=403
    )
    with stubber, pytest.raises(ClientError, match="ForbiddenException"):
        pub.publish("a", "x")
    assert sleeps == []


# ------------------------------------------------------------------------- endpoint, client


def test_client_is_lazy_and_endpoint_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pub = Publisher(region="us-east-1")
    assert pub._client is None
    monkeypatch.setenv("IOT_DATA_ENDPOINT", "abc-ats.iot.us-east-1.amazonaws.com")
    client = pub.client
    assert client.meta.endpoint_url == ENDPOINT
    assert pub.client is client
    assert Publisher(endpoint="http://127.0.0.1:8080/").endpoint_url() == "http://127.0.0.1:8080"


def test_endpoint_discovered_once_and_cached() -> None:
    with mock_aws():
        session = boto3.session.Session(region_name="eu-west-1")
        calls: list[str] = []
        session.events.register(
            "before-call.iot.DescribeEndpoint", lambda **kw: calls.append("describe")
        )
        first = Publisher(session=session).endpoint_url()
        second = Publisher(session=session).endpoint_url()
    assert first == second
    assert first.startswith("https://") and first.endswith("-ats.iot.eu-west-1.amazonaws.com")
    assert calls == ["describe"]


def test_module_level_publish_uses_one_publisher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(iotws_publish, "_default", None)
    assert iotws_publish.default_publisher() is iotws_publish.default_publisher()


# ------------------------------------------------------------------------- packaging


@pytest.mark.parametrize("name", ["chat_message", "presence"])
def test_backend_zips_carry_the_helper_reproducibly(name: str, tmp_path: Path) -> None:
    one = build_function_zip(name, tmp_path / "one.zip").read_bytes()
    two = function_zip_bytes(name)
    assert one == two
    with zipfile.ZipFile(tmp_path / "one.zip") as zf:
        names = zf.namelist()
    assert "app.py" in names and "iotws_publish/__init__.py" in names
    assert not any("__pycache__" in n for n in names)
    # The handler imports the helper from the zip alone (as Lambda would load it).
    script = (
        f"import sys; sys.path.insert(0, {str(tmp_path / 'one.zip')!r}); "
        "import app, iotws_publish; "
        "assert iotws_publish.__file__.startswith(sys.path[0]), iotws_publish.__file__; "
        "print(callable(app.handler))"
    )
    proc = subprocess.run(
        [sys.executable, "-I", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "True"


def test_the_helper_is_not_a_function() -> None:
    with pytest.raises(IotwsError, match="publish helper, not a function"):
        function_zip_bytes("iotws_publish")


def test_no_lambda_or_script_builds_its_own_iot_data_client() -> None:
    repo = Path(__file__).resolve().parents[2]
    sources = [
        *(repo / "lambda_src").glob("*/app.py"),
        *(repo / "examples").glob("*/scripts/*.py"),
    ]
    assert sources
    for path in sources:
        text = path.read_text(encoding="utf-8")
        assert 'client("iot-data"' not in text, f"{path} builds its own iot-data client"
