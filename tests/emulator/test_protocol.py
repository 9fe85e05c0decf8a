"""MQTT behaviour of the emulator with paho-mqtt over WebSockets (and raw packets where paho
cannot express the case). Policies are evaluated by the real `iotws.policy.evaluator`; the
authorizer is a stub Lambda here (test_real_authorizer.py runs the packaged one)."""

from __future__ import annotations

import base64
import json
import queue
import time
from typing import Any

import pytest
from emuhelpers import (
    ARN,
    AUTH_NAME,
    PahoClient,
    Running,
    StubAuthorizer,
    allow,
    open_policy,
    policy,
    v5_props,
    wait_for,
)
from paho.mqtt.packettypes import PacketTypes

from iotws_emulator import codec
from iotws_emulator.clock import ScaledClock

# paho reports the v3.1.1 CONNACK code 5 ("not authorized") as the MQTT 5 code 0x87
NOT_AUTHORIZED = 0x87


def events(observer: PahoClient, n: int, timeout: float = 5) -> list[dict[str, Any]]:
    out = []
    for _ in range(n):
        m = observer.get(timeout)
        out.append({"topic": m.topic, **json.loads(m.payload)})
    return out


def observer(emulator: Running, *filters: str, keepalive: int = 60) -> PahoClient:
    o = emulator.client("observer", keepalive=keepalive)
    o.connect()
    assert o.subscribe(*filters) == [1] * len(filters)
    return o


# --------------------------------------------------------------------------- connect


def test_connect_publish_subscribe_roundtrip(emulator: Running) -> None:
    c = emulator.client("c1")
    c.connect()
    assert c.subscribe("t/a") == [1]
    c.publish_acked("t/a", b"hello")
    m = c.get()
    assert (m.topic, m.payload, m.qos) == ("t/a", b"hello", 1)
    c.close()


def test_event_is_built_as_iot_builds_it(start_emulator: Any) -> None:
    auth = StubAuthorizer()
    emu = start_emulator(auth)
    c = emu.client(
        "dev-1",
        query=f"x-amz-customauthorizer-name={AUTH_NAME}&token=T0K&x=1",
        username="alice",
        password=b"s3cret\x00",
        headers={"X-Custom": "v"},
    )
    c.connect()
    ev = auth.events[0]
    assert ev["token"] == "T0K"
    assert ev["signatureVerified"] is False
    assert ev["protocols"] == ["tls", "http", "mqtt"]
    assert ev["protocolData"]["tls"]["serverName"] == "127.0.0.1"
    http = ev["protocolData"]["http"]
    assert http["queryString"] == f"?x-amz-customauthorizer-name={AUTH_NAME}&token=T0K&x=1"
    assert {k.lower(): v for k, v in http["headers"].items()}["x-custom"] == "v"
    mqtt_data = ev["protocolData"]["mqtt"]
    assert mqtt_data["username"] == "alice"
    assert base64.b64decode(mqtt_data["password"]) == b"s3cret\x00"
    assert mqtt_data["clientId"] == "dev-1"
    assert ev["connectionMetadata"]["id"]
    # the Lambda context carries a function ARN in the configured region/account
    assert auth.contexts[0].invoked_function_arn.startswith(
        "arn:aws:lambda:us-east-1:123456789012:"
    )
    c.close()


def test_token_from_header_and_no_token_without_key(start_emulator: Any) -> None:
    auth = StubAuthorizer()
    emu = start_emulator(auth)
    c = emu.client("h1", headers={"token": "HDR"})
    c.connect()
    assert auth.events[0]["token"] == "HDR"
    c.close()
    c2 = emu.client("h2")
    c2.connect()
    assert "token" not in auth.events[1]
    assert "password" not in auth.events[1]["protocolData"]["mqtt"]
    c2.close()


def test_client_id_only_in_event_when_sent(start_emulator: Any) -> None:
    auth = StubAuthorizer()
    emu = start_emulator(auth)
    c = emu.client("")
    c.connect()
    assert "clientId" not in auth.events[0]["protocolData"]["mqtt"]
    c.close()


def test_default_authorizer_and_unknown_name(start_emulator: Any) -> None:
    emu = start_emulator()
    c = emu.client("d1", query="")  # no name: the default authorizer
    c.connect()
    c.close()
    bad = emu.client("d2", query="x-amz-customauthorizer-name=nope")
    rc = bad.connect(expect_ok=False)
    assert rc.is_failure and rc.value == NOT_AUTHORIZED
    emu2 = start_emulator(default=False)
    c3 = emu2.client("d3", query="")
    assert c3.connect(expect_ok=False).value == NOT_AUTHORIZED


def test_denied_connect_emits_connect_failed(start_emulator: Any) -> None:
    def docs(event: dict[str, Any], n: int) -> list[Any]:
        if event["protocolData"]["mqtt"].get("clientId") == "bad":
            return [policy(allow("iot:Connect", "client/other"))]
        return [open_policy()]

    emu = start_emulator(StubAuthorizer(docs))
    o = observer(emu, "$aws/events/presence/connect_failed/+")
    c = emu.client("bad")
    assert c.connect(expect_ok=False).value == NOT_AUTHORIZED
    (ev,) = events(o, 1)
    assert ev["topic"] == "$aws/events/presence/connect_failed/bad"
    assert ev["eventType"] == "connect_failed"
    assert ev["connectFailureReason"] == "AUTHORIZATION_FAILED"
    assert ev["clientId"] == "bad" and "ipAddress" in ev and "timestamp" in ev


@pytest.mark.parametrize(
    "response",
    [
        {"isAuthenticated": False},
        {"isAuthenticated": "true"},
        {"principalId": "has-dash"},
        {"principalId": ""},
        {"principalId": "a" * 129},
        {"disconnectAfterInSeconds": 299},
        {"refreshAfterInSeconds": 86401},
        {"refreshAfterInSeconds": None},
        {"disconnectAfterInSeconds": True},
        {"policyDocuments": [open_policy()] * 11},
        {"policyDocuments": ["{not json"]},
        {"policyDocuments": [policy(allow("iot:Connect", "client/" + "x" * 2100))]},
        {"policyDocuments": [{"Version": "2012-10-17", "Statement": [{"Effect": "Maybe"}]}]},
        {"policyDocuments": "nope"},
    ],
    ids=lambda r: json.dumps(r)[:40],
)
def test_invalid_responses_refuse_the_connection(
    start_emulator: Any, response: dict[str, Any]
) -> None:
    base = {
        "isAuthenticated": True,
        "principalId": "p1",
        "disconnectAfterInSeconds": 3600,
        "refreshAfterInSeconds": 600,
        "policyDocuments": [open_policy()],
    }
    base.update(response)
    emu = start_emulator(StubAuthorizer(response=base))
    assert emu.client("x1").connect(expect_ok=False).value == NOT_AUTHORIZED


def test_string_documents_and_boundaries_accepted(start_emulator: Any) -> None:
    resp = {
        "isAuthenticated": True,
        "principalId": "a" * 128,
        "disconnectAfterInSeconds": 300,
        "refreshAfterInSeconds": 86400,
        "policyDocuments": [json.dumps(open_policy())] + [open_policy()] * 9,
    }
    emu = start_emulator(StubAuthorizer(response=resp))
    emu.client("ok1").connect()


def test_authorizer_error_and_timeout_refuse(start_emulator: Any) -> None:
    emu = start_emulator(StubAuthorizer(error=RuntimeError("boom")))
    assert emu.client("e1").connect(expect_ok=False).value == NOT_AUTHORIZED
    slow = start_emulator(StubAuthorizer(delay=0.5), authorizer_timeout=0.1)
    t0 = time.monotonic()
    assert slow.client("e2").connect(expect_ok=False).value == NOT_AUTHORIZED
    assert time.monotonic() - t0 < 3


def test_v5_refusal_reason_code(start_emulator: Any) -> None:
    emu = start_emulator(StubAuthorizer(response={"isAuthenticated": False}))
    rc = emu.client("v5", protocol=5).connect(expect_ok=False)
    assert rc.value == NOT_AUTHORIZED


# --------------------------------------------------------------------------- enforcement


def test_subscribe_denied_gets_failure_code(emulator: Running, caplog_info: Any) -> None:
    c = emulator.client("s1")
    c.connect()
    assert c.subscribe("t/ok", "other/x") == [1, 0x80]
    msg = "DENY subscribe client=s1 filter=other/x: IMPLICIT_DENY"
    assert any(msg in r.message for r in caplog_info.records)
    c.close()
    v5 = emulator.client("s2", protocol=5)
    v5.connect()
    assert v5.subscribe("t/ok", "other/x") == [1, 0x87]
    v5.close()


def test_publish_denied_closes_connection(emulator: Running) -> None:
    o = observer(emulator, "$aws/events/presence/disconnected/+")
    c = emulator.client("p1")
    c.connect()
    c.publish("other/x", b"no", qos=1)
    assert c.disconnected.wait(5)
    (ev,) = events(o, 1)
    assert ev["disconnectReason"] == "AUTH_ERROR"
    assert ev["clientInitiatedDisconnect"] is False


def test_receive_denied_not_delivered(emulator: Running) -> None:
    a = emulator.client("r1")
    a.connect()
    assert a.subscribe("t/#") == [1]
    a.publish_acked("t/secret/x", b"hidden")
    a.publish_acked("t/open", b"visible")
    assert a.get().payload == b"visible"
    a.nothing(0.2)


def test_publish_to_reserved_topic_closes(emulator: Running) -> None:
    c = emulator.client("p2")
    c.connect()
    c.publish("$aws/events/presence/connected/p2", b"{}", qos=1)
    assert c.disconnected.wait(5)


def test_connect_denied_by_policy_resource(start_emulator: Any) -> None:
    emu = start_emulator(StubAuthorizer([policy(allow("iot:Connect", "client/only-me"))]))
    emu.client("only-me").connect()
    assert emu.client("someone").connect(expect_ok=False).value == NOT_AUTHORIZED


# --------------------------------------------------------------------------- IoT behaviour


def test_qos2_subscribe_gets_no_suback_and_qos2_publish_no_puback(emulator: Running) -> None:
    raw = emulator.raw()
    raw.connect("q2")
    raw.send_packet(codec.Subscribe(1, [codec.SubscriptionRequest("t/q", 2)]))
    assert raw.silent(0.3)
    raw.send_packet(codec.Publish("t/q", b"x", qos=2, packet_id=7))
    assert raw.silent(0.3)
    raw.send_packet(codec.Pingreq())
    assert isinstance(raw.recv(), codec.Pingresp)  # still connected
    raw.close()


def test_retained_messages(emulator: Running) -> None:
    pub = emulator.client("ret-pub")
    pub.connect()
    pub.publish_acked("t/retained/a", b"keep", retain=True)
    exact = emulator.client("ret-exact")
    exact.connect()
    assert exact.subscribe("t/retained/a") == [1]
    m = exact.get()
    assert (m.payload, m.retain) == (b"keep", True)
    wild = emulator.client("ret-wild")
    wild.connect()
    assert wild.subscribe("t/retained/#") == [1]
    wild.nothing(0.3)  # not delivered to wildcard subscriptions
    pub.publish_acked("t/retained/a", b"keep2", retain=True)  # replaces (one per topic)
    assert exact.get().payload == b"keep2"
    assert wild.get().payload == b"keep2"
    pub.publish_acked("t/retained/a", b"", retain=True)  # empty payload deletes
    assert "t/retained/a" not in emulator.broker.retained
    # RetainPublish is required: t/other is publishable but not retainable
    pub.publish("t/other", b"x", qos=1, retain=True)
    assert pub.disconnected.wait(5)


def test_hash_does_not_match_parent_and_dollar_topics(emulator: Running) -> None:
    c = emulator.client("m1")
    c.connect()
    assert c.subscribe("t/sensor/#", "#") == [1, 1]
    c.publish_acked("t/sensor", b"parent")
    m = c.get()
    assert m.topic == "t/sensor"  # via '#', not via 't/sensor/#': delivered once
    c.nothing(0.2)
    c2 = emulator.client("m2")
    c2.connect()  # emits $aws/events/presence/connected/m2: not delivered to '#'
    c.nothing(0.3)


def test_takeover_with_duplicate_clientid(emulator: Running) -> None:
    o = observer(emulator, "$aws/events/presence/+/dup")
    first = emulator.client("dup")
    first.connect()
    (ev1,) = events(o, 1)
    second = emulator.client("dup")
    second.connect()
    assert first.disconnected.wait(5)
    evs = events(o, 2)
    disc = next(e for e in evs if e["eventType"] == "disconnected")
    conn2 = next(e for e in evs if e["eventType"] == "connected")
    assert disc["disconnectReason"] == "DUPLICATE_CLIENTID"
    assert disc["versionNumber"] == ev1["versionNumber"]  # shared with its connect
    assert conn2["versionNumber"] == ev1["versionNumber"] + 1
    assert set(ev1) >= {
        "clientId",
        "timestamp",
        "eventType",
        "sessionIdentifier",
        "principalIdentifier",
        "ipAddress",
        "versionNumber",
    }
    assert set(disc) >= {"clientInitiatedDisconnect", "disconnectReason", "sessionIdentifier"}
    second.close()


def test_subscription_lifecycle_events(emulator: Running) -> None:
    o = observer(emulator, "$aws/events/subscriptions/+/sub1")
    c = emulator.client("sub1")
    c.connect()
    c.subscribe("t/a", "t/b")
    (ev,) = events(o, 1)
    assert ev["eventType"] == "subscribed" and ev["topics"] == ["t/a", "t/b"]
    c.c.unsubscribe("t/a")
    (ev,) = events(o, 1)
    assert ev["eventType"] == "unsubscribed" and ev["topics"] == ["t/a"]
    c.close()


def test_client_ids_with_wildcards_get_no_lifecycle_events(emulator: Running) -> None:
    o = observer(emulator, "$aws/events/presence/connected/#")
    c = emulator.client("a+b")
    c.connect()
    c.close()
    o.nothing(0.3)
    emulator.client("plain").connect()
    assert events(o, 1)[0]["clientId"] == "plain"


@pytest.mark.parametrize(("asked", "granted"), [(5, 30), (0, 1200), (5000, 1200), (60, None)])
def test_keepalive_clamped(emulator: Running, asked: int, granted: int | None) -> None:
    c = emulator.client(f"ka{asked}", protocol=5, keepalive=asked)
    c.connect()
    props = c.connack_props
    assert getattr(props, "ServerKeepAlive", None) == granted
    c.close()


def test_keepalive_enforced_at_one_and_a_half(start_emulator: Any) -> None:
    emu = start_emulator(keepalive_clock=ScaledClock(100))
    # keep-alive 0 -> 1,200 s: 18 real seconds at this scale, longer than the test
    o = observer(emu, "$aws/events/presence/disconnected/+", keepalive=0)
    raw = emu.raw()
    raw.connect("idle1", keep_alive=30)
    t0 = time.monotonic()
    assert raw.closed(5)
    elapsed = time.monotonic() - t0
    assert 0.3 < elapsed < 2.0  # 45 emulated seconds = 0.45 s
    (ev,) = events(o, 1)
    assert (ev["clientId"], ev["disconnectReason"]) == ("idle1", "MQTT_KEEP_ALIVE_TIMEOUT")


def test_limits_client_id(emulator: Running) -> None:
    raw = emulator.raw()
    assert raw.connect("x" * 129).code == 2
    raw2 = emulator.raw()
    assert raw2.connect("$bad").code == 2
    raw3 = emulator.raw()
    assert raw3.connect("y" * 128).code == 0


@pytest.mark.parametrize(
    "topic",
    ["t/" + "a" * 255, "t/1/2/3/4/5/6/7/8"],
    ids=["over-256-bytes", "8-slashes"],
)
def test_limits_topic(emulator: Running, topic: str) -> None:
    c = emulator.client("lt")
    c.connect()
    c.publish(topic, b"x", qos=1)
    assert c.disconnected.wait(5)


def test_limits_payload(emulator: Running) -> None:
    c = emulator.client("lp")
    c.connect()
    assert c.subscribe("t/big") == [1]
    c.publish_acked("t/big", b"x" * 128 * 1024)  # exactly 128 KB is fine
    assert len(c.get().payload) == 128 * 1024
    c.publish("t/big", b"x" * (128 * 1024 + 1), qos=1)
    assert c.disconnected.wait(5)


def test_limits_filters_per_subscribe_and_subscriptions(emulator: Running) -> None:
    c = emulator.client("lf")
    c.connect()
    for i in range(6):
        assert c.subscribe(*[f"t/{i}/{j}" for j in range(8)]) == [1] * 8
    assert c.subscribe("t/x/1", "t/x/2", "t/0/0") == [1, 1, 1]  # 50; re-subscribe is free
    assert c.subscribe("t/x/3") == [0x80]  # the 51st
    c.c.subscribe([(f"t/y/{j}", 1) for j in range(9)])
    assert c.disconnected.wait(5)  # 9 filters in one SUBSCRIBE


# --------------------------------------------------------------------------- TTLs


def test_disconnect_after_ttl(start_emulator: Any) -> None:
    def ttl(event: dict[str, Any]) -> int:
        return 300 if event["protocolData"]["mqtt"].get("clientId") == "ttl" else 86400

    emu = start_emulator(StubAuthorizer(disconnect=ttl), clock=ScaledClock(1000))
    o = observer(emu, "$aws/events/presence/disconnected/+")
    c = emu.client("ttl")
    t0 = time.monotonic()
    c.connect()
    (ev,) = events(o, 1)
    assert (ev["clientId"], ev["disconnectReason"]) == ("ttl", "CUSTOMAUTH_TTL_EXPIRATION")
    assert 0.2 < time.monotonic() - t0 < 3  # 300 emulated seconds = 0.3 s
    assert c.disconnected.wait(2)


def test_refresh_reinvokes_with_new_policies(start_emulator: Any) -> None:
    def docs(event: dict[str, Any], n: int) -> list[Any]:
        topics = ["topic/t/*"] if n == 1 else ["topic/t/after/*"]
        return [
            policy(
                allow("iot:Connect", "client/*"),
                allow(["iot:Publish", "iot:Receive"], *topics),
                allow("iot:Subscribe", "topicfilter/*"),
            )
        ]

    auth = StubAuthorizer(docs, refresh=300)
    emu = start_emulator(auth, clock=ScaledClock(1000))
    c = emu.client("rf")
    c.connect()
    c.publish_acked("t/before", b"1")
    # Timer-driven: at 300 emulated seconds (0.3 s) the authorizer runs again without any
    # packet from the client (custom-auth-lambda.html).
    assert wait_for(lambda: len(auth.events) >= 2, 3)
    c.publish_acked("t/after/x", b"2")
    c.publish("t/before", b"3", qos=1)  # allowed before, not by the new policy
    assert c.disconnected.wait(5)


def test_refresh_denied_disconnects(start_emulator: Any) -> None:
    calls: list[int] = []

    class Flip(StubAuthorizer):
        def invoke(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
            calls.append(1)
            if len(calls) > 1:
                return {"isAuthenticated": False}
            return super().invoke(event, context)

    emu = start_emulator(Flip(refresh=300), clock=ScaledClock(1000))
    c = emu.client("rd")
    c.connect()
    time.sleep(0.35)
    c.publish("t/a", b"x", qos=1)
    assert c.disconnected.wait(5)


# --------------------------------------------------------------------------- MQTT 5, TCP, will


def test_mqtt5_properties_and_topic_alias(emulator: Running) -> None:
    sub = emulator.client("v5sub", protocol=5)
    sub.connect()
    assert sub.subscribe("t/p") == [1]
    pub = emulator.client("v5pub", protocol=5)
    pub.connect()
    props = v5_props(
        PacketTypes.PUBLISH,
        UserProperty=[("k", "v")],
        ContentType="application/json",
        ResponseTopic="t/reply",
        CorrelationData=b"\x01\x02",
        TopicAlias=3,
    )
    pub.publish_acked("t/p", b"{}", properties=props)
    m = sub.get()
    assert m.properties.UserProperty == [("k", "v")]
    assert m.properties.ContentType == "application/json"
    assert m.properties.ResponseTopic == "t/reply"
    assert m.properties.CorrelationData == b"\x01\x02"
    # the alias now stands for t/p
    pub.publish_acked("", b"again", properties=v5_props(PacketTypes.PUBLISH, TopicAlias=3))
    m2 = sub.get()
    assert (m2.topic, m2.payload) == ("t/p", b"again")
    # v3.1.1 and v5 interoperate
    v3 = emulator.client("v3sub")
    v3.connect()
    assert v3.subscribe("t/p") == [1]
    pub.publish_acked(
        "t/p", b"mixed", properties=v5_props(PacketTypes.PUBLISH, UserProperty=[("a", "b")])
    )
    assert v3.get().payload == b"mixed"


def test_mqtt5_no_local(emulator: Running) -> None:
    c = emulator.client("nl", protocol=5)
    c.connect()
    assert c.subscribe("t/nl", noLocal=True) == [1]
    c.publish_acked("t/nl", b"mine")
    c.nothing(0.3)


def test_tcp_listener_with_username_query(start_emulator: Any) -> None:
    auth = StubAuthorizer()
    emu = start_emulator(auth, default=False)
    c = emu.client(
        "tcp1",
        transport="tcp",
        query="",
        username=f"user?x-amz-customauthorizer-name={AUTH_NAME}&token=UT&SDK=py",
    )
    c.connect()
    ev = auth.events[0]
    assert ev["token"] == "UT"
    assert ev["protocols"] == ["tls", "mqtt"] and "http" not in ev["protocolData"]
    assert c.subscribe("t/tcp") == [1]
    c.publish_acked("t/tcp", b"over tcp")
    assert c.get().payload == b"over tcp"


def test_will_published_on_connection_loss(emulator: Running) -> None:
    w = emulator.client("watch")
    w.connect()
    assert w.subscribe("t/will") == [1]
    raw = emulator.raw()
    raw.connect("dying", will=codec.Will("t/will", b"gone", 1, False))
    raw.close()
    assert w.get().payload == b"gone"


def test_client_disconnect_event_and_retained_delivery_to_v5(emulator: Running) -> None:
    o = observer(emulator, "$aws/events/presence/disconnected/+")
    c = emulator.client("bye")
    c.connect()
    c.close()
    (ev,) = events(o, 1)
    assert ev["disconnectReason"] == "CLIENT_INITIATED_DISCONNECT"
    assert ev["clientInitiatedDisconnect"] is True


def test_server_stays_up_for_others_after_a_bad_client(emulator: Running) -> None:
    good = emulator.client("good")
    good.connect()
    assert good.subscribe("t/g") == [1]
    raw = emulator.raw()
    raw.connect("bad1")
    raw.send(b"\x30\xff\xff\xff\xff\x01")  # 5-byte remaining length
    assert raw.closed(5)
    good.publish_acked("t/g", b"alive")
    assert good.get().payload == b"alive"
    assert wait_for(lambda: emulator.broker.stats["protocol_errors"] >= 1)


def test_messages_are_ordered_and_qos1_not_lost(emulator: Running) -> None:
    sub = emulator.client("ord-sub")
    sub.connect()
    assert sub.subscribe("t/ord") == [1]
    pub = emulator.client("ord-pub")
    pub.connect()
    n = 300
    infos = [pub.publish("t/ord", str(i).encode(), qos=1) for i in range(n)]
    for info in infos:
        info.wait_for_publish(5)
    got = []
    try:
        while len(got) < n:
            got.append(int(sub.get(5).payload))
    except queue.Empty:
        pass
    assert got == list(range(n))


def test_arn_region_and_account_are_configurable(start_emulator: Any) -> None:
    other = "arn:aws:iot:eu-west-1:210987654321:"
    docs = [
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "iot:Connect", "Resource": other + "client/*"},
                {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": other + "topicfilter/*"},
            ],
        }
    ]
    emu = start_emulator(StubAuthorizer(docs), region="eu-west-1", account="210987654321")
    c = emu.client("arn1")
    c.connect()
    assert c.subscribe("any/thing") == [1]
    default = start_emulator(StubAuthorizer(docs))
    assert default.client("arn2").connect(expect_ok=False).value == NOT_AUTHORIZED
    assert ARN.startswith("arn:aws:iot:us-east-1:123456789012:")
