"""Find the token in an IoT Core custom-authorizer event (docs/custom-authorizer.md#event),
read through its typed view (`iotws_authorizer.event.AuthorizerEvent`).

Sources, tried in the order of the configuration's `token.sources` (the default order
is docs/custom-authorizer.md#where-credentials-travel's: event `token`, headers, query string, MQTT
password, MQTT
user-name query):

- `token`: the event's `token` field (the authorizer's token key name was sent).
- `header`: `protocolData.http.headers[<key name>]`, looked up case-insensitively
  (header-name casing is unverified).
- `query`: `protocolData.http.queryString`, one string starting with "?".
- `password`: `protocolData.mqtt.password`, base64 of the CONNECT password (strict).
- `username`: the query part of `protocolData.mqtt.username`
  (`user?x-amz-customauthorizer-name=A&<key>=T&SDK=...&Version=...`; extra keys ignored).

Rules: an empty value counts as absent; a container of the wrong type (e.g.
`protocolData` a list) counts as absent; a carrier of the wrong type, undecodable
content or an ambiguous repeat of the key is `malformed_token`; anything longer than
`token.max_length` is `token_too_long`, checked before any parsing.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable

from iotws_authorizer.config import TokenSettings
from iotws_authorizer.errors import MALFORMED_TOKEN, TOKEN_TOO_LONG, Deny
from iotws_authorizer.event import AuthorizerEvent

# Slack for the rest of a query string or user name around the token (authorizer name,
# signature, SDK metrics); longer strings are refused before they are parsed.
QUERY_SLACK = 2048
MAX_QUERY_FIELDS = 64


def find(event: AuthorizerEvent, settings: TokenSettings) -> str | None:
    """The token from the first configured source that has one, else None."""
    for source in settings.sources:
        token = _FINDERS[source](event, settings)
        if token:
            if len(token) > settings.max_length:
                raise Deny(TOKEN_TOO_LONG)
            return token
    return None


def _string(value: object, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Deny(MALFORMED_TOKEN, "token carrier is not a string")
    if len(value) > limit:
        raise Deny(TOKEN_TOO_LONG)
    return value


def _from_token(event: AuthorizerEvent, settings: TokenSettings) -> str | None:
    return _string(event.token, settings.max_length)


def _from_header(event: AuthorizerEvent, settings: TokenSettings) -> str | None:
    headers = event.headers or {}
    found: list[object] = [v for k, v in headers.items() if str(k).lower() == settings.key_lower]
    if len(found) > 1:
        raise Deny(MALFORMED_TOKEN, "token header sent more than once")
    return _string(found[0], settings.max_length) if found else None


def _query_value(query: str, settings: TokenSettings) -> str | None:
    from urllib.parse import parse_qsl  # lazily: only events that carry a query

    try:
        pairs = parse_qsl(
            query, keep_blank_values=True, errors="strict", max_num_fields=MAX_QUERY_FIELDS
        )
    except ValueError:  # too many fields, or percent-encoded bytes that are not UTF-8
        raise Deny(MALFORMED_TOKEN, "query string cannot be parsed") from None
    found = [v for k, v in pairs if k == settings.key_name]
    if len(found) > 1:
        raise Deny(MALFORMED_TOKEN, "token parameter sent more than once")
    return found[0] if found else None


def _from_query(event: AuthorizerEvent, settings: TokenSettings) -> str | None:
    query = _string(event.query_string, settings.max_length + QUERY_SLACK)
    if not query:
        return None
    # IoT sends one string starting with "?"; tolerate its absence.
    return _query_value(query[1:] if query.startswith("?") else query, settings)


def _from_password(event: AuthorizerEvent, settings: TokenSettings) -> str | None:
    encoded = _string(event.password, 4 * (settings.max_length // 3 + 1))
    if not encoded:
        return None
    try:
        raw = binascii.a2b_base64(encoded, strict_mode=True)
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Deny(MALFORMED_TOKEN, "MQTT password is not base64 of UTF-8 text") from None


def _from_username(event: AuthorizerEvent, settings: TokenSettings) -> str | None:
    username = _string(event.username, settings.max_length + QUERY_SLACK)
    if not username or "?" not in username:
        return None
    return _query_value(username.split("?", 1)[1], settings)


_FINDERS: dict[str, Callable[[AuthorizerEvent, TokenSettings], str | None]] = {
    "token": _from_token,
    "header": _from_header,
    "query": _from_query,
    "password": _from_password,
    "username": _from_username,
}
