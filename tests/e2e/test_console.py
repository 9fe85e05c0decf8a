"""The local console at `/console` in headless Chromium, with real MQTT traffic from a
client we did not write (paho-mqtt over WebSockets, through the real packaged authorizer):
it shows the connection with its subscriptions, the decisions with their reason and deciding
statement, the messages, and its own publish reaches a paho subscriber. Its endpoints refuse
other origins and foreign Host headers (DNS rebinding); its event buffer is bounded."""

from __future__ import annotations

import http.client
import json
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from iotws_emulator.broker import Published
from iotws_emulator.console import MAX_EVENTS, Console

pytestmark = pytest.mark.browser

PREFIX = "seed/dev"
AUTHORIZER = "seed-dev-authorizer"


def _paho(port: int, token: str, client_id: str) -> tuple[mqtt.Client, list[tuple[str, bytes]]]:
    got: list[tuple[str, bytes]] = []
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, transport="websockets")
    c.ws_set_options(path=f"/mqtt?x-amz-customauthorizer-name={AUTHORIZER}&token={token}")
    c.on_message = lambda _c, _u, m: got.append((m.topic, m.payload))
    connected = threading.Event()
    c.on_connect = lambda _c, _u, _f, rc, _p: connected.set() if rc == 0 else None
    c.connect("127.0.0.1", port, 60)
    c.loop_start()
    assert connected.wait(10), f"paho {client_id} did not connect"
    return c, got


def _until(cond: Any, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def _request(
    port: int, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        if method == "POST":
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"{}")
    finally:
        conn.close()


def test_console_shows_live_traffic_and_its_publish_reaches_a_subscriber(
    emulator_process: Any, page: Any
) -> None:
    ep = emulator_process
    token = ep.dev_token()  # sub=devuser, role user
    own = f"{PREFIX}/users/devuser"
    page.goto(f"{ep.base}/console")
    page.wait_for_function("() => document.getElementById('status').textContent === 'live'")

    # GIVEN the console's test client subscribed to the topic the guests publish to
    page.fill("#sfilter", f"{PREFIX}/client")
    page.click("#subscribe")
    page.wait_for_function(
        "(f) => document.getElementById('filters').textContent.includes(f)", arg=f"{PREFIX}/client"
    )

    # WHEN paho connects with a token, subscribes to its own channel and to someone else's
    c, got = _paho(ep.port, token, "u-devuser-console1")
    try:
        c.subscribe([(f"{own}/#", 1), (f"{PREFIX}/users/other/#", 1)])
        # and a second client brings a tampered token (its signature's last byte changed)
        bad = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
        refused = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id="u-devuser-console2", transport="websockets"
        )
        refused.ws_set_options(path=f"/mqtt?x-amz-customauthorizer-name={AUTHORIZER}&token={bad}")
        refused.connect("127.0.0.1", ep.port, 60)
        refused.loop_start()

        # THEN the connection shows with its principal, profile and subscriptions
        row = page.locator("tr[data-client-id='u-devuser-console1']")
        row.wait_for(timeout=10_000)
        page.wait_for_function(
            """(f) => { const r = document.querySelector(
                   "tr[data-client-id='u-devuser-console1']");
                 return r && r.textContent.includes(f); }""",
            arg=f"{own}/#",
            timeout=10_000,
        )
        cells = row.locator("td").all_inner_texts()
        assert cells[2] == "user", cells
        assert cells[1], "no principal shown"
        assert f"{PREFIX}/users/other/#" not in cells[4], "a denied subscription is listed"

        # AND the decisions: the allowed subscribe with its deciding statement, the denied
        # subscribe with its reason, the refused CONNECT with the authorizer's reason
        stream = page.locator("#stream")
        allow = stream.locator(
            "div[data-kind='decision']", has_text=f"iot:Subscribe topicfilter/{own}/#"
        ).first
        allow.wait_for(timeout=10_000)
        assert "ALLOW" in allow.inner_text()
        assert "by document[0].Statement[" in allow.inner_text()
        deny = stream.locator(
            "div[data-kind='decision']", has_text=f"topicfilter/{PREFIX}/users/other/#"
        ).first
        deny.wait_for(timeout=10_000)
        assert "DENY" in deny.inner_text() and "IMPLICIT_DENY" in deny.inner_text()
        refused_line = stream.locator(
            "div[data-kind='decision']", has_text="iot:Connect client/u-devuser-console2"
        ).first
        refused_line.wait_for(timeout=10_000)
        text = refused_line.inner_text()
        assert "DENY" in text and "signature" in text.lower(), text

        # WHEN paho publishes where guests talk, THEN the stream and the test client show it
        c.publish(f"{PREFIX}/client", json.dumps({"text": "from paho"}), qos=1)
        stream.locator("div[data-kind='message']", has_text="from paho").first.wait_for(
            timeout=10_000
        )
        page.locator("#received div", has_text="from paho").first.wait_for(timeout=10_000)

        # WHEN the console publishes as the backend, THEN the paho subscriber receives it
        page.fill("#ptopic", f"{own}/inbox")
        page.select_option("#pqos", "1")
        page.fill("#ppayload", '{"text": "from the console"}')
        page.click("#publish")
        assert _until(lambda: (f"{own}/inbox", b'{"text": "from the console"}') in got), got
        assert page.inner_text("#puberr") == ""

        # and a refused publish says why, in the page
        page.fill("#ptopic", f"{PREFIX}/+/bad")
        page.click("#publish")
        page.wait_for_function(
            "() => document.getElementById('puberr').textContent.includes('topic')"
        )

        # AND the message rate chart counted the messages
        page.wait_for_function(
            "() => document.querySelectorAll('#mchart rect[height]:not([height=\"0\"])').length > 0"
        )

        # AND nothing in the page carries the token or its signature
        html = page.content()
        assert token not in html and token.rsplit(".", 1)[1] not in html
        assert bad.rsplit(".", 1)[1] not in html
    finally:
        c.loop_stop()
        c.disconnect()
        refused.loop_stop()


def test_console_endpoints_refuse_other_origins_and_hosts(emulator_process: Any) -> None:
    port = emulator_process.port
    own_host = f"127.0.0.1:{port}"
    body = json.dumps({"topic": f"{PREFIX}/server", "payload": "x"}).encode()
    js = {"Content-Type": "application/json"}

    # same origin, own Host: served
    status, _ = _request(port, "GET", "/console/state", {"Host": own_host})
    assert status == 200
    status, answer = _request(port, "GET", "/console/state", {"Host": f"localhost:{port}"})
    assert status == 200 and "connections" in answer

    # DNS rebinding: a foreign name, or a loopback name with another port
    for host in (f"attacker.example:{port}", "127.0.0.1:1", f"127.0.0.1:{port}@x", ""):
        status, answer = _request(port, "GET", "/console/state", {"Host": host})
        assert status == 403 and "DNS rebinding" in answer["message"], (host, answer)
        status, answer = _request(port, "POST", "/console/publish", {"Host": host, **js}, body)
        assert status == 403 and "DNS rebinding" in answer["message"], (host, answer)
        # the backend publish endpoint has the same guard
        status, answer = _request(port, "POST", f"/topics/{PREFIX}/server", {"Host": host}, b"x")
        assert status == 403 and "DNS rebinding" in answer["message"], (host, answer)

    # another origin, own Host
    evil = {"Host": own_host, "Origin": "http://attacker.example", **js}
    status, answer = _request(port, "POST", "/console/publish", evil, body)
    assert status == 403 and "cross-origin" in answer["message"]
    status, answer = _request(port, "GET", "/console/events?after=0", evil)
    assert status == 403

    # a form post (no preflight) is refused: JSON only
    status, answer = _request(
        port, "POST", "/console/publish", {"Host": own_host, "Content-Type": "text/plain"}, body
    )
    assert status == 415 and "application/json" in answer["message"]

    # unsupported requests say why
    status, answer = _request(port, "GET", "/console/nope", {"Host": own_host})
    assert status == 404 and "/console/nope" in answer["message"]
    status, answer = _request(port, "GET", "/console/events?after=x", {"Host": own_host})
    assert status == 400 and "after" in answer["message"]
    bad_qos = json.dumps({"topic": f"{PREFIX}/server", "qos": 2}).encode()
    status, answer = _request(port, "POST", "/console/publish", {"Host": own_host, **js}, bad_qos)
    assert status == 400 and "QoS 2" in answer["message"]

    # backends (no Origin) keep publishing through /topics with the emulator's Host
    status, _ = _request(port, "POST", f"/topics/{PREFIX}/server", {"Host": own_host}, b"x")
    assert status == 200


class _Observed:
    """The two hooks the console registers on a broker."""

    def add_listener(self, _listener: Any) -> None:
        pass

    def add_decision_listener(self, _listener: Any) -> None:
        pass


def test_console_event_buffer_is_bounded() -> None:
    console = Console(_Observed())  # type: ignore[arg-type]
    big = b"x" * 100_000
    for i in range(MAX_EVENTS + 500):
        console._on_published(Published(f"t/{i}", big, 0, False, "c", "p", "mqtt"))
    assert len(console.events) == MAX_EVENTS
    page = console.events_after(0)
    assert page["dropped"] == 500
    assert page["events"][0]["topic"] == "t/500"
    assert max(len(e["payload"]) for e in page["events"]) <= 1025  # the shown part only
