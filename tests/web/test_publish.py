"""The example's scripts/publish.py against a local stand-in for IoT's data endpoint."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from urllib.parse import parse_qs, urlsplit

import pytest
from moto import mock_aws

from .conftest import FakeIotData

SPEC = """\
version: 1
app: demo
stage: dev
authorizer:
  mode: public
  public: {profile: guest}
profiles:
  guest: {client_id: "anon-*", subscribe: [server], publish: [client]}
"""


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "access.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _real_looking_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # Credentials a developer might have: the script must not send them to 127.0.0.1.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEDEVELOPER")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")


def test_publishes_to_prefix_server_with_qos_retain_and_sigv4(
    publish_module: ModuleType, fake_iot_data: FakeIotData, spec_file: Path
) -> None:
    # GIVEN a spec whose prefix is demo/dev WHEN publishing with qos 1 and retain
    rc = publish_module.main(
        [
            "--spec",
            str(spec_file),
            "--endpoint-url",
            fake_iot_data.url,
            "--qos",
            "1",
            "--retain",
            "--message",
            '{"text": "hi"}',
        ]
    )
    # THEN one signed POST /topics/{url-encoded topic}?qos=1&retain=true carries the body
    assert rc == 0
    assert len(fake_iot_data.requests) == 1
    req = fake_iot_data.requests[0]
    url = urlsplit(req.path)
    assert req.method == "POST"
    assert url.path == "/topics/demo%2Fdev%2Fserver"
    assert parse_qs(url.query) == {"qos": ["1"], "retain": ["true"]}
    assert req.body == b'{"text": "hi"}'
    auth = req.headers["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=testing/")
    # Loopback: dummy credentials and the local region, whatever the environment says.
    assert "/us-east-1/iotdata/aws4_request" in auth
    assert "AKIAEXAMPLEDEVELOPER" not in auth
    assert "x-amz-date" in req.headers


def test_topic_levels_and_unicode_are_url_encoded(
    publish_module: ModuleType, fake_iot_data: FakeIotData
) -> None:
    rc = publish_module.main(
        [
            "--prefix",
            "shop/prod",
            "--topic",
            "rooms/a b/ü",
            "--endpoint-url",
            fake_iot_data.url,
            "--message",
            "x",
        ]
    )
    assert rc == 0
    url = urlsplit(fake_iot_data.requests[0].path)
    assert url.path == "/topics/shop%2Fprod%2Frooms%2Fa%20b%2F%C3%BC"
    assert parse_qs(url.query).get("qos") == ["0"]
    assert parse_qs(url.query).get("retain", ["false"]) == ["false"]


def test_absolute_topic_and_empty_prefix(
    publish_module: ModuleType, fake_iot_data: FakeIotData, tmp_path: Path
) -> None:
    spec = tmp_path / "access.yaml"
    spec.write_text(SPEC.replace("stage: dev\n", 'stage: dev\ntopic_prefix: ""\n'))
    assert publish_module.main(["--spec", str(spec), "--endpoint-url", fake_iot_data.url]) == 0
    assert (
        publish_module.main(["--absolute", "--topic", "x/y", "--endpoint-url", fake_iot_data.url])
        == 0
    )
    paths = [urlsplit(r.path).path for r in fake_iot_data.requests]
    assert paths == ["/topics/server", "/topics/x%2Fy"]
    # The default message is JSON text.
    assert fake_iot_data.requests[0].body.startswith(b'{"text": "hello from the backend"')


def test_server_error_is_reported_not_raised(
    publish_module: ModuleType,
    fake_iot_data: FakeIotData,
    spec_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_iot_data.status = 403
    fake_iot_data.response = {"message": "not allowed to publish"}
    rc = publish_module.main(["--spec", str(spec_file), "--endpoint-url", fake_iot_data.url])
    assert rc == 1
    assert "publish.py: error:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--spec", "/nonexistent/access.yaml"], "--spec: cannot read"),
        (["--prefix", "demo/dev", "--topic", "rooms/+/x"], "wildcard"),
        (["--prefix", "demo/dev", "--topic", " "], "empty topic"),
        (["--prefix", "demo/dev", "--endpoint-url", "ftp://127.0.0.1"], "--endpoint-url"),
    ],
)
def test_usage_errors_name_the_flag(
    publish_module: ModuleType,
    fake_iot_data: FakeIotData,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    needle: str,
) -> None:
    if "--endpoint-url" not in argv:
        argv = [*argv, "--endpoint-url", fake_iot_data.url]
    assert publish_module.main(argv) == 2
    assert needle in capsys.readouterr().err
    assert fake_iot_data.requests == []


def test_spec_without_prefix_or_app_is_refused(publish_module: ModuleType, tmp_path: Path) -> None:
    spec = tmp_path / "access.yaml"
    spec.write_text("version: 1\n")
    with pytest.raises(publish_module.UsageError, match="--prefix"):
        publish_module.prefix_from_spec(spec)


def test_default_endpoint_is_the_accounts_ats_endpoint(publish_module: ModuleType) -> None:
    # Same call as `aws iot describe-endpoint --endpoint-type iot:Data-ATS` (moto fakes it).
    with mock_aws():
        session = publish_module.make_session(None, "eu-west-1")
        url = publish_module.resolve_endpoint_url(session, None, None)
    assert url.startswith("https://")
    assert url.endswith("-ats.iot.eu-west-1.amazonaws.com")


def test_explicit_endpoint_host_becomes_https(publish_module: ModuleType) -> None:
    url = publish_module.resolve_endpoint_url(None, "abc-ats.iot.eu-west-1.amazonaws.com", None)
    assert url == "https://abc-ats.iot.eu-west-1.amazonaws.com"
