"""Chat backend: an IoT topic rule hands each client message to this Lambda, which checks it
and publishes it to the room's subscribers. Handler `app.handler`; stdlib + boto3 only.

Topic layout (relative to the access spec's topic prefix, e.g. `chat/dev`):

    rooms/<room>/messages/in   clients publish here (the rule's FROM); never delivered to clients
    rooms/<room>/messages      this Lambda publishes here; clients subscribe and receive

The rule (examples/chat) selects only what this function reads, so a client cannot smuggle
`room` or `client_id` in its payload (docs/rules-engine.md):

    SELECT text, topic(4) AS room, clientid() AS client_id, timestamp() AS ts
    FROM '<prefix>/rooms/+/messages/in'

Failure policy. The rule's Lambda action invokes asynchronously
(docs/rules-engine.md#lambda-action); an
exception makes Lambda retry the same event twice more. A malformed or oversized message
would fail the same way every time, so it is *rejected*: one JSON log line and a result
dict, no exception. A failed publish (throttling, endpoint not ready) is worth retrying, so
it raises; the retry carries the same request id, which is also the message id, so pages
can drop a duplicate.

Environment: `TOPIC_PREFIX` (e.g. `chat/dev`, may be empty), `IOT_DATA_ENDPOINT`
(`https://<id>-ats.iot.<region>.amazonaws.com`; without it the publish helper asks
DescribeEndpoint once).
"""

from __future__ import annotations

import json
import os
import re
import time
import unicodedata
import uuid
from typing import Any

from iotws_publish import Publisher

MAX_TEXT_CHARS = 1000
MAX_CLIENT_ID_BYTES = 128  # docs/data-plane.md#client-ids
# A `+` level of the rule's filter is one whole topic level; rooms are further restricted to
# the identity character set the kit uses everywhere (no wildcards, no `$`, no `/`).
ROOM_RE = re.compile(r"^[A-Za-z0-9_.:@=|-]{1,64}$")
# Bidirectional overrides and isolates: they can make a message display as something else.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
KEPT_CONTROLS = frozenset("\n\t")

# The kit's publish helper (lambda_src/iotws_publish, zipped with this function): endpoint
# from IOT_DATA_ENDPOINT, client created on first use, limits checked, throttling retried.
_publisher = Publisher()


def iot_data_client() -> Any:
    """The boto3 `iot-data` client, created on first use (no import-time side effects)."""
    return _publisher.client


def set_iot_data_client(client: Any) -> None:
    """Seam for tests: replace (or with None, reset) the cached client."""
    _publisher.set_client(client)


class Rejected(Exception):
    """A message that is refused for good: retrying would not help."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def clean_text(raw: object) -> str:
    """The message text without control and bidi-override characters; 1..MAX_TEXT_CHARS."""
    if not isinstance(raw, str):
        raise Rejected("text_not_a_string" if raw is not None else "text_missing")
    if len(raw) > MAX_TEXT_CHARS:
        raise Rejected("text_too_long")
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(
        ch
        for ch in text
        if ch in KEPT_CONTROLS
        or (unicodedata.category(ch) not in ("Cc", "Cs") and ch not in BIDI_CONTROLS)
    ).strip()
    if not text:
        raise Rejected("text_empty")
    return text


def check_client_id(raw: object) -> str:
    # clientid() is "n/a" when the message did not come over MQTT (docs/rules-engine.md).
    if not isinstance(raw, str) or not raw or raw == "n/a":
        raise Rejected("client_id_missing")
    # Control characters and lone surrogates first: the latter cannot even be encoded.
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in raw):
        raise Rejected("client_id_invalid")
    if len(raw.encode("utf-8")) > MAX_CLIENT_ID_BYTES or raw.startswith("$"):
        raise Rejected("client_id_invalid")
    return raw


def check_room(raw: object) -> str:
    if not isinstance(raw, str) or not ROOM_RE.fullmatch(raw):
        raise Rejected("room_invalid")
    return raw


def check_ts(raw: object) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
        return raw
    return int(time.time() * 1000)


def room_topic(prefix: str, room: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/rooms/{room}/messages" if prefix else f"rooms/{room}/messages"


def build_message(event: object, message_id: str) -> dict[str, Any]:
    """Validate a rule event and return the message to fan out; raises Rejected."""
    if not isinstance(event, dict):
        raise Rejected("event_not_an_object")
    return {
        "id": message_id,
        "room": check_room(event.get("room")),
        "client_id": check_client_id(event.get("client_id")),
        "text": clean_text(event.get("text")),
        "ts": check_ts(event.get("ts")),
    }


def _log(record: dict[str, Any]) -> None:
    print(json.dumps({"function": "chat_message", **record}, sort_keys=True))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Rule event in; the message is published to `<prefix>/rooms/<room>/messages`."""
    message_id = str(getattr(context, "aws_request_id", "") or uuid.uuid4())
    try:
        message = build_message(event, message_id)
    except Rejected as exc:
        # Never log the text: a log line names the reason and who sent it, nothing else.
        sender = event.get("client_id") if isinstance(event, dict) else None
        _log(
            {
                "status": "rejected",
                "reason": exc.reason,
                "client_id": sender if isinstance(sender, str) else None,
                "request_id": message_id,
            }
        )
        return {"status": "rejected", "reason": exc.reason}
    topic = room_topic(os.environ.get("TOPIC_PREFIX", ""), message["room"])
    # Raises on failure on purpose: Lambda's async retry (see the module docstring).
    _publisher.publish(topic, message, qos=1)
    _log(
        {
            "status": "published",
            "topic": topic,
            "client_id": message["client_id"],
            "chars": len(message["text"]),
            "request_id": message_id,
        }
    )
    return {"status": "published", "topic": topic, "id": message_id}
