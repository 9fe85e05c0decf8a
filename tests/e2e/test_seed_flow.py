"""The seed flow in headless Chromium: the example page connects to `iotws emulate` through
the real packaged authorizer, receives a message published with boto3's `iot-data`
client, and shows a forbidden subscribe and a forbidden publish as refused."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

pytestmark = pytest.mark.browser

PREFIX = "seed/dev"


def iot_data(base: str) -> Any:
    return boto3.client(
        "iot-data",
        endpoint_url=base,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def wait_connected_and_subscribed(page: Any, topic: str) -> None:
    page.wait_for_function(
        """(t) => window.iotwsDemo && window.iotwsDemo.connected &&
                  (window.iotwsDemo.subscriptions[t] || '').indexOf('granted') === 0""",
        arg=topic,
        timeout=10_000,
    )


def test_config_json_matches_the_contract(emulator_process: Any) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{emulator_process.base}/config.json") as r:  # noqa: S310
        cfg = json.load(r)
    assert cfg == {
        "url": f"ws://127.0.0.1:{emulator_process.port}/mqtt",
        "authorizerName": "seed-dev-authorizer",
        "tokenKeyName": "token",
        "prefix": PREFIX,
        "mode": "hs256",
    }


def test_guest_page_receives_and_is_refused(emulator_process: Any, page: Any) -> None:
    base = emulator_process.base
    page.goto(f"{base}/?reconnect=0")
    server = f"{PREFIX}/server"
    wait_connected_and_subscribed(page, server)
    client_id = page.evaluate("window.iotwsDemo.clientId")
    assert client_id.startswith("anon-")
    emulator_process.wait_log(rf"ALLOW connect client={client_id} .*profile=guest")

    # GIVEN a backend publish through the HTTP endpoint, THEN the page shows it
    iot_data(base).publish(topic=server, qos=1, payload=b'{"text": "hello from boto3"}')
    page.wait_for_function(
        "window.iotwsDemo.messages.some(m => m.payload.indexOf('hello from boto3') >= 0)",
        timeout=10_000,
    )
    assert "hello from boto3" in page.inner_text("#messages")

    # a forbidden subscribe is refused with a SUBACK failure, visible on the page
    secret = f"{PREFIX}/users/alice/#"
    page.fill("#subscribe-topic", secret)
    page.click("#subscribe-btn")
    page.wait_for_function(
        "(t) => window.iotwsDemo.subscriptions[t] === 'refused'", arg=secret, timeout=10_000
    )
    assert f"subscribe to {secret} refused" in page.inner_text("#errors")
    emulator_process.wait_log(rf"DENY subscribe client={client_id} filter={secret}")
    assert page.evaluate("window.iotwsDemo.connected")  # a refused subscribe keeps the link

    # the allowed publish goes through; a forbidden publish closes the connection
    page.fill("#publish-topic", f"{PREFIX}/client")
    page.click("#publish-btn")
    emulator_process.wait_log(rf"ALLOW publish client={client_id} topic={PREFIX}/client")
    forbidden = f"{PREFIX}/server"  # guests may listen to server, not talk on it
    page.fill("#publish-topic", forbidden)
    page.click("#publish-btn")
    page.wait_for_function("!window.iotwsDemo.connected", timeout=10_000)
    errors = page.inner_text("#errors")
    assert (
        f"right after the PUBLISH to {forbidden}: not allowed by your policy: {forbidden}" in errors
    )
    assert page.get_attribute("#status", "data-state") == "closed"
    emulator_process.wait_log(rf"DENY publish client={client_id} topic={forbidden}")


def test_user_page_with_dev_token_gets_private_channel(emulator_process: Any, page: Any) -> None:
    base = emulator_process.base
    token = emulator_process.dev_token()
    page.goto(f"{base}/?reconnect=0&token={token}")
    wait_connected_and_subscribed(page, f"{PREFIX}/server")
    assert page.evaluate("window.iotwsDemo.clientId").startswith("u-devuser-")
    private = f"{PREFIX}/users/devuser/#"
    page.fill("#subscribe-topic", private)
    page.click("#subscribe-btn")
    page.wait_for_function(
        "(t) => (window.iotwsDemo.subscriptions[t] || '').indexOf('granted') === 0",
        arg=private,
        timeout=10_000,
    )
    iot_data(base).publish(topic=f"{PREFIX}/users/devuser/inbox", qos=0, payload=b"just you")
    page.wait_for_function(
        "window.iotwsDemo.messages.some(m => m.payload === 'just you')", timeout=10_000
    )
