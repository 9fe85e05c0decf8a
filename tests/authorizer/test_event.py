"""The typed view of the custom-authorizer event (`iotws_authorizer.event`): what the
token lookup and the decision flow read, and what the emulator builds and sends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from iotws_authorizer.event import AuthorizerEvent
from iotws_emulator.auth import RequestInfo, build_event

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"
EVENTS = sorted(EVENTS_DIR.glob("*.json"))


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: p.stem)
def test_every_canned_event_round_trips(path: Path) -> None:
    """GIVEN an event as IoT sends it WHEN viewed THEN `to_dict()` gives it back as sent
    (HTTPS publishes carry no `mqtt` section: the view adds an empty one; the minimal
    test event lacks keys IoT always sends)."""
    raw: dict[str, Any] = json.loads(path.read_text())
    view = AuthorizerEvent.parse(raw)
    assert view is not None
    assert AuthorizerEvent.parse(view.to_dict()) == view
    if "protocols" in raw:
        expected = json.loads(json.dumps(raw))
        expected["protocolData"].setdefault("mqtt", {})
        assert view.to_dict() == expected


def test_the_fields_are_where_the_event_puts_them() -> None:
    raw = json.loads(
        (Path(__file__).resolve().parents[1] / "events/aws_doc_sample.json").read_text()
    )
    view = AuthorizerEvent.parse(raw)
    assert view == AuthorizerEvent(
        token="aToken",
        signature_verified=False,
        protocols=("tls", "http", "mqtt"),
        server_name="serverName",
        headers={"#{name}": "#{value}"},
        query_string="?#{name}=#{value}",
        username="myUserName",
        password="myPassword",
        client_id="myClientId",
        connection_id="e56f08c3-c559-490f-aa9f-7e8427d0f57b",
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([], None),
        ("token", None),
        (None, None),
        ({}, AuthorizerEvent()),
        ({"protocolData": []}, AuthorizerEvent()),
        ({"protocolData": {"http": "x", "mqtt": 1}}, AuthorizerEvent()),
        ({"protocolData": {"http": {"headers": []}}}, AuthorizerEvent(headers={})),
        # carriers keep the value as sent: a wrong type is a malformed token, not no token
        (
            {"token": 7, "protocolData": {"mqtt": {"clientId": 5}}},
            AuthorizerEvent(token=7, client_id=5),
        ),
        ({"connectionMetadata": {"id": True}}, AuthorizerEvent()),
        ({"connectionMetadata": {"id": 42}}, AuthorizerEvent(connection_id="42")),
        ({"connectionMetadata": {"id": "x" * 300}}, AuthorizerEvent(connection_id="x" * 128)),
        ({"signatureVerified": "true"}, AuthorizerEvent()),
    ],
)
def test_the_view_is_lenient_on_containers(raw: Any, expected: AuthorizerEvent | None) -> None:
    assert AuthorizerEvent.parse(raw) == expected


@pytest.mark.parametrize("transport", ["wss", "tcp"])
def test_the_emulator_builds_the_view_it_sends(transport: str) -> None:
    """GIVEN a connection the emulator accepted WHEN it builds the event THEN the Lambda
    receives `to_dict()` of a view, and the authorizer reads the same view back."""
    info = RequestInfo(
        transport=transport,
        query="x-amz-customauthorizer-name=A&token=T1" if transport == "wss" else "",
        headers=(("host", "localhost"),),
    )
    event = build_event(
        info,
        client_id="alice-1",
        username="u?token=T2",
        password=b"T3",
        token_key_name="token",
        connection_id="c-1",
    )
    assert isinstance(event, AuthorizerEvent)
    sent = event.to_dict()
    assert AuthorizerEvent.parse(sent) == event
    assert sent["protocolData"]["mqtt"] == {
        "username": "u?token=T2",
        "password": "VDM=",
        "clientId": "alice-1",
    }
    assert sent["connectionMetadata"] == {"id": "c-1"}
    if transport == "wss":
        assert sent["protocols"] == ["tls", "http", "mqtt"]
        assert sent["protocolData"]["http"]["queryString"].startswith("?")
        assert sent["token"] == "T1"
    else:
        assert sent["protocols"] == ["tls", "mqtt"] and "http" not in sent["protocolData"]
        assert sent["token"] == "T2"
