"""The IoT Core custom-authorizer event, typed (docs/custom-authorizer.md#event).

One standard-library view of the event: the token lookup (`tokens`) and the decision
flow (`core`) read this class, never the raw dictionary; the local emulator builds one
and hands the Lambda `to_dict()`, the JSON IoT sends.

`parse` is lenient the way the decision flow needs: a container of the wrong type (for
example `protocolData` a list) counts as absent, and `parse` never raises on a JSON
object. The carriers (`token`, header values, `queryString`, the MQTT `username`,
`password` and `clientId`) keep the value as sent, typed `object`, because a carrier
of the wrong type is a malformed token (`tokens`), not a missing one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_CONNECTION_ID = 128  # the length kept for the decision log


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _connection_id(meta: dict[str, Any]) -> str | None:
    value = meta.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value)[:MAX_CONNECTION_ID]


@dataclass(frozen=True)
class AuthorizerEvent:
    """What IoT Core sends the authorizer Lambda, one field per event key."""

    token: object = None  # `token`: sent when the client used the token key name
    signature_verified: bool = False  # `signatureVerified`
    protocols: tuple[str, ...] = ()  # `protocols`: e.g. ("tls", "http", "mqtt")
    server_name: object = None  # `protocolData.tls.serverName`
    # `protocolData.http`: None when the connection has no HTTP part (MQTT over TLS).
    headers: Mapping[str, object] | None = None  # `protocolData.http.headers`
    query_string: object = None  # `protocolData.http.queryString`, "?" included
    username: object = None  # `protocolData.mqtt.username`
    password: object = None  # `protocolData.mqtt.password`: base64 of the CONNECT password
    client_id: object = None  # `protocolData.mqtt.clientId`
    connection_id: str | None = None  # `connectionMetadata.id`, at most 128 characters

    @classmethod
    def parse(cls, event: Any) -> AuthorizerEvent | None:
        """The view of an event; None when the event is not a JSON object."""
        if not isinstance(event, dict):
            return None
        protocol_data = _dict(event.get("protocolData"))
        http = protocol_data.get("http")
        mqtt = _dict(protocol_data.get("mqtt"))
        protocols = event.get("protocols")
        return cls(
            token=event.get("token"),
            signature_verified=event.get("signatureVerified") is True,
            protocols=tuple(p for p in protocols if isinstance(p, str))
            if isinstance(protocols, list)
            else (),
            server_name=_dict(protocol_data.get("tls")).get("serverName"),
            headers=_dict(http.get("headers")) if isinstance(http, dict) else None,
            query_string=http.get("queryString") if isinstance(http, dict) else None,
            username=mqtt.get("username"),
            password=mqtt.get("password"),
            client_id=mqtt.get("clientId"),
            connection_id=_connection_id(_dict(event.get("connectionMetadata"))),
        )

    def to_dict(self) -> dict[str, Any]:
        """The event as IoT sends it: keys that are unset (None) are left out, except
        `protocolData.mqtt`, always present for an MQTT connection."""
        out: dict[str, Any] = {}
        if self.token is not None:
            out["token"] = self.token
        out["signatureVerified"] = self.signature_verified
        out["protocols"] = list(self.protocols)
        protocol_data: dict[str, Any] = {"tls": {"serverName": self.server_name}}
        if self.headers is not None:
            http: dict[str, Any] = {"headers": dict(self.headers)}
            if self.query_string is not None:
                http["queryString"] = self.query_string
            protocol_data["http"] = http
        mqtt: dict[str, Any] = {}
        for key, value in (
            ("username", self.username),
            ("password", self.password),
            ("clientId", self.client_id),
        ):
            if value is not None:
                mqtt[key] = value
        protocol_data["mqtt"] = mqtt
        out["protocolData"] = protocol_data
        if self.connection_id is not None:
            out["connectionMetadata"] = {"id": self.connection_id}
        return out
