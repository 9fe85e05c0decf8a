"""iotws.spec.iotsql: the IoT SQL 2016-03-23 subset, parsed and evaluated as AWS documents it
(iot-sql-reference.html, iot-sql-functions.html, binary-payloads.html)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from iotws.spec import iotsql

TOPIC = "chat/dev/rooms/lobby/messages/in"
PAYLOAD = {
    "text": "hi",
    "n": 7,
    "d": 2.5,
    "ok": True,
    "s": "12.9",
    "nested": {"a": {"b": "deep"}, "list": [10, {"x": "y"}]},
}


def run(sql: str, payload: Any = PAYLOAD, topic: str = TOPIC, **msg: Any) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    m = iotsql.Message(topic=topic, payload=body, **msg)
    return iotsql.select(iotsql.parse(sql), iotsql.Context(m, lambda: 1_700_000_000_000))


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM 'chat/dev/rooms/+/messages/in'", PAYLOAD),
        ("select text FROM 'a/#'", {"text": "hi"}),
        ("SELECT text AS t, n FROM 'a'", {"t": "hi", "n": 7}),
        ("SELECT nested.a.b FROM 'a'", {"b": "deep"}),
        ("SELECT nested.a.b AS v, nested.list[1].x AS w FROM 'a'", {"v": "deep", "w": "y"}),
        ("SELECT missing, text FROM 'a'", {"text": "hi"}),  # Undefined is left out
        ("SELECT nested.list[5] AS gone FROM 'a'", {}),
        ("SELECT *, topic(4) AS room FROM 'a'", {**PAYLOAD, "room": "lobby"}),
        (
            "SELECT topic() AS t, topic(1) AS first, topic(9) AS none FROM 'a'",
            {"t": TOPIC, "first": "chat"},
        ),
        ("SELECT clientid() AS c, principal() AS p FROM 'a'", {"c": "alice-1", "p": "abc123"}),
        ("SELECT timestamp() AS ts FROM 'a'", {"ts": 1_700_000_000_000}),
        (
            "SELECT get(nested.list, 0) AS g, get(nested, 'a') AS h FROM 'a'",
            {"g": 10, "h": {"b": "deep"}},
        ),
        ("SELECT get(nested.list, 7) AS g FROM 'a'", {}),
        (
            "SELECT cast(s AS Int) AS i, cast(s AS Decimal) AS d, cast(n AS String) AS str "
            "FROM 'a'",
            {"i": 12, "d": 12.9, "str": "7"},
        ),
        (
            "SELECT cast(d AS Int) AS i, cast(n AS Bool) AS b, cast('TRUE' AS Boolean) AS t "
            "FROM 'a'",
            {"i": 2, "b": True, "t": True},
        ),
        (
            "SELECT cast(nested AS String) AS j, cast(text AS Int) AS bad FROM 'a'",
            {"j": json.dumps(PAYLOAD["nested"], separators=(",", ":"))},
        ),
        (
            "SELECT 'lit' AS a, 3 AS b, -1.5 AS c, true AS d FROM 'a'",
            {"a": "lit", "b": 3, "c": -1.5, "d": True},
        ),
        ("SELECT encode(text, 'base64') AS e FROM 'a'", {"e": "aGk="}),
    ],
)
def test_select(sql: str, expected: Any) -> None:
    assert run(sql, client_id="alice-1", principal="abc123") == expected


@pytest.mark.parametrize(
    ("where", "passes"),
    [
        ("n = 7", True),
        ("n = 7.0", True),  # Int and Decimal compare as numbers
        ("n <> 7", False),
        ("n != 8", True),
        ("n > 6 AND n < 8", True),
        ("n >= 8 OR text = 'hi'", True),
        ("NOT (n = 7)", False),
        ("text = 'HI'", False),  # case-sensitive
        ("text < 'zz'", True),
        ("missing = 1", False),  # Undefined never passes
        ("NOT missing = 1", False),  # NOT Undefined is Undefined
        ("missing = 1 OR n = 7", True),
        ("missing = 1 AND n = 7", False),
        ("text = 7", False),  # different types: Undefined
        ("ok = true", True),
        ("ok", True),
        ("n", False),  # not a Boolean: does not pass
        ("topic(3) = 'rooms' AND clientid() = 'alice-1'", True),
        ("nested.a.b = 'deep'", True),
        ("cast(s AS Decimal) > 12", True),
    ],
)
def test_where(where: str, passes: bool) -> None:
    out = run("SELECT text FROM 'a' WHERE " + where, client_id="alice-1")  # noqa: S608 - IoT SQL
    assert (out is not None) is passes


def test_lifecycle_event_rule_as_the_chat_example_writes_it() -> None:
    sql = (
        "SELECT * FROM '$aws/events/presence/+/+' "
        "WHERE eventType = 'connected' OR eventType = 'disconnected'"
    )
    stmt = iotsql.parse(sql)
    assert stmt.topic_filter == "$aws/events/presence/+/+"
    event = {"clientId": "alice-1", "eventType": "connected", "versionNumber": 1}
    assert run(sql, event, topic="$aws/events/presence/connected/alice-1") == event
    assert run(sql, {**event, "eventType": "connect_failed"}) is None


def test_binary_payload() -> None:
    raw = bytes(range(256))
    # SELECT * passes a binary payload through; encode(*, 'base64') makes it JSON-safe.
    assert run("SELECT * FROM 'a'", raw) == raw
    assert run("SELECT encode(*, 'base64') AS data, topic(1) AS t FROM 'a'", raw) == {
        "data": base64.b64encode(raw).decode(),
        "t": "chat",
    }
    # Fields of a binary payload are Undefined.
    assert run("SELECT text AS t FROM 'a'", raw) == {}
    with pytest.raises(iotsql.NotJson, match="encode"):
        run("SELECT *, topic() AS t FROM 'a'", raw)


def test_newuuid_and_traceid() -> None:
    out = run("SELECT newuuid() AS a, newuuid() AS b, traceid() AS t, traceid() AS u FROM 'x'")
    uuid_re = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    assert re.match(uuid_re, out["a"]) and re.match(uuid_re, out["t"])
    assert out["a"] != out["b"]  # a new one per call
    assert out["t"] == out["u"]  # one per message


def test_substitution_templates_read_the_original_payload() -> None:
    m = iotsql.Message(topic=TOPIC, payload=b'{"device": "d1"}', client_id="alice-1")
    ctx = iotsql.Context(m, lambda: 5)
    assert iotsql.substitute("out/${topic(4)}/${clientid()}/${device}", ctx) == (
        "out/lobby/alice-1/d1"
    )
    assert iotsql.substitute("x/${missing}", ctx) == "x/"


@pytest.mark.parametrize(
    ("sql", "unsupported", "names"),
    [
        ("SELECT lower(text) AS t FROM 'a'", True, "lower()"),
        ("SELECT text FROM 'a' WHERE n + 1 = 2", True, "'+'"),
        ("SELECT CASE n WHEN 7 THEN 'x' END AS c FROM 'a'", True, "CASE"),
        ("SELECT text FROM 'a' WHERE text LIKE 'h%'", True, "LIKE"),
        ("SELECT text FROM 'a' WHERE n IN (1, 2)", True, "IN"),
        ("SELECT text FROM 'a' WHERE text IS NULL", True, "IS"),
        ("SELECT cast(n AS Blob) AS b FROM 'a'", True, "'Blob'"),
        ("SELECT encode(*, 'hex') AS h FROM 'a'", True, "base64"),
        ("SELECT \"text\" FROM 'a'", True, '"'),
        ("SELECT DISTINCT text FROM 'a'", True, "DISTINCT"),
        ("SELECT text FROM 'a' ORDER BY n", True, "ORDER"),
        ("SELEC text FROM 'a'", False, "SELECT"),
        ("SELECT text FROM a/b", False, "single quotes"),
        ("SELECT text FROM 'a", False, "unterminated"),
        ("SELECT text, FROM 'a'", False, "value"),
        ("SELECT topic(0) AS t FROM 'a'", False, "topic(n)"),
        ("SELECT topic(n) AS t FROM 'a'", False, "topic(n)"),
        ("SELECT clientid(1) AS c FROM 'a'", False, "clientid() takes 0"),
        ("SELECT text FROM 'a' WHERE n = 1 = 2", False, "chained"),
        ("SELECT 5 FROM 'a'", False, "alias"),
        ("SELECT * AS x FROM 'a'", True, "alias"),
        ("SELECT text FROM 'a' WHERE", False, "value"),
        ("", False, "empty"),
    ],
)
def test_refused(sql: str, unsupported: bool, names: str) -> None:
    with pytest.raises(iotsql.SqlError) as err:
        iotsql.parse(sql)
    assert err.value.unsupported is unsupported
    assert names in str(err.value)
