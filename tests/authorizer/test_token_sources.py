"""Where the token travels (docs/custom-authorizer.md#where-credentials-travel), and events of the
wrong shape."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

SOURCE_EVENTS = [
    ("mqtt_token_field.json", "token"),
    ("wss_header.json", "header"),
    ("wss_query.json", "query"),
    ("mqtt_password.json", "password"),
    ("mqtt_username_query.json", "username"),
]


@pytest.mark.parametrize(("event_file", "source"), SOURCE_EVENTS)
def test_token_found_in_each_source(
    authorizer: Any, mint: Callable[..., str], event: Any, valid: Any, event_file: str, source: str
) -> None:
    # GIVEN a valid token carried in one place of a real-shaped event
    ev = event(event_file, mint())
    # WHEN the authorizer runs
    response = authorizer(ev)
    # THEN the user profile is granted, bound to the exact client id
    valid(response, allowed=True)
    assert authorizer.last_log["profile"] == "user"
    resources = str(response["policyDocuments"])
    assert "client/u-alice-1" in resources and "users/alice/*" in resources


@pytest.mark.parametrize(("event_file", "source"), SOURCE_EVENTS)
def test_source_not_configured_is_not_consulted(
    make_authorizer: Any,
    config: dict[str, Any],
    mint: Callable[..., str],
    event: Any,
    valid: Any,
    event_file: str,
    source: str,
) -> None:
    # GIVEN the one source carrying the token is not in token.sources, and no fallback
    config["token"]["sources"] = [s for s in config["token"]["sources"] if s != source]
    config["public_profile"] = None
    authorizer = make_authorizer(config)
    response = authorizer(event(event_file, mint()))
    valid(response, allowed=False)
    assert authorizer.reason == "no_token"


def test_configured_order_decides_which_token_wins(
    make_authorizer: Any, config: dict[str, Any], mint: Callable[..., str], simple: Any, valid: Any
) -> None:
    ev = simple(mint(sub="bob"), client_id="u-alice-1")
    ev["protocolData"]["http"] = {"queryString": f"?token={mint()}"}
    # default order: the event's token field (bob) comes first; u-alice-1 is not bob's id
    authorizer = make_authorizer(config)
    valid(authorizer(ev), allowed=False)
    assert authorizer.reason == "bad_client_id"
    config["token"]["sources"] = ["query", "token"]
    authorizer = make_authorizer(config)
    valid(authorizer(ev), allowed=True)


@pytest.mark.parametrize("name", ["token", "Token", "TOKEN", "tOkEn"])
def test_header_lookup_is_case_insensitive(
    authorizer: Any, mint: Callable[..., str], valid: Any, name: str
) -> None:
    ev = {"protocolData": {"http": {"headers": {name: mint()}}, "mqtt": {"clientId": "u-alice-1"}}}
    valid(authorizer(ev), allowed=True)


def test_header_sent_twice_in_different_casings_is_malformed(
    authorizer: Any, mint: Callable[..., str], valid: Any
) -> None:
    ev = {
        "protocolData": {
            "http": {"headers": {"token": mint(), "TOKEN": mint(sub="bob")}},
            "mqtt": {"clientId": "u-alice-1"},
        }
    }
    valid(authorizer(ev), allowed=False)
    assert authorizer.reason == "malformed_token"


@pytest.mark.parametrize(
    "query",
    [
        "?token={t}",
        "token={t}",  # without the leading "?": tolerated
        "?x-amz-customauthorizer-name=a&token={t}&x-amz-customauthorizer-signature=c2ln",
        "?token={t}&SDK=JavaScript&Version=5",
        "?x=%2F%2B&token={t}",
    ],
)
def test_query_string_variants(
    authorizer: Any, mint: Callable[..., str], valid: Any, query: str
) -> None:
    ev = {
        "protocolData": {
            "http": {"queryString": query.format(t=mint())},
            "mqtt": {"clientId": "u-alice-1"},
        }
    }
    valid(authorizer(ev), allowed=True)


def test_url_encoded_token_in_query_is_decoded(
    authorizer: Any, mint: Callable[..., str], valid: Any
) -> None:
    token = mint()
    encoded = token.replace(".", "%2E")
    ev = {
        "protocolData": {
            "http": {"queryString": f"?token={encoded}"},
            "mqtt": {"clientId": "u-alice-1"},
        }
    }
    valid(authorizer(ev), allowed=True)


def test_username_without_query_has_no_token(authorizer: Any, simple: Any, valid: Any) -> None:
    ev = simple(client_id="anon-1")
    ev["protocolData"]["mqtt"]["username"] = "alice"
    valid(authorizer(ev), allowed=True)
    assert authorizer.reason == "anonymous"


def test_username_query_tolerates_extra_params_in_any_order(
    authorizer: Any, mint: Callable[..., str], simple: Any, valid: Any
) -> None:
    ev = simple(client_id="u-alice-1")
    ev["protocolData"]["mqtt"]["username"] = (
        f"?SDK=Python&Version=1.0&token={mint()}&x-amz-customauthorizer-name=A&extra"
    )
    valid(authorizer(ev), allowed=True)


def test_aws_doc_sample_event_is_denied_cleanly(authorizer: Any, event: Any, valid: Any) -> None:
    # The guide's sample carries the literal token "aToken": not a JWT.
    valid(authorizer(event("aws_doc_sample.json")), allowed=False)
    assert authorizer.reason == "malformed_token"


# ------------------------------------------------------------------ wrong shapes


def _mqtt(**fields: Any) -> dict[str, Any]:
    return {"protocolData": {"mqtt": {"clientId": "u-alice-1", **fields}}}


WRONG_SHAPES: list[tuple[str, Any, str]] = [
    ("event is a list", [], "bad_event"),
    ("event is null", None, "bad_event"),
    ("event is a string", "token", "bad_event"),
    ("protocolData is a list", {"protocolData": [], "token": "x"}, "missing_client_id"),
    ("mqtt is a string", {"protocolData": {"mqtt": "c"}}, "missing_client_id"),
    ("clientId is a number", {"protocolData": {"mqtt": {"clientId": 7}}}, "bad_client_id"),
    ("clientId is a list", {"protocolData": {"mqtt": {"clientId": ["a"]}}}, "bad_client_id"),
    ("token is a number", {**_mqtt(), "token": 12}, "malformed_token"),
    ("token is an object", {**_mqtt(), "token": {"a": 1}}, "malformed_token"),
    ("password is not base64", _mqtt(password="not base64!"), "malformed_token"),
    ("password has bad padding", _mqtt(password="YWJ"), "malformed_token"),
    (
        "password is base64 of bytes that are not UTF-8",
        _mqtt(password=base64.b64encode(b"\xff\xfe").decode()),
        "malformed_token",
    ),
    ("password is a number", _mqtt(password=5), "malformed_token"),
    ("username is a list", _mqtt(username=["u"]), "malformed_token"),
    (
        "queryString is an object",
        {"protocolData": {"http": {"queryString": {}}, "mqtt": {"clientId": "u-alice-1"}}},
        "malformed_token",
    ),
    (
        "header value is a list",
        {
            "protocolData": {
                "http": {"headers": {"token": ["x"]}},
                "mqtt": {"clientId": "u-alice-1"},
            }
        },
        "malformed_token",
    ),
    (
        "token twice in the query string",
        {
            "protocolData": {
                "http": {"queryString": "?token=a&token=b"},
                "mqtt": {"clientId": "a-1"},
            }
        },
        "malformed_token",
    ),
    (
        "query string percent-encodes bytes that are not UTF-8",
        {"protocolData": {"http": {"queryString": "?token=%ff"}, "mqtt": {"clientId": "a-1"}}},
        "malformed_token",
    ),
    (
        "query string with too many fields",
        {
            "protocolData": {
                "http": {"queryString": "?" + "&".join(["a=b"] * 100)},
                "mqtt": {"clientId": "a-1"},
            }
        },
        "malformed_token",
    ),
]


@pytest.mark.parametrize(
    ("event", "reason"), [(e, r) for _, e, r in WRONG_SHAPES], ids=[n for n, _, _ in WRONG_SHAPES]
)
def test_wrong_shapes_are_denied(authorizer: Any, valid: Any, event: Any, reason: str) -> None:
    response = authorizer(event)
    valid(response, allowed=False)
    assert authorizer.reason == reason


def test_headers_of_the_wrong_type_are_ignored(authorizer: Any, simple: Any, valid: Any) -> None:
    # A container of the wrong type counts as absent: here, the anonymous fallback applies.
    ev = simple(client_id="anon-1")
    ev["protocolData"]["http"] = {"headers": ["token", "x"], "queryString": None}
    valid(authorizer(ev), allowed=True)
    assert authorizer.reason == "anonymous"


def test_empty_token_counts_as_absent(authorizer: Any, simple: Any, valid: Any) -> None:
    valid(authorizer(simple("", client_id="anon-1")), allowed=True)
    assert authorizer.reason == "anonymous"


# ------------------------------------------------------------------ sizes


@pytest.mark.parametrize("where", ["token", "header", "query", "password", "username"])
def test_oversized_token_is_refused_before_parsing(authorizer: Any, valid: Any, where: str) -> None:
    big = "a" * 4097
    mqtt: dict[str, Any] = {"clientId": "u-alice-1"}
    ev: dict[str, Any] = {"protocolData": {"mqtt": mqtt}}
    if where == "token":
        ev["token"] = big
    elif where == "header":
        ev["protocolData"]["http"] = {"headers": {"Token": big}}
    elif where == "query":
        ev["protocolData"]["http"] = {"queryString": f"?token={big}"}
    elif where == "password":
        mqtt["password"] = base64.b64encode(big.encode()).decode()
    else:
        mqtt["username"] = f"u?token={big}"
    valid(authorizer(ev), allowed=False)
    assert authorizer.reason == "token_too_long"


def test_huge_carrier_strings_are_refused(authorizer: Any, valid: Any) -> None:
    ev = {
        "protocolData": {"http": {"queryString": "?" + "x" * 100_000}, "mqtt": {"clientId": "a-1"}}
    }
    valid(authorizer(ev), allowed=False)
    assert authorizer.reason == "token_too_long"


def test_token_at_exactly_max_length_is_parsed(
    make_authorizer: Any, config: dict[str, Any], simple: Any, valid: Any
) -> None:
    config["token"]["max_length"] = 300
    authorizer = make_authorizer(config)
    valid(authorizer(simple("a" * 300)), allowed=False)
    assert authorizer.reason == "malformed_token"  # parsed (and refused), not too long
    valid(authorizer(simple("a" * 301)), allowed=False)
    assert authorizer.reason == "token_too_long"


@pytest.mark.parametrize(
    "ev",
    [{}, {"protocolData": {}}, {"protocolData": {"mqtt": {}}}, {"protocolData": {"http": {}}}],
    ids=["empty", "no protocols", "mqtt without client id", "http only"],
)
def test_missing_fields_are_denied(authorizer: Any, valid: Any, ev: dict[str, Any]) -> None:
    valid(authorizer(ev), allowed=False)
    assert authorizer.reason == "missing_client_id"
    assert authorizer.last_log["connection_id"] is None


def test_minimal_event_gets_the_anonymous_profile(authorizer: Any, event: Any, valid: Any) -> None:
    valid(authorizer(event("mqtt_minimal.json")), allowed=True)
    assert authorizer.reason == "anonymous"
