"""lambda_src/chat_message: validation, bounds and fan-out to the room topic (moto iot-data)."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from .conftest import ENDPOINT


def test_valid_message_is_published_to_the_room_topic(
    chat: ModuleType, context: Any, load_event: Any, published_messages: Any
) -> None:
    # GIVEN a rule event for room "lobby"
    # WHEN the handler runs
    result = chat.handler(load_event("chat_ok.json"), context)
    # THEN one message goes to <prefix>/rooms/lobby/messages, carrying the request id
    assert result == {
        "status": "published",
        "topic": "chat/dev/rooms/lobby/messages",
        "id": context.aws_request_id,
    }
    assert published_messages() == [
        (
            "chat/dev/rooms/lobby/messages",
            {
                "id": context.aws_request_id,
                "room": "lobby",
                "client_id": "alice-tab1",
                "text": "hello, lobby",
                "ts": 1700000000000,
            },
        )
    ]


def test_publish_parameters(chat: ModuleType, context: Any, load_event: Any) -> None:
    """qos and the exact topic, which moto does not record, via botocore's Stubber."""
    client = boto3.client("iot-data", region_name="us-east-1", endpoint_url=ENDPOINT)
    stubber = Stubber(client)
    stubber.add_response(
        "publish",
        {},
        {"topic": "chat/dev/rooms/lobby/messages", "qos": 1, "payload": ANY},
    )
    chat.set_iot_data_client(client)
    with stubber:
        assert chat.handler(load_event("chat_ok.json"), context)["status"] == "published"
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("chat_oversized.json", "text_too_long"),
        ("chat_no_client_id.json", "client_id_missing"),
        ("chat_not_json_object.json", "event_not_an_object"),
        ("chat_text_not_string.json", "text_not_a_string"),
        ("chat_bad_room.json", "room_invalid"),
    ],
)
def test_bad_events_are_rejected_without_raising(
    chat: ModuleType,
    context: Any,
    load_event: Any,
    published_messages: Any,
    name: str,
    reason: str,
) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        result = chat.handler(load_event(name), context)
    assert result == {"status": "rejected", "reason": reason}
    assert published_messages() == []
    log = json.loads(out.getvalue())
    assert log["status"] == "rejected" and log["reason"] == reason
    # the log never carries the message text
    assert "text" not in log and "x" * 50 not in out.getvalue()


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        ({"text": None}, "text_missing"),
        ({"text": ""}, "text_empty"),
        ({"text": " \u0000\u0007 \u202e "}, "text_empty"),
        ({"client_id": None}, "client_id_missing"),
        ({"client_id": ""}, "client_id_missing"),
        ({"client_id": "$aws-x"}, "client_id_invalid"),
        ({"client_id": "a" * 129}, "client_id_invalid"),
        ({"client_id": "bad\ud800"}, "client_id_invalid"),
        ({"client_id": "bad\nid"}, "client_id_invalid"),
        ({"room": None}, "room_invalid"),
        ({"room": "a/b"}, "room_invalid"),
        ({"room": "+"}, "room_invalid"),
        ({"room": "r" * 65}, "room_invalid"),
        ({"room": "lobby\n"}, "room_invalid"),
    ],
)
def test_field_bounds(
    chat: ModuleType, context: Any, load_event: Any, patch: dict[str, Any], reason: str
) -> None:
    ev = load_event("chat_ok.json") | patch
    assert chat.handler(ev, context) == {"status": "rejected", "reason": reason}


def test_text_limits_are_inclusive(
    chat: ModuleType, context: Any, load_event: Any, published_messages: Any
) -> None:
    ev = load_event("chat_ok.json")
    assert chat.handler(ev | {"text": "y" * 1000}, context)["status"] == "published"
    assert chat.handler(ev | {"text": "z"}, context)["status"] == "published"
    assert [m["text"] for _, m in published_messages()] == ["y" * 1000, "z"]


def test_control_and_bidi_characters_are_stripped(
    chat: ModuleType, context: Any, load_event: Any, published_messages: Any
) -> None:
    chat.handler(load_event("chat_control_chars.json"), context)
    ((_, message),) = published_messages()
    assert message["text"] == "hi there\nevil\tend"


def test_unicode_text_is_kept(
    chat: ModuleType, context: Any, load_event: Any, published_messages: Any
) -> None:
    chat.handler(load_event("chat_ok.json") | {"text": "héllo 👋 世界"}, context)
    ((_, message),) = published_messages()
    assert message["text"] == "héllo 👋 世界"


def test_missing_timestamp_is_filled(chat: ModuleType, context: Any, load_event: Any) -> None:
    ev = load_event("chat_ok.json")
    del ev["ts"]
    client = boto3.client("iot-data", region_name="us-east-1", endpoint_url=ENDPOINT)
    sent: list[dict[str, Any]] = []
    client.meta.events.register(
        "provide-client-params.iot-data.Publish", lambda params, **_: sent.append(params)
    )
    chat.set_iot_data_client(client)
    chat.handler(ev, context)
    assert json.loads(sent[0]["payload"])["ts"] > 1_700_000_000_000


def test_empty_prefix(
    chat: ModuleType,
    context: Any,
    load_event: Any,
    published_messages: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOPIC_PREFIX", "")
    assert chat.handler(load_event("chat_ok.json"), context)["topic"] == "rooms/lobby/messages"


def test_publish_failure_raises_for_lambda_retry(
    chat: ModuleType, context: Any, load_event: Any
) -> None:
    client = boto3.client("iot-data", region_name="us-east-1", endpoint_url=ENDPOINT)
    stubber = Stubber(client)
    # The publish helper retries throttling (5 attempts in all), then raises for Lambda's retry.
    for _ in range(5):
        stubber.add_client_error(
            "publish", service_error_code="ThrottlingException", http_status_code=429
        )
    chat.set_iot_data_client(client)
    with stubber, pytest.raises(ClientError):
        chat.handler(load_event("chat_ok.json"), context)
    stubber.assert_no_pending_responses()


def test_client_is_lazy_and_uses_the_endpoint(
    chat: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert chat._publisher._client is None  # nothing created at import
    monkeypatch.setenv("IOT_DATA_ENDPOINT", "abc-ats.iot.us-east-1.amazonaws.com")
    client = chat.iot_data_client()
    assert client.meta.endpoint_url == "https://abc-ats.iot.us-east-1.amazonaws.com"
    assert chat.iot_data_client() is client
