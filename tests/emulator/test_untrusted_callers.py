"""Callers the emulator must not trust to behave: web pages of other origins posting to
`POST /topics`, authorizer calls that hang, clients that only ping past a refresh."""

from __future__ import annotations

import http.client
import threading
import time
import types
from pathlib import Path
from typing import Any

from emuhelpers import RawClient, Running, StubAuthorizer, wait_for

from iotws.invoke import LoadedAuthorizer
from iotws_emulator import codec
from iotws_emulator.clock import ScaledClock

# --------------------------------------------------------------------------- POST /topics


def _post(emulator: Running, path: str, headers: dict[str, str], method: str = "POST") -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=5)
    conn.request(method, path, body=b"payload", headers=headers)
    r = conn.getresponse()
    return r.status, dict(r.getheaders()), r.read().decode()


def test_post_topics_refuses_cross_origin_pages(emulator: Running) -> None:
    sub = emulator.client("sub")
    sub.connect()
    assert sub.subscribe("t/x") == [1]
    own = f"http://127.0.0.1:{emulator.port}"
    # A page of another origin: refused, with the reason, and nothing published.
    status, headers, body = _post(emulator, "/topics/t%2Fx", {"Origin": "https://evil.example"})
    assert status == 403
    assert "cross-origin request refused" in body and "https://evil.example" in body
    assert not any(k.lower().startswith("access-control-") for k in headers)
    status, _, _ = _post(emulator, "/topics/t%2Fx", {"Origin": "null"})
    assert status == 403
    assert sub.nothing()
    # The preflight of a cross-origin page gets no CORS grant either.
    status, headers, _ = _post(
        emulator, "/topics/t%2Fx", {"Origin": "https://evil.example"}, method="OPTIONS"
    )
    assert status == 403
    assert not any(k.lower().startswith("access-control-") for k in headers)
    # A backend (no Origin) and the emulator's own pages (same origin) publish.
    assert _post(emulator, "/topics/t%2Fx", {})[0] == 200
    assert sub.get().payload == b"payload"
    assert _post(emulator, "/topics/t%2Fx", {"Origin": own})[0] == 200
    assert sub.get().payload == b"payload"
    sub.close()


# --------------------------------------------------------------------------- authorizer calls


class HangingAuthorizer(StubAuthorizer):
    """Hangs (until released) for client ids starting with `hang`."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.started: list[str] = []

    def invoke(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        self.started.append(event["protocolData"]["mqtt"].get("clientId", ""))
        if event["protocolData"]["mqtt"].get("clientId", "").startswith("hang"):
            self.release.wait(30)
        return super().invoke(event, context)


def _start_hanging_connects(emulator: Running, n: int) -> list[RawClient]:
    socks = []
    for i in range(n):
        raw = emulator.raw()
        raw.send_packet(codec.Connect("MQTT", 4, True, 60, f"hang{i}"))
        socks.append(raw)
    return socks


def test_hanging_authorizer_calls_never_delay_other_connects(start_emulator: Any) -> None:
    auth = HangingAuthorizer()
    emu = start_emulator(auth, authorizer_timeout=3.0)
    try:
        hanging = _start_hanging_connects(emu, 12)  # more than any small pool
        assert wait_for(lambda: len(auth.started) >= 12, 5)
        t0 = time.monotonic()
        c = emu.client("fast")
        c.connect(timeout=2)
        assert time.monotonic() - t0 < 1.5
        c.close()
        # The hanging calls are denied at their deadline (IoT gives the Lambda 5 s).
        connack = hanging[0].recv(timeout=5)
        assert isinstance(connack, codec.Connack) and connack.code == 5
        for raw in hanging:
            raw.close()
    finally:
        auth.release.set()


def test_authorizer_calls_in_progress_are_bounded(start_emulator: Any, caplog_info: Any) -> None:
    auth = HangingAuthorizer()
    emu = start_emulator(auth, authorizer_timeout=5.0, max_authorizer_calls=3)
    try:
        hanging = _start_hanging_connects(emu, 3)
        assert wait_for(lambda: len(auth.started) >= 3, 5)
        t0 = time.monotonic()
        refused = emu.client("over").connect(expect_ok=False)
        assert refused.value == 0x87 and time.monotonic() - t0 < 3  # not at the 5 s deadline
        reason = "3 authorizer calls already in progress"
        assert wait_for(lambda: any(reason in r.message for r in caplog_info.records))
        auth.release.set()  # the slots free up when the calls return
        for raw in hanging:
            assert isinstance(raw.recv(), codec.Connack)
            raw.close()
        c = emu.client("after")
        c.connect()
        c.close()
    finally:
        auth.release.set()


def test_loaded_authorizer_runs_calls_concurrently() -> None:
    # The packaged authorizer's loader holds no lock while a handler runs.
    gate = threading.Event()
    app = types.ModuleType("app")

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if event.get("hang"):
            gate.wait(10)
        return {"ok": True}

    app.handler = handler  # type: ignore[attr-defined]
    loaded = LoadedAuthorizer(Path("authorizer.zip"), {"app": app}, {})
    blocked = threading.Thread(target=loaded.invoke, args=({"hang": True},), daemon=True)
    blocked.start()
    time.sleep(0.1)
    done = threading.Event()
    threading.Thread(target=lambda: (loaded.invoke({}), done.set()), daemon=True).start()
    try:
        assert done.wait(2), "a second call waited for the first one's handler"
    finally:
        gate.set()
        blocked.join(5)


# --------------------------------------------------------------------------- refresh


def test_ping_only_client_is_reauthorized_at_refresh(start_emulator: Any) -> None:
    calls: list[int] = []

    class DenyOnRefresh(StubAuthorizer):
        def invoke(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
            calls.append(1)
            if len(calls) > 1:
                return {"isAuthenticated": False}
            return super().invoke(event, context)

    emu = start_emulator(DenyOnRefresh(refresh=300), clock=ScaledClock(1000))
    raw = emu.raw()
    assert raw.connect("pinger").code == 0
    deadline = time.monotonic() + 3
    closed = False
    while time.monotonic() < deadline and not closed:
        try:
            raw.send_packet(codec.Pingreq())
            assert isinstance(raw.recv(0.5), codec.Pingresp)
        except (ConnectionError, OSError):
            closed = True
        time.sleep(0.05)
    assert len(calls) >= 2  # refreshAfterInSeconds=300 is 0.3 s here
    assert closed, "a client that only pings kept its connection past a denied refresh"
