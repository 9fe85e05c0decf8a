"""The custom-authorizer flow as the IoT device gateway runs it.

- `build_event` makes the Lambda event exactly as docs/custom-authorizer.md#event lists it.
- `validate_response` checks the Lambda's answer as IoT does (docs/custom-authorizer.md#response);
  any violation refuses the connection.
- `AuthorizerBinding` ties an authorizer name to the object that runs it (the packaged
  authorizer loaded in-process, or a stub in tests) and to its token key name.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl

from iotws.authorizer_code import AuthorizerEvent
from iotws.invoke import LambdaContext
from iotws.iot.facts import (
    MAX_DOCUMENT_CHARS,
    MAX_DOCUMENTS,
    SESSION_MAX_SECONDS,
    SESSION_MIN_SECONDS,
)
from iotws_emulator.policy import CompiledPolicy, PolicyEngine

AUTHORIZER_NAME_PARAM = "x-amz-customauthorizer-name"
PRINCIPAL_RE = re.compile(r"[a-zA-Z0-9]{1,128}")  # docs/custom-authorizer.md#response
TTL_MIN, TTL_MAX = SESSION_MIN_SECONDS, SESSION_MAX_SECONDS  # docs/custom-authorizer.md#response


class Authorizer(Protocol):
    """What the emulator needs from an authorizer (`iotws.invoke.load_authorizer`)."""

    def invoke(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]: ...


@dataclass
class AuthorizerBinding:
    name: str
    authorizer: Authorizer
    token_key_name: str | None = None
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IamIdentity:
    """A connection whose upgrade request carried a valid SigV4-presigned query (the Cognito
    guest path, docs/cognito-guests.md): the guest role's IAM policy decides, no Lambda runs."""

    identity_id: str
    access_key_id: str
    policy: CompiledPolicy
    profile: str | None = None
    variables: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RequestInfo:
    """What the gateway knows about one connection before the MQTT CONNECT."""

    transport: str  # "wss" or "tcp"
    path: str = "/mqtt"
    query: str = ""  # raw query string without "?"
    headers: tuple[tuple[str, str], ...] = ()
    server_name: str = "localhost"
    source_ip: str = "127.0.0.1"
    iam: IamIdentity | None = None  # set when the upgrade was SigV4-presigned

    def header(self, name: str) -> str | None:
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return None

    def query_params(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query, keep_blank_values=True)

    def query_param(self, name: str) -> str | None:
        for k, v in self.query_params():
            if k == name:
                return v
        return None


def username_query(username: str | None) -> list[tuple[str, str]]:
    """The `?k=v&...` part of an MQTT user name
    (docs/custom-authorizer.md#where-credentials-travel), parsed tolerantly."""
    if not username or "?" not in username:
        return []
    return parse_qsl(username.split("?", 1)[1], keep_blank_values=True)


def select_authorizer_name(info: RequestInfo, username: str | None) -> str | None:
    """The authorizer the client asked for (header, query, user-name query), or None."""
    name = info.header(AUTHORIZER_NAME_PARAM)
    if name is None:
        name = info.query_param(AUTHORIZER_NAME_PARAM)
    if name is None:
        for k, v in username_query(username):
            if k == AUTHORIZER_NAME_PARAM:
                name = v
                break
    return name


def find_token(info: RequestInfo, username: str | None, key_name: str | None) -> str | None:
    """The token IoT puts in `event.token`: the value under the authorizer's token key name
    in the upgrade request's headers or query, or in the MQTT user-name query
    (config-custom-auth.html: the token key name extracts the token "from the HTTP headers,
    query parameters, or MQTT CONNECT user name"). Which one wins when several carry it is
    unverified: headers first, then query, then user name.
    """
    if not key_name:
        return None
    value = info.header(key_name)
    if value is not None:
        return value
    value = info.query_param(key_name)
    if value is not None:
        return value
    for k, v in username_query(username):
        if k == key_name:
            return v
    return None


def build_event(
    info: RequestInfo,
    *,
    client_id: str | None,
    username: str | None,
    password: bytes | None,
    token_key_name: str | None,
    connection_id: str,
) -> AuthorizerEvent:
    """The Lambda event, key by key as in docs/custom-authorizer.md#event
    (custom-auth-lambda.html), as the authorizer's own typed view; `to_dict()` is the JSON
    the Lambda receives."""
    wss = info.transport == "wss"
    return AuthorizerEvent(
        token=find_token(info, username, token_key_name),
        # The broker sets True after its own signature check when signing is on.
        signature_verified=False,
        protocols=("tls", "http", "mqtt") if wss else ("tls", "mqtt"),
        server_name=info.server_name,
        headers={k: v for k, v in info.headers} if wss else None,
        # ONE string starting with "?" (docs/custom-authorizer.md#event)
        query_string="?" + info.query if wss and info.query else None,
        username=username,
        password=base64.b64encode(password).decode("ascii") if password is not None else None,
        client_id=client_id or None,  # only when the client sent one
        connection_id=connection_id,
    )


@dataclass
class AuthResult:
    principal_id: str
    policy: CompiledPolicy
    documents: list[dict[str, Any]]
    disconnect_after: int
    refresh_after: int


class AuthRefused(Exception):
    """The authorizer denied, failed, timed out or answered something IoT would reject."""


def validate_response(response: Any, engine: PolicyEngine) -> AuthResult:
    """Check a response as IoT does (docs/custom-authorizer.md#response); raise AuthRefused on any
    fault."""
    if not isinstance(response, Mapping):
        raise AuthRefused(f"response is {type(response).__name__}, not a JSON object")
    ok = response.get("isAuthenticated")
    if not isinstance(ok, bool):
        raise AuthRefused("isAuthenticated is missing or not a boolean")
    if not ok:
        raise AuthRefused("isAuthenticated is false")
    principal = response.get("principalId")
    if not isinstance(principal, str) or not PRINCIPAL_RE.fullmatch(principal):
        raise AuthRefused("principalId must be 1 to 128 letters and digits ([a-zA-Z0-9]{1,128})")
    ttl: dict[str, int] = {}
    for key in ("disconnectAfterInSeconds", "refreshAfterInSeconds"):
        value = response.get(key)
        # IoT's defaults for missing values are undocumented (docs/custom-authorizer.md#response):
        # the emulator requires both so that a missing one is caught locally.
        if isinstance(value, bool) or not isinstance(value, int):
            raise AuthRefused(f"{key} is missing or not an integer")
        if not TTL_MIN <= value <= TTL_MAX:
            raise AuthRefused(f"{key}={value} is outside {TTL_MIN}..{TTL_MAX}")
        ttl[key] = value
    docs = response.get("policyDocuments")
    if not isinstance(docs, list):
        raise AuthRefused("policyDocuments is missing or not a list")
    if len(docs) > MAX_DOCUMENTS:
        raise AuthRefused(f"{len(docs)} policy documents; at most {MAX_DOCUMENTS}")
    parsed: list[dict[str, Any]] = []
    for i, doc in enumerate(docs):
        if isinstance(doc, str):
            # Whether IoT accepts documents as strings is unverified
            # (docs/custom-authorizer.md#response):
            # accepted here when they parse to an object, measured as sent.
            text = doc
            try:
                value = json.loads(doc)
            except ValueError as exc:
                raise AuthRefused(f"policyDocuments[{i}] is not valid JSON: {exc}") from exc
            if not isinstance(value, dict):
                raise AuthRefused(f"policyDocuments[{i}] is not a JSON object")
        elif isinstance(doc, dict):
            value = doc
            text = json.dumps(doc, separators=(",", ":"))
        else:
            raise AuthRefused(f"policyDocuments[{i}] is {type(doc).__name__}, not an object")
        if len(text) > MAX_DOCUMENT_CHARS:
            raise AuthRefused(
                f"policyDocuments[{i}] has {len(text)} characters; at most {MAX_DOCUMENT_CHARS}"
            )
        parsed.append(value)
    try:
        policy = engine.compile(parsed)
    except Exception as exc:  # noqa: BLE001 - any parse failure refuses, as IoT does
        raise AuthRefused(f"policy documents do not parse: {exc}") from exc
    return AuthResult(
        principal_id=principal,
        policy=policy,
        documents=parsed,
        disconnect_after=ttl["disconnectAfterInSeconds"],
        refresh_after=ttl["refreshAfterInSeconds"],
    )


class CallSlots:
    """A bound on authorizer calls in progress, like Lambda's concurrency limit.

    Each call runs in a thread of its own, so one hanging call never delays another (no
    shared pool, no lock around the handler). A call that outlives its deadline is
    abandoned (its connection is refused) but keeps its slot until its thread returns, so
    at most `limit` threads ever exist; past that, new calls are refused at once, as Lambda
    refuses invocations past its concurrency limit (the default of 1,000 is on the Lambda
    quotas page, docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
    """

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self._free = threading.BoundedSemaphore(limit)

    def acquire(self) -> bool:
        return self._free.acquire(blocking=False)

    def release(self) -> None:
        self._free.release()


def _settle(fut: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if fut.done():
        return  # the caller gave up (deadline passed)
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)


async def invoke(
    binding: AuthorizerBinding,
    event: AuthorizerEvent,
    context: LambdaContext,
    timeout: float,
    slots: CallSlots,
) -> Any:
    """Run the authorizer in a thread of its own with IoT's time limit (5 s,
    custom-auth-lambda.html); raise AuthRefused on timeout, error or no free slot."""
    if not slots.acquire():
        raise AuthRefused(
            f"{slots.limit} authorizer calls already in progress: throttled "
            "(as Lambda refuses invocations past its concurrency limit)"
        )
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[Any] = loop.create_future()

    def run() -> None:
        try:
            result, error = binding.authorizer.invoke(event.to_dict(), context), None
        except BaseException as exc:  # noqa: BLE001 - reported to the waiting connection
            result, error = None, exc
        finally:
            slots.release()
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(_settle, fut, result, error)

    threading.Thread(target=run, name=f"iotws-authorizer-{binding.name}", daemon=True).start()
    try:
        return await asyncio.wait_for(fut, timeout)
    except TimeoutError as exc:
        raise AuthRefused(f"authorizer timed out after {timeout:g} s") from exc
    except Exception as exc:  # noqa: BLE001 - a raising Lambda fails the connection
        raise AuthRefused(f"authorizer raised {type(exc).__name__}: {exc}") from exc


def binding_from_config(authorizer: Authorizer, config: Mapping[str, Any]) -> AuthorizerBinding:
    token = config.get("token") or {}
    name = config.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("authorizer configuration has no `name`")
    key = token.get("key_name") if isinstance(token, Mapping) else None
    return AuthorizerBinding(name, authorizer, key if isinstance(key, str) else None, dict(config))
