"""The local console at `/console`: the emulator's counterpart of the AWS IoT console's MQTT
test client and Monitor page (docs: README "local console").

- `GET /console`: one self-contained page (no external script, style or font).
- `GET /console/state`: live connections (client id, principal, profile, connected since,
  subscriptions), the test client's filters, message and connection counts per second for
  the last 60 s, and the last event number.
- `GET /console/events?after=N`: the events after N (decisions, messages, messages received
  by the test client) from a bounded ring buffer; `dropped` tells when older ones were lost.
- `POST /console/publish` `{"topic", "qos", "payload"}`: publish as the backend (like
  `POST /topics`: IAM in AWS, not IoT policy; each subscriber still needs iot:Receive).
- `POST /console/subscribe` / `POST /console/unsubscribe` `{"filter"}`: the test client's
  subscriptions; as the backend, it sees every message whose topic matches.

It is a local development tool: requests from another origin, or with a Host header that
is not the emulator's own loopback address and port (DNS rebinding), are refused with 403
and a reason (`server.host_refusal`, `server.cross_origin_refusal`). It never shows
tokens, secrets or request headers: only client ids, principals, profiles and topics.
"""

from __future__ import annotations

import json
import time
from collections import deque
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from iotws.iot.topics import matches, topic_filter_error
from iotws_emulator.broker import Broker, Decided, Published
from iotws_emulator.console_page import PAGE

MAX_EVENTS = 1000  # the ring buffer: at most this many recent events are kept
MAX_PAYLOAD_SHOWN = 1024  # characters of a payload kept for display
MAX_FILTERS = 16  # test client subscriptions
RATE_WINDOW = 60  # seconds of history for the charts


class _Rate:
    """Counts per wall-clock second for the last RATE_WINDOW seconds."""

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}

    def add(self, now: float) -> None:
        sec = int(now)
        self._counts[sec] = self._counts.get(sec, 0) + 1
        if len(self._counts) > RATE_WINDOW + 2:
            for old in [k for k in self._counts if k <= sec - RATE_WINDOW]:
                del self._counts[old]

    def series(self, now: float) -> list[int]:
        sec = int(now)
        return [self._counts.get(s, 0) for s in range(sec - RATE_WINDOW + 1, sec + 1)]


def _payload_text(payload: bytes) -> str:
    text = payload[: MAX_PAYLOAD_SHOWN * 4].decode("utf-8", errors="replace")
    if len(text) > MAX_PAYLOAD_SHOWN:
        text = text[:MAX_PAYLOAD_SHOWN] + "…"
    return text


class Console:
    """Observes one broker; answers the console's HTTP requests."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.events: deque[dict[str, Any]] = deque(maxlen=MAX_EVENTS)
        self.seq = 0
        self.filters: list[str] = []
        self.messages = _Rate()
        self.connections = _Rate()
        broker.add_listener(self._on_published)
        broker.add_decision_listener(self._on_decided)

    # ----------------------------------------------------------------- observing

    def _add(self, kind: str, **fields: Any) -> None:
        self.seq += 1
        self.events.append({"seq": self.seq, "t": round(time.time(), 3), "kind": kind, **fields})

    def _on_published(self, p: Published) -> None:
        now = time.time()
        self.messages.add(now)
        payload = _payload_text(p.payload)
        self._add(
            "message",
            topic=p.topic,
            qos=p.qos,
            retain=p.retain,
            source=p.source,
            client=p.client_id,
            bytes=len(p.payload),
            payload=payload,
        )
        for f in self.filters:
            if matches(f, p.topic):
                self._add("received", filter=f, topic=p.topic, qos=p.qos, payload=payload)
                break

    def _on_decided(self, d: Decided) -> None:
        s = d.session
        if d.action == "iot:Connect" and d.allowed:
            self.connections.add(time.time())
        statements: list[str] = []
        explain = getattr(s.grant.policy, "explain", None) if s.grant is not None else None
        if explain is not None:
            arn = s.config.arn(d.resource)
            statements = list(explain(d.action, arn, s.variables))
        self._add(
            "decision",
            allowed=d.allowed,
            action=d.action,
            resource=d.resource,
            client=s.client_id or None,
            principal=s.principal or None,
            reason=d.reason,
            statements=statements,
        )

    # ----------------------------------------------------------------- views

    def state(self) -> dict[str, Any]:
        now = time.time()
        conns = []
        for s in sorted(self.broker.clients.values(), key=lambda x: x.connected_at or 0):
            conns.append(
                {
                    "clientId": s.client_id,
                    "principal": s.principal,
                    "profile": s.profile,
                    "since": s.connected_at,
                    "mqtt": "5" if s.level == 5 else "3.1.1",
                    "subscriptions": sorted(s.subscriptions),
                }
            )
        return {
            "now": round(now, 3),
            "connections": conns,
            "filters": list(self.filters),
            "rates": {
                "window": RATE_WINDOW,
                "messages": self.messages.series(now),
                "connections": self.connections.series(now),
            },
            "seq": self.seq,
        }

    def events_after(self, after: int) -> dict[str, Any]:
        out = [e for e in self.events if e["seq"] > after]
        first = self.events[0]["seq"] if self.events else self.seq + 1
        return {"events": out, "seq": self.seq, "dropped": max(0, first - after - 1)}

    # ----------------------------------------------------------------- HTTP

    def get(self, target: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for a GET under /console."""
        split = urlsplit(target)
        path = split.path.rstrip("/") or "/console"
        if path == "/console":
            return 200, "text/html; charset=utf-8", PAGE.encode("utf-8")
        if path == "/console/state":
            return _json(200, self.state())
        if path == "/console/events":
            params = dict(parse_qsl(split.query))
            try:
                after = int(params.get("after", "0"))
            except ValueError:
                return _json(400, {"message": "after must be an integer (an event number)"})
            return _json(200, self.events_after(after))
        return _json(404, {"message": f"no such console resource: {path}"})

    def post(self, target: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        """(status, JSON body) for a POST under /console."""
        path = urlsplit(target).path.rstrip("/")
        if "application/json" not in headers.get("content-type", ""):
            return 415, {"message": "send the body as JSON (Content-Type: application/json)"}
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return 400, {"message": "the request body is not valid JSON"}
        if not isinstance(data, dict):
            return 400, {"message": "the request body must be a JSON object"}
        if path == "/console/publish":
            return self._publish(data)
        if path in ("/console/subscribe", "/console/unsubscribe"):
            flt = data.get("filter")
            if not isinstance(flt, str) or not flt:
                return 400, {"message": "filter: give a topic filter, e.g. demo/dev/#"}
            if path.endswith("/unsubscribe"):
                if flt in self.filters:
                    self.filters.remove(flt)
                return 200, {"filters": self.filters}
            err = topic_filter_error(flt)
            if err:
                return 400, {"message": f"filter: {err}"}
            if flt not in self.filters:
                if len(self.filters) >= MAX_FILTERS:
                    return 400, {"message": f"filter: at most {MAX_FILTERS} subscriptions"}
                self.filters.append(flt)
            return 200, {"filters": self.filters}
        return 404, {"message": f"no such console resource: {path}"}

    def _publish(self, data: dict[str, Any]) -> tuple[int, Any]:
        topic = data.get("topic")
        if not isinstance(topic, str) or not topic:
            return 400, {"message": "topic: give a topic name, e.g. demo/dev/rooms/lobby"}
        qos = data.get("qos", 0)
        if qos not in (0, 1) or isinstance(qos, bool):
            return 400, {"message": "qos: must be 0 or 1 (IoT Core has no QoS 2)"}
        payload = data.get("payload", "")
        if not isinstance(payload, str):
            return 400, {"message": "payload: must be a string"}
        try:
            n = self.broker.publish(topic, payload.encode("utf-8"), qos, source="console")
        except PermissionError as exc:
            return 403, {"message": f"topic: {exc}"}
        except OverflowError as exc:
            return 413, {"message": f"payload: {exc}"}
        except ValueError as exc:
            return 400, {"message": f"topic: {exc}"}
        return 200, {"subscribers": n}


def _json(status: int, body: Any) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(body, separators=(",", ":")).encode()
