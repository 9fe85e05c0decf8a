"""The example pages and the browser client in headless Chromium against the emulator, with
time that matters: the emulator runs in this process with a scaled clock (its 300-second
minimum refreshAfterInSeconds passes in 3 s), the page gets its tokens from a token service
run by the test, and the authorizer is the real packaged one (HS256, no leeway).

- a token that expires mid-session: the page fetches a new one, the old connection is ended
  by the authorizer's refresh, and the QoS 1 message published while the page was
  reconnecting arrives through the persistent session;
- a revoked user: the page stops after three refused connections and says why;
- a forbidden subscribe: a sentence that names the topic;
- Cognito guest credentials fetched again when a reconnect needs them.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from iotws.spec.model import load_spec
from iotws.tokens import claims_for, mint_hs256
from iotws_emulator.app import prepare, prepare_cognito, resolve
from iotws_emulator.auth import binding_from_config
from iotws_emulator.clock import ScaledClock
from iotws_emulator.config import EmulatorConfig
from iotws_emulator.policy import EvaluatorEngine
from iotws_emulator.server import CognitoGuests, Emulator, EmulatorThread
from iotws_emulator.sigv4 import FakeCognito

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "examples" / "custom-authorizer"
GUESTS = REPO / "examples" / "cognito-unauth"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Emulated seconds per real second: refreshAfterInSeconds=300 is checked every 3 s.
TIME_SCALE = 100
PREFIX = "seed/dev"


class LogLines(logging.Handler):
    """The emulator's decision lines (`ALLOW connect ...`, `DENY refresh ...`)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def count(self, pattern: str) -> int:
        return sum(1 for line in list(self.lines) if re.search(pattern, line))

    def wait(self, pattern: str, timeout: float = 10, n: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while self.count(pattern) < n:
            if time.monotonic() > deadline:
                tail = "\n".join(self.lines[-40:])
                raise AssertionError(f"{pattern!r} x{n} not in the emulator log:\n{tail}")
            time.sleep(0.05)


@pytest.fixture
def emulator_log() -> Iterator[LogLines]:
    handler = LogLines()
    logger = logging.getLogger("iotws.emulator")
    old = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)


@dataclass
class Seed:
    base: str
    secret: bytes
    spec: Any
    thread: EmulatorThread

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        boto3.client(
            "iot-data",
            endpoint_url=self.base,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).publish(topic=topic, qos=qos, payload=payload)


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seed]:
    for name in ("mqtt.min.js", "iotws-client.js"):
        assert (SEED / "web" / "vendor" / name).is_file(), f"{name} missing: run `make web`"
    # The example's spec without the token leeway, so an expired token is refused at once.
    data = yaml.safe_load((SEED / "access.yaml").read_text(encoding="utf-8"))
    data["authorizer"]["hs256"]["leeway_seconds"] = 0
    data["authorizer"]["session"] = {
        "refresh_after_seconds": 300,
        "disconnect_after_seconds": 86400,
    }
    tmp = tmp_path_factory.mktemp("client-seed")
    spec_path = tmp / "access.yaml"
    spec_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    prep = prepare(resolve(str(spec_path), str(tmp / "build")))
    assert prep.secret is not None
    binding = binding_from_config(prep.authorizer, prep.config)
    config = EmulatorConfig(
        authorizers={binding.name: binding},
        engine=EvaluatorEngine(),
        default_authorizer=binding.name,
        region=prep.region,
        account=prep.account,
        clock=ScaledClock(TIME_SCALE),
    )
    web_config = {
        "authorizerName": binding.name,
        "tokenKeyName": binding.token_key_name or "",
        "prefix": prep.config.get("prefix") or "",
        "mode": prep.config.get("mode") or "",
    }
    emu = Emulator(config, port=0, serve_dir=SEED / "web", web_config=web_config)
    thread = EmulatorThread(emu)
    thread.start()
    try:
        yield Seed(emu.http_url, prep.secret, load_spec(str(spec_path)), thread)
    finally:
        thread.stop()


@dataclass
class TokenService:
    """The app's token endpoint (`GET /token`), on its own origin like a real backend."""

    mint: Callable[[], str]
    url: str = ""
    issued: list[str] = field(default_factory=list)
    open: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def tokens(seed: Seed) -> Iterator[TokenService]:
    claims = claims_for(seed.spec, "alice", "user")
    svc = TokenService(mint=lambda: mint_hs256(seed.secret, claims, ttl_seconds=3600))
    svc.open.set()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            svc.open.wait(30)  # a slow token service, when the test closes the gate
            token = svc.mint()
            svc.issued.append(token)
            body = json.dumps({"token": token}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            # The page's origin, with credentials (a session cookie in a real app).
            self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin", ""))
            self.send_header("Access-Control-Allow-Credentials", "true")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    svc.url = f"http://127.0.0.1:{server.server_address[1]}/token"
    t = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    t.start()
    try:
        yield svc
    finally:
        svc.open.set()
        server.shutdown()
        server.server_close()
        t.join(5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), "Debian's chromium is missing: run `make browser`"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield pg
        assert errors == [], f"uncaught errors on the page: {errors}"
    finally:
        context.close()


def demo(page: Any, expression: str) -> Any:
    return page.evaluate(f"window.iotwsDemo.{expression}")


def test_token_expires_mid_session_and_the_queued_message_arrives(
    seed: Seed, tokens: TokenService, page: Any, emulator_log: LogLines
) -> None:
    claims = claims_for(seed.spec, "alice", "user")
    # GIVEN a first token that expires 5 s after it is issued, later ones valid for an hour
    lifetimes = iter([5])
    tokens.mint = lambda: mint_hs256(seed.secret, claims, ttl_seconds=next(lifetimes, 3600))
    page.goto(f"{seed.base}/?tokenUrl={tokens.url}&renewBeforeSeconds=1")
    server = f"{PREFIX}/server"
    page.wait_for_function(
        "(t) => window.iotwsDemo.connected &&"
        " (window.iotwsDemo.subscriptions[t] || '').indexOf('granted') === 0",
        arg=server,
        timeout=15_000,
    )
    client_id = demo(page, "clientId")
    assert re.fullmatch(r"u-alice-[0-9a-f]{8}", client_id)
    # WHEN the token service becomes slow just before the token expires
    tokens.open.clear()
    # THEN the authorizer's refresh refuses the expired token and the connection ends
    emulator_log.wait(rf"DENY refresh client={client_id}:", timeout=20)
    page.wait_for_function("!window.iotwsDemo.connected", timeout=10_000)
    # AND a QoS 1 message published while the page is away is kept for its session
    seed.publish(server, b'{"text": "sent while you were away"}', qos=1)
    time.sleep(0.5)
    assert not demo(page, "messages.some(m => m.payload.indexOf('while you were away') >= 0)")
    tokens.open.set()
    page.wait_for_function(
        "window.iotwsDemo.messages.some(m => m.payload.indexOf('while you were away') >= 0)",
        timeout=20_000,
    )
    assert demo(page, "connected")
    assert demo(page, "clientId") == client_id  # the same session
    assert demo(page, "sessionPresent") is True
    assert demo(page, "messages.find(m => m.payload.indexOf('while you were away') >= 0).qos") == 1
    assert len(set(tokens.issued)) >= 2  # the reconnect used a new token
    assert emulator_log.count(rf"ALLOW connect client={client_id} ") >= 2
    errors = page.inner_text("#errors")
    assert "connection was closed" in errors  # the drop is explained, not silent


def test_forbidden_subscribe_names_the_topic(
    seed: Seed, tokens: TokenService, page: Any, emulator_log: LogLines
) -> None:
    page.goto(f"{seed.base}/?tokenUrl={tokens.url}")
    page.wait_for_function("window.iotwsDemo.connected", timeout=15_000)
    forbidden = f"{PREFIX}/users/bob/#"  # alice may read only users/alice/#
    page.fill("#subscribe-topic", forbidden)
    page.click("#subscribe-btn")
    page.wait_for_function(
        "(t) => window.iotwsDemo.subscriptions[t] === 'refused'", arg=forbidden, timeout=10_000
    )
    assert f"not allowed by your policy: {forbidden}" in page.inner_text("#errors")
    assert demo(page, "connected")


def test_revoked_user_stops_retrying_and_says_why(
    seed: Seed, tokens: TokenService, page: Any, emulator_log: LogLines
) -> None:
    claims = claims_for(seed.spec, "alice", "user")
    revoked = threading.Event()

    def mint() -> str:
        # After revocation the app's backend still answers, but with tokens the authorizer
        # refuses (signed with a key it no longer trusts).
        key = b"revoked-" + seed.secret if revoked.is_set() else seed.secret
        return mint_hs256(key, claims, ttl_seconds=5 if not revoked.is_set() else 3600)

    tokens.mint = mint
    page.goto(f"{seed.base}/?tokenUrl={tokens.url}&renewBeforeSeconds=2&clientId=u-alice-revoked")
    page.wait_for_function("window.iotwsDemo.connected", timeout=15_000)
    revoked.set()
    page.wait_for_function("window.iotwsDemo.state === 'stopped'", timeout=30_000)
    errors = page.inner_text("#errors")
    assert "gave up after 3 authorization failures in a row" in errors
    assert "not authorized (CONNACK return code 5)" in errors
    assert "stopped" in page.inner_text("#status")
    refused = emulator_log.count(r"DENY connect client=u-alice-revoked:")
    assert refused == 3
    time.sleep(3)  # and it stays stopped: no further attempts
    assert emulator_log.count(r"DENY connect client=u-alice-revoked:") == 3


# ----------------------------------------------------------------------- Cognito guests


@pytest.fixture(scope="module")
def guests(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, EmulatorThread]]:
    for name in ("mqtt.min.js", "iotws-client.js"):
        assert (GUESTS / "web" / "vendor" / name).is_file(), f"{name} missing: run `make web`"
    spec_path = GUESTS / "access.yaml"
    prep = prepare_cognito(resolve(str(spec_path), str(tmp_path_factory.mktemp("g"))))
    engine = EvaluatorEngine()
    config = EmulatorConfig(authorizers={}, engine=engine, region=prep.region, account=prep.account)
    # Guest credentials for 65 s: with renewBeforeSeconds=60 they are good for 5 s.
    cognito = CognitoGuests(
        pool=FakeCognito(prep.region, ttl_seconds=65),
        policy=engine.compile(prep.documents),
        profile=prep.spec.cognito.guest_profile,
    )
    emu = Emulator(
        config, port=0, serve_dir=GUESTS / "web", web_config=prep.web_config, cognito=cognito
    )
    thread = EmulatorThread(emu)
    thread.start()
    try:
        yield emu.http_url, thread
    finally:
        thread.stop()


def test_guest_credentials_are_fetched_again_on_reconnect(
    guests: tuple[str, EmulatorThread], page: Any, emulator_log: LogLines
) -> None:
    base, thread = guests
    page.goto(f"{base}/?autoconnect=1&renewBeforeSeconds=60")
    page.wait_for_function("window.iotwsGuest && window.iotwsGuest.connected", timeout=15_000)
    first = page.evaluate("window.iotwsGuest.accessKeys.slice()")
    client_id = page.evaluate("window.iotwsGuest.clientId")
    assert len(first) == 1

    def kick() -> None:
        emu = thread.emulator
        session = emu.broker.clients[client_id]
        thread.call(session.close("API_INITIATED_DISCONNECT"))

    # A drop while the credentials are still good: reconnects with the same credentials
    # and a newly presigned URL.
    kick()
    page.wait_for_function(
        "window.iotwsGuest.connected && window.iotwsGuest.state === 'connected'", timeout=15_000
    )
    emulator_log.wait(rf"ALLOW connect client={re.escape(client_id)} ", n=2, timeout=15)
    assert page.evaluate("window.iotwsGuest.credentialsFetched") == 1
    # Once they are within renewBeforeSeconds of expiry, the next reconnect fetches new ones.
    time.sleep(5.5)
    kick()
    emulator_log.wait(rf"ALLOW connect client={re.escape(client_id)} ", n=3, timeout=15)
    page.wait_for_function("window.iotwsGuest.connected", timeout=15_000)
    keys = page.evaluate("window.iotwsGuest.accessKeys.slice()")
    assert page.evaluate("window.iotwsGuest.credentialsFetched") == 2
    assert len(keys) == 2 and keys[0] != keys[1]
    assert page.evaluate("window.iotwsGuest.identityId") in client_id  # same identity
    assert emulator_log.count(r"DENY upgrade") == 0
