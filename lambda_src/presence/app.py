"""Presence backend: who is online, kept in DynamoDB from IoT lifecycle events.

Handler `app.handler`; stdlib + boto3 only. Fed by the rule
`SELECT * FROM '$aws/events/presence/+/+'` (docs/lifecycle-events.md#topics).

Lifecycle events may arrive out of order or twice, and a disconnect may arrive before the
connect of the same connection; connect and disconnect of one connection share
`versionNumber` (https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html).
`versionNumber` is not monotonic forever: AWS resets it to 0 when a client id has not been
connected for about an hour. So two events are ordered in one of two ways:

- events less than RESET_GAP_MS apart (their `timestamp`s) belong to one run of version
  numbers and are ordered by the key

      (versionNumber, rank, timestamp)     rank: connected = 0, disconnected = 1

  which handles reordering and duplicates within seconds or minutes;
- events RESET_GAP_MS or more apart are ordered by `timestamp`: after a gap that long the
  client id may have started a new run at 0, and out-of-order delivery is not hours late.

The item of a client id keeps the state of the greatest event seen, written with a
conditional update that only succeeds for a strictly greater event. Consequences:

- a duplicate is not greater: the condition fails, nothing changes, nothing is published;
- a disconnect beats the connect of the same connection whatever the arrival order or
  timestamps (a connection that has ended stays ended);
- a newer connection (higher versionNumber, same run) beats everything of an older one;
- a reconnect after the reset (versionNumber 0, an hour or more later) beats the old run;
- within one run the final item is the maximum of the events seen, so any permutation or
  duplication of a set of events ends in the same state as the in-order sequence.

The `sessionIdentifier` of the winning event is stored with it (for operators reading the
table). Offline items expire (DynamoDB TTL `expires_at`, OFFLINE_TTL_SECONDS) so the table
does not grow forever; a duplicate that arrives after that would be taken as new.

A change of the online flag is published, retained, to `<prefix>/presence` with the list of
online client ids (a sparse index holds only online clients), so a page that subscribes
later gets the current list at once. Events whose flag does not change publish nothing.

Failure policy: a DynamoDB error raises, so Lambda's async retry runs the event again (safe:
the update is idempotent). A failed publish is logged, not raised: the state is stored, and
the next change publishes a complete list again.

Environment: `TABLE_NAME`, `TOPIC_PREFIX`, `IOT_DATA_ENDPOINT` (docs/backend-publish.md#endpoint),
optional `ONLINE_INDEX` (default `online`), optional `CLIENT_ID_PATTERN` (a regular
expression; events of other client ids are ignored: the lifecycle topics carry every client
of the account and region, not only this app's).
"""

from __future__ import annotations

import json
import os
import re
import time
import unicodedata
from typing import Any

from iotws_publish import Publisher, PublishError

RANKS = {"connected": 0, "disconnected": 1}
MAX_CLIENT_ID_BYTES = 128  # docs/data-plane.md#client-ids
MAX_LISTED = 500  # online ids in one presence message; the payload stays far below 128 KB
OFFLINE_TTL_SECONDS = 7 * 24 * 3600
# Events this far apart are ordered by timestamp, not versionNumber (reset after about an
# hour without a connection; see the module docstring).
RESET_GAP_MS = 30 * 60 * 1000
ONLINE_KEY = "online"

_clients: dict[str, Any] = {}
# The kit's publish helper (lambda_src/iotws_publish, zipped with this function): endpoint
# from IOT_DATA_ENDPOINT, client created on first use, limits checked, throttling retried.
_publisher = Publisher()


def _client(name: str) -> Any:
    """boto3 clients, created on first use (no import-time side effects)."""
    if name == "iot-data":
        return _publisher.client
    if name not in _clients:
        import boto3

        _clients[name] = boto3.client(name)
    return _clients[name]


def set_client(name: str, client: Any) -> None:
    """Seam for tests: replace a cached client ("dynamodb" or "iot-data")."""
    if name == "iot-data":
        _publisher.set_client(client)
    else:
        _clients[name] = client


def reset_clients() -> None:
    _clients.clear()
    _publisher.set_client(None)


def _log(record: dict[str, Any]) -> None:
    print(json.dumps({"function": "presence", **record}, sort_keys=True))


class Ignored(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _non_negative_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Ignored(f"{name}_invalid")
    return value


def parse_event(event: object) -> dict[str, Any]:
    """The fields this function uses, checked; raises Ignored for anything else."""
    if not isinstance(event, dict):
        raise Ignored("event_not_an_object")
    event_type = event.get("eventType")
    if event_type not in RANKS:
        # connect_failed, subscribed, unsubscribed: not presence changes.
        raise Ignored("event_type_not_presence")
    client_id = event.get("clientId")
    if (
        not isinstance(client_id, str)
        or not client_id
        or any(unicodedata.category(ch) in ("Cc", "Cs") for ch in client_id)
        or len(client_id.encode("utf-8")) > MAX_CLIENT_ID_BYTES
    ):
        raise Ignored("client_id_invalid")
    pattern = os.environ.get("CLIENT_ID_PATTERN")
    if pattern and not re.fullmatch(pattern, client_id):
        raise Ignored("client_id_not_this_app")
    parsed: dict[str, Any] = {
        "client_id": client_id,
        "online": event_type == "connected",
        "version": _non_negative_int(event.get("versionNumber"), "version_number"),
        "rank": RANKS[event_type],
        "ts": _non_negative_int(event.get("timestamp"), "timestamp"),
    }
    session = event.get("sessionIdentifier")
    if isinstance(session, str) and 0 < len(session) <= 128:
        parsed["session"] = session
    reason = event.get("disconnectReason")
    if isinstance(reason, str) and len(reason) <= 64:
        parsed["disconnect_reason"] = reason
    return parsed


def store(table: str, ev: dict[str, Any], now: float) -> dict[str, Any] | None:
    """Write the event if it is greater than the stored one (module docstring).

    Returns the previous item (possibly `{}`) when the write happened, None when the event was
    stale or a duplicate.
    """
    names = {"#v": "version", "#r": "rank", "#t": "event_ts", "#o": "online"}
    values: dict[str, Any] = {
        ":v": {"N": str(ev["version"])},
        ":r": {"N": str(ev["rank"])},
        ":t": {"N": str(ev["ts"])},
        ":o": {"BOOL": ev["online"]},
        ":u": {"N": str(int(now * 1000))},
        ":lo": {"N": str(ev["ts"] - RESET_GAP_MS)},
        ":hi": {"N": str(ev["ts"] + RESET_GAP_MS)},
    }
    sets = ["#v = :v", "#r = :r", "#t = :t", "#o = :o", "updated_at = :u"]
    removes = []
    if "session" in ev:
        values[":s"] = {"S": ev["session"]}
        sets.append("session_id = :s")
    else:
        removes.append("session_id")
    if ev["online"]:
        # Only online items carry the index key: the index lists exactly who is online.
        names["#k"] = "online_key"
        values[":k"] = {"S": ONLINE_KEY}
        sets.append("#k = :k")
        removes += ["expires_at", "disconnect_reason"]
    else:
        values[":e"] = {"N": str(int(now) + OFFLINE_TTL_SECONDS)}
        sets.append("expires_at = :e")
        removes.append("online_key")
        if "disconnect_reason" in ev:
            values[":d"] = {"S": ev["disconnect_reason"]}
            sets.append("disconnect_reason = :d")
        else:
            removes.append("disconnect_reason")
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    # Greater: nothing stored; or stored RESET_GAP_MS or more earlier (a new run may have
    # started at 0); or within the gap and a greater (version, rank, timestamp) key.
    condition = (
        "attribute_not_exists(#v) OR #t <= :lo"
        " OR (#t < :hi AND (#v < :v"
        " OR (#v = :v AND #r < :r)"
        " OR (#v = :v AND #r = :r AND #t < :t)))"
    )
    ddb = _client("dynamodb")
    try:
        response = ddb.update_item(
            TableName=table,
            Key={"client_id": {"S": ev["client_id"]}},
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_OLD",
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        return None
    old: dict[str, Any] = response.get("Attributes", {})
    return old


def online_clients(table: str, index: str) -> tuple[list[str], bool]:
    """Client ids in the sparse online index, at most MAX_LISTED; and whether truncated."""
    ddb = _client("dynamodb")
    found: list[str] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": "online_key = :k",
        "ExpressionAttributeValues": {":k": {"S": ONLINE_KEY}},
        "ProjectionExpression": "client_id",
    }
    while True:
        page = ddb.query(**kwargs)
        found += [item["client_id"]["S"] for item in page.get("Items", [])]
        if len(found) > MAX_LISTED:
            return sorted(found)[:MAX_LISTED], True
        if "LastEvaluatedKey" not in page:
            return sorted(found), False
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def presence_topic(prefix: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/presence" if prefix else "presence"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lifecycle event in; DynamoDB updated; a retained presence message when the flag changed."""
    try:
        ev = parse_event(event)
    except Ignored as exc:
        _log({"status": "ignored", "reason": exc.reason})
        return {"status": "ignored", "reason": exc.reason}

    table = os.environ["TABLE_NAME"]
    old = store(table, ev, time.time())
    if old is None:
        _log({"status": "stale", "client_id": ev["client_id"], "version": ev["version"]})
        return {"status": "stale", "client_id": ev["client_id"]}

    was_online = bool(old.get("online", {}).get("BOOL", False))
    if was_online == ev["online"]:
        _log({"status": "unchanged", "client_id": ev["client_id"], "online": ev["online"]})
        return {"status": "unchanged", "client_id": ev["client_id"], "online": ev["online"]}

    # The index is eventually consistent: make sure this change is reflected in the list.
    ids, truncated = online_clients(table, os.environ.get("ONLINE_INDEX", "online"))
    listed = set(ids)
    if ev["online"]:
        listed.add(ev["client_id"])
    else:
        listed.discard(ev["client_id"])
    message = {
        "type": "presence",
        "change": {"client_id": ev["client_id"], "online": ev["online"], "ts": ev["ts"]},
        "online": sorted(listed),
        "truncated": truncated,
    }
    topic = presence_topic(os.environ.get("TOPIC_PREFIX", ""))
    import botocore.exceptions

    try:
        _publisher.publish(topic, message, qos=1, retain=True)
    except (
        botocore.exceptions.BotoCoreError,
        botocore.exceptions.ClientError,
        PublishError,
    ) as exc:
        _log(
            {"status": "publish_failed", "client_id": ev["client_id"], "error": type(exc).__name__}
        )
        return {"status": "publish_failed", "client_id": ev["client_id"], "online": ev["online"]}
    _log({"status": "changed", "client_id": ev["client_id"], "online": ev["online"]})
    return {
        "status": "changed",
        "client_id": ev["client_id"],
        "online": ev["online"],
        "topic": topic,
    }
