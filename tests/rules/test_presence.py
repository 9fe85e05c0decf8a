"""lambda_src/presence: order-safe, idempotent presence in DynamoDB (moto), published on change.

Lifecycle events may arrive out of order or twice, and a disconnect may come before its
connect (docs/lifecycle-events.md#ordering): the final state must not depend on arrival order.
"""

from __future__ import annotations

import contextlib
import io
import json
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import ENDPOINT

TOPIC = "chat/dev/presence"


def lifecycle(
    kind: str, client_id: str = "alice-tab1", version: int = 3, ts: int = 1_700_000_000_000
) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "clientId": client_id,
        "timestamp": ts,
        "eventType": kind,
        "sessionIdentifier": f"s-{client_id}-{version}",
        "principalIdentifier": "12345678901234567890123456789012",
        "versionNumber": version,
    }
    if kind == "disconnected":
        ev |= {"clientInitiatedDisconnect": True, "disconnectReason": "CLIENT_INITIATED_DISCONNECT"}
    else:
        ev["ipAddress"] = "192.0.2.0"
    return ev


def run(presence: ModuleType, ev: Any) -> dict[str, Any]:
    with contextlib.redirect_stdout(io.StringIO()):
        result: dict[str, Any] = presence.handler(ev, None)
    return result


def test_connect_marks_online_and_publishes_the_list(
    presence: ModuleType, load_event: Any, get_item: Any, published_messages: Any
) -> None:
    result = run(presence, load_event("presence_connected.json"))
    assert result == {
        "status": "changed",
        "client_id": "alice-tab1",
        "online": True,
        "topic": TOPIC,
    }
    item = get_item("alice-tab1")
    assert item["online"] == {"BOOL": True}
    assert item["version"] == {"N": "3"} and item["rank"] == {"N": "0"}
    assert item["online_key"] == {"S": "online"}
    assert "expires_at" not in item
    assert published_messages() == [
        (
            TOPIC,
            {
                "type": "presence",
                "change": {"client_id": "alice-tab1", "online": True, "ts": 1700000000000},
                "online": ["alice-tab1"],
                "truncated": False,
            },
        )
    ]


def test_connect_then_disconnect(
    presence: ModuleType, load_event: Any, get_item: Any, published_messages: Any
) -> None:
    run(presence, load_event("presence_connected.json"))
    result = run(presence, load_event("presence_disconnected.json"))
    assert result["status"] == "changed" and result["online"] is False
    item = get_item("alice-tab1")
    assert item["online"] == {"BOOL": False}
    assert item["disconnect_reason"] == {"S": "CLIENT_INITIATED_DISCONNECT"}
    assert "online_key" not in item and "expires_at" in item
    assert [m["online"] for _, m in published_messages()] == [["alice-tab1"], []]


def test_duplicate_event_changes_nothing(
    presence: ModuleType, load_event: Any, published_messages: Any
) -> None:
    run(presence, load_event("presence_connected.json"))
    assert run(presence, load_event("presence_connected.json"))["status"] == "stale"
    assert len(published_messages()) == 1


def test_disconnect_before_its_connect(
    presence: ModuleType, load_event: Any, get_item: Any, published_messages: Any
) -> None:
    # GIVEN the disconnect of connection 3 arrives first
    assert run(presence, load_event("presence_disconnected.json"))["status"] == "unchanged"
    # WHEN its connect arrives late
    assert run(presence, load_event("presence_connected.json"))["status"] == "stale"
    # THEN the client is offline and nobody was told it was ever online
    assert get_item("alice-tab1")["online"] == {"BOOL": False}
    assert published_messages() == []


def test_disconnect_wins_over_its_connect_whatever_the_timestamps(
    presence: ModuleType, get_item: Any
) -> None:
    run(presence, lifecycle("disconnected", ts=1_000))
    run(presence, lifecycle("connected", ts=2_000))  # same connection, skewed clock
    assert get_item("alice-tab1")["online"] == {"BOOL": False}


def test_newer_connection_beats_a_late_disconnect_of_the_older(
    presence: ModuleType, get_item: Any, published_messages: Any
) -> None:
    # a takeover (DUPLICATE_CLIENTID): connection 4 connects, then 3's disconnect arrives
    run(presence, lifecycle("connected", version=3, ts=1_000))
    run(presence, lifecycle("connected", version=4, ts=2_000))
    assert run(presence, lifecycle("disconnected", version=3, ts=2_001))["status"] == "stale"
    assert get_item("alice-tab1")["online"] == {"BOOL": True}
    assert get_item("alice-tab1")["version"] == {"N": "4"}
    assert len(published_messages()) == 1


def test_list_holds_every_online_client_sorted(
    presence: ModuleType, published_messages: Any
) -> None:
    run(presence, lifecycle("connected", client_id="carol-1"))
    run(presence, lifecycle("connected", client_id="bob-1"))
    run(presence, lifecycle("connected", client_id="alice-1"))
    run(presence, lifecycle("disconnected", client_id="bob-1"))
    assert published_messages()[-1][1]["online"] == ["alice-1", "carol-1"]


@pytest.mark.parametrize(
    ("ev", "reason"),
    [
        (["not", "an", "object"], "event_not_an_object"),
        ({"clientId": "a", "eventType": "connected", "timestamp": 1}, "version_number_invalid"),
        (
            {"clientId": "a", "eventType": "connected", "timestamp": 1, "versionNumber": True},
            "version_number_invalid",
        ),
        (
            {"clientId": "a", "eventType": "connected", "timestamp": -1, "versionNumber": 1},
            "timestamp_invalid",
        ),
        ({"eventType": "connected", "timestamp": 1, "versionNumber": 1}, "client_id_invalid"),
        (
            {"clientId": "x" * 129, "eventType": "connected", "timestamp": 1, "versionNumber": 1},
            "client_id_invalid",
        ),
        ({"clientId": "a", "eventType": "weird", "timestamp": 1}, "event_type_not_presence"),
    ],
)
def test_malformed_events_are_ignored(
    presence: ModuleType, published_messages: Any, ev: Any, reason: str
) -> None:
    assert run(presence, ev) == {"status": "ignored", "reason": reason}
    assert published_messages() == []


@pytest.mark.parametrize("name", ["presence_connect_failed.json", "presence_subscribed.json"])
def test_other_lifecycle_events_are_ignored(
    presence: ModuleType, load_event: Any, get_item: Any, name: str
) -> None:
    assert run(presence, load_event(name))["reason"] == "event_type_not_presence"
    assert get_item("alice-tab1") is None


def test_client_id_pattern_filters_other_apps(
    presence: ModuleType, get_item: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLIENT_ID_PATTERN", r"[A-Za-z0-9_.:@=|-]+-[A-Za-z0-9_.:@=|-]+")
    assert run(presence, lifecycle("connected", client_id="device7"))["status"] == "ignored"
    assert run(presence, lifecycle("connected", client_id="alice-tab1"))["status"] == "changed"
    assert get_item("device7") is None


def test_publish_is_retained_qos1(presence: ModuleType, load_event: Any) -> None:
    """retain and qos, which moto does not record, via botocore's Stubber (DynamoDB stays moto)."""
    client = boto3.client("iot-data", region_name="us-east-1", endpoint_url=ENDPOINT)
    stubber = Stubber(client)
    stubber.add_response("publish", {}, {"topic": TOPIC, "qos": 1, "retain": True, "payload": ANY})
    presence.set_client("iot-data", client)
    with stubber:
        assert run(presence, load_event("presence_connected.json"))["status"] == "changed"
    stubber.assert_no_pending_responses()


def test_publish_failure_keeps_the_state(
    presence: ModuleType, load_event: Any, get_item: Any
) -> None:
    client = boto3.client("iot-data", region_name="us-east-1", endpoint_url=ENDPOINT)
    stubber = Stubber(client)
    stubber.add_client_error("publish", service_error_code="ThrottlingException")
    presence.set_client("iot-data", client)
    with stubber:
        assert run(presence, load_event("presence_connected.json"))["status"] == "publish_failed"
    assert get_item("alice-tab1")["online"] == {"BOOL": True}


def test_log_line_is_json(presence: ModuleType, load_event: Any) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        presence.handler(load_event("presence_connected.json"), None)
    assert json.loads(out.getvalue()) == {
        "function": "presence",
        "status": "changed",
        "client_id": "alice-tab1",
        "online": True,
    }


# ---------------------------------------------------------------- any order, any duplicates


@st.composite
def histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    """In-order lifecycle events of 1..3 clients, each with 1..2 connections; the last
    connection of a client may still be open (no disconnect yet)."""
    events: list[dict[str, Any]] = []
    for client in draw(st.lists(st.sampled_from(["a-1", "b-1", "c-1"]), min_size=1, unique=True)):
        version = draw(st.integers(0, 5))
        ts = 1_000
        connections = draw(st.integers(1, 2))
        for n in range(connections):
            version += draw(st.integers(1, 3))
            ts += draw(st.integers(1, 1000))
            events.append(lifecycle("connected", client, version, ts))
            if n < connections - 1 or draw(st.booleans()):
                ts += draw(st.integers(1, 1000))
                events.append(lifecycle("disconnected", client, version, ts))
    return sorted(events, key=lambda e: e["timestamp"])


STATE_KEYS = ("online", "version", "rank", "event_ts", "disconnect_reason", "online_key")


def final_state(
    module: ModuleType, make_table: Any, events: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[Any]]:
    """Apply events one by one on a fresh table; the items' state and the messages sent.

    Runs inside the caller's mock_aws (starting moto per example would dominate the time).
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iotdata.models import iotdata_backends

    payloads = iotdata_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].published_payloads
    payloads.clear()
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    with contextlib.suppress(ddb.exceptions.ResourceNotFoundException):
        ddb.delete_table(TableName="chat-dev-presence")
    make_table()
    for ev in events:
        run(module, ev)
    items = ddb.scan(TableName="chat-dev-presence", ConsistentRead=True)["Items"]
    state = {i["client_id"]["S"]: {k: v for k, v in i.items() if k in STATE_KEYS} for i in items}
    return state, [json.loads(p) for _, p in payloads]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_order_and_duplicates_give_the_in_order_state(
    presence: ModuleType, make_table: Any, data: st.DataObject
) -> None:
    # GIVEN a history of connects and disconnects, in order
    in_order = data.draw(histories(), label="history")
    # AND the same events shuffled, some of them delivered twice or three times
    extra = data.draw(st.lists(st.sampled_from(in_order), max_size=4), label="dups")
    delivered = data.draw(st.permutations(in_order + extra + extra[:1]), label="delivered")

    # WHEN each sequence is applied to a fresh table
    expected, _ = final_state(presence, make_table, in_order)
    actual, sent = final_state(presence, make_table, delivered)

    # THEN the stored state is the same
    assert actual == expected
    # AND it is the latest connection's state: online iff its disconnect is missing
    for client, item in actual.items():
        events = [e for e in in_order if e["clientId"] == client]
        latest = max(e["versionNumber"] for e in events)
        closed = any(
            e["versionNumber"] == latest and e["eventType"] == "disconnected" for e in events
        )
        assert item["online"] == {"BOOL": not closed}
        assert item["version"] == {"N": str(latest)}
    # AND the last list published is the final list of online clients (nothing when nobody
    # was ever seen online)
    online = sorted(c for c, item in actual.items() if item["online"]["BOOL"])
    if sent:
        assert sent[-1]["online"] == online
    else:
        assert online == []
    # AND each message announced a real change of one client's flag
    flags: dict[str, bool] = {}
    for message in sent:
        change = message["change"]
        assert flags.get(change["client_id"], False) != change["online"]
        flags[change["client_id"]] = change["online"]


HOUR_MS = 3600 * 1000


def test_reconnect_after_the_version_reset_is_online(
    presence: ModuleType, get_item: Any, published_messages: Any
) -> None:
    # GIVEN a client that connected and left (connection 7)
    t0 = 1_700_000_000_000
    run(presence, lifecycle("connected", version=7, ts=t0))
    run(presence, lifecycle("disconnected", version=7, ts=t0 + 60_000))
    # WHEN it comes back more than an hour later: AWS has reset versionNumber to 0
    result = run(presence, lifecycle("connected", version=0, ts=t0 + 2 * HOUR_MS))
    # THEN it is online again, and the page was told
    assert result["status"] == "changed"
    item = get_item("alice-tab1")
    assert item["online"] == {"BOOL": True}
    assert item["version"] == {"N": "0"}
    assert item["session_id"] == {"S": "s-alice-tab1-0"}
    assert published_messages()[-1][1]["online"] == ["alice-tab1"]
    # AND the new run's own disconnect, then a late duplicate of the old run, keep order
    run(presence, lifecycle("disconnected", version=0, ts=t0 + 2 * HOUR_MS + 5_000))
    assert run(presence, lifecycle("connected", version=7, ts=t0))["status"] == "stale"
    assert get_item("alice-tab1")["online"] == {"BOOL": False}


def test_new_run_in_any_order_after_the_reset(presence: ModuleType, get_item: Any) -> None:
    t0 = 1_700_000_000_000
    run(presence, lifecycle("connected", version=9, ts=t0))
    run(presence, lifecycle("disconnected", version=9, ts=t0 + 1_000))
    # the new run's connect 1 and 2 arrive swapped, with a takeover disconnect of 1 last
    later = t0 + 3 * HOUR_MS
    run(presence, lifecycle("connected", version=2, ts=later + 2_000))
    run(presence, lifecycle("connected", version=1, ts=later))
    run(presence, lifecycle("disconnected", version=1, ts=later + 2_001))
    item = get_item("alice-tab1")
    assert item["online"] == {"BOOL": True}
    assert item["version"] == {"N": "2"}
