"""The HS256 secret (SSM, Secrets Manager, env; via moto) and the decision log."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

SECRET = b"test-secret-0123456789-abcdefghijklmnop"  # the conftest's secret
PARAMETER = "/demo/dev/jwt-secret"
SECRET_ID = "demo/dev/jwt"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def api_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every AWS API call made by clients the authorizer creates (operation names)."""
    calls: list[str] = []
    real_client = boto3.client

    def client(*args: Any, **kwargs: Any) -> Any:
        made = real_client(*args, **kwargs)
        made.meta.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
        return made

    monkeypatch.setattr(boto3, "client", client)
    return calls


def _with_source(config: dict[str, Any], source: str, name: str) -> dict[str, Any]:
    config["hs256"]["secret"] = {"source": source, "name": name}
    return config


def test_secret_from_ssm_is_fetched_once_per_container(
    aws: None,
    api_calls: list[str],
    make_authorizer: Any,
    config: dict[str, Any],
    mint: Callable[..., str],
    simple: Any,
    valid: Any,
) -> None:
    # GIVEN the secret in SSM Parameter Store as a SecureString
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value=SECRET.decode(), Type="SecureString")
    api_calls.clear()
    authorizer = make_authorizer(_with_source(config, "ssm", PARAMETER))
    # WHEN three clients connect (and one with a forged token)
    for _ in range(3):
        valid(authorizer(simple(mint())), allowed=True)
    valid(authorizer(simple(mint(key=b"x" * 40))), allowed=False)
    # THEN one GetParameter call in all
    assert api_calls == ["GetParameter"]


def test_secret_from_secrets_manager_string(
    aws: None,
    api_calls: list[str],
    make_authorizer: Any,
    config: dict[str, Any],
    mint: Callable[..., str],
    simple: Any,
    valid: Any,
) -> None:
    boto3.client("secretsmanager").create_secret(Name=SECRET_ID, SecretString=SECRET.decode())
    api_calls.clear()
    authorizer = make_authorizer(_with_source(config, "secretsmanager", SECRET_ID))
    valid(authorizer(simple(mint())), allowed=True)
    valid(authorizer(simple(mint())), allowed=True)
    assert api_calls == ["GetSecretValue"]


def test_secret_from_secrets_manager_binary(
    aws: None, make_authorizer: Any, config: dict[str, Any], mint: Callable[..., str], simple: Any
) -> None:
    key = bytes(range(48))
    boto3.client("secretsmanager").create_secret(Name=SECRET_ID, SecretBinary=key)
    authorizer = make_authorizer(_with_source(config, "secretsmanager", SECRET_ID))
    assert authorizer(simple(mint(key=key)))["isAuthenticated"] is True


def test_missing_secret_denies_and_is_retried(
    aws: None,
    api_calls: list[str],
    make_authorizer: Any,
    config: dict[str, Any],
    mint: Callable[..., str],
    simple: Any,
    valid: Any,
) -> None:
    authorizer = make_authorizer(_with_source(config, "ssm", PARAMETER))
    valid(authorizer(simple(mint())), allowed=False)
    assert authorizer.reason == "secret_unavailable"
    # a failure is not cached: once the parameter exists, the next request works
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value=SECRET.decode(), Type="SecureString")
    valid(authorizer(simple(mint())), allowed=True)
    assert api_calls.count("GetParameter") == 2


def test_anonymous_clients_need_no_secret(
    aws: None,
    api_calls: list[str],
    make_authorizer: Any,
    config: dict[str, Any],
    simple: Any,
    valid: Any,
) -> None:
    authorizer = make_authorizer(_with_source(config, "ssm", PARAMETER))
    valid(authorizer(simple(client_id="anon-1")), allowed=True)
    assert api_calls == []


def test_short_secret_is_refused(
    make_authorizer: Any,
    config: dict[str, Any],
    mint: Callable[..., str],
    simple: Any,
    valid: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IOTWS_TEST_JWT_SECRET", "short")
    authorizer = make_authorizer(config)
    valid(authorizer(simple(mint(key=b"short"))), allowed=False)
    assert authorizer.reason == "config_error"


def test_unset_env_secret_denies(
    make_authorizer: Any,
    config: dict[str, Any],
    mint: Callable[..., str],
    simple: Any,
    valid: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("IOTWS_TEST_JWT_SECRET")
    authorizer = make_authorizer(config)
    valid(authorizer(simple(mint())), allowed=False)
    assert authorizer.reason == "secret_unavailable"


def test_override_replaces_every_source(
    api_calls: list[str],
    make_authorizer: Any,
    config: dict[str, Any],
    mint: Callable[..., str],
    simple: Any,
    valid: Any,
) -> None:
    from iotws_authorizer import secrets

    other = b"emulator-secret-0123456789-abcdefghij"
    authorizer = make_authorizer(_with_source(config, "ssm", PARAMETER))
    secrets.set_override(other)
    valid(authorizer(simple(mint(key=other))), allowed=True)
    valid(authorizer(simple(mint())), allowed=False)
    assert api_calls == []
    with pytest.raises(TypeError):
        secrets.set_override("text")  # type: ignore[arg-type]


# ------------------------------------------------------------------ the decision log


def test_one_log_line_per_decision_without_secrets(
    make_authorizer: Any,
    config: dict[str, Any],
    mint: Callable[..., str],
    event: Any,
    valid: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN the default sink (stdout, i.e. CloudWatch Logs)
    authorizer = make_authorizer(config, capture_logs=False)
    good = mint(sub="alice_secret_subject")
    forged = mint(sub="mallory", key=b"forged-key-0123456789-abcdefghijklmno")
    events = [
        event("mqtt_password.json", good, clientId="u-alice_secret_subject-1"),
        event("wss_query.json", forged),
        event("mqtt_username_query.json", good),
    ]
    # WHEN three requests are decided
    responses = [authorizer(ev) for ev in events]
    # THEN three JSON lines with the documented keys and nothing sensitive
    valid(responses[0], allowed=True)
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 3
    assert [line["decision"] for line in lines] == ["allow", "deny", "deny"]
    assert [line["reason"] for line in lines] == ["ok", "bad_signature", "bad_client_id"]
    for line in lines:
        assert {"decision", "reason", "connection_id", "principal", "profile", "mode"} <= set(line)
    assert lines[0]["principal"] == responses[0]["principalId"]
    assert lines[1]["connection_id"] == "123456789"
    for needle in (
        good,
        forged,
        good.split(".")[1],  # the claims, encoded
        base64.b64encode(good.encode()).decode(),  # the MQTT password
        SECRET.decode(),
        "alice_secret_subject",
        "mallory",
    ):
        assert needle not in out


def test_log_line_for_a_config_error_names_the_field(
    make_authorizer: Any, config: dict[str, Any], simple: Any
) -> None:
    config["session"]["refresh_after_seconds"] = 5
    authorizer = make_authorizer(config)
    authorizer(simple(client_id="anon-1"))
    assert authorizer.last_log["reason"] == "config_error"
    assert "refresh_after_seconds" in authorizer.last_log["detail"]
    assert authorizer.last_log["mode"] is None


@pytest.mark.parametrize(
    ("meta", "expected"),
    [({"id": 42}, "42"), ({"id": {"x": 1}}, None), ([], None), ({"id": "c" * 500}, "c" * 128)],
)
def test_connection_id_is_logged_safely(
    authorizer: Any, simple: Any, meta: Any, expected: str | None
) -> None:
    ev = simple(client_id="anon-1")
    ev["connectionMetadata"] = meta
    authorizer(ev)
    assert authorizer.last_log["connection_id"] == expected
