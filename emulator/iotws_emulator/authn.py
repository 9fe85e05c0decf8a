"""The two ways a connection is authenticated, behind one interface.

`Authenticator.authenticate` takes what the gateway knows about a connection (the upgrade
request and the MQTT CONNECT) and returns a `Grant`, or raises `ConnectRefused`:

- **SigV4 guest** (`SigV4GuestPath`, the Cognito guest path, cog-iot-policies.html): the
  upgrade request was SigV4-presigned and checked by the server (`sigv4.py`); the guest
  role's IAM policy decides, no Lambda runs, and the policy is never refreshed.
  Connections last up to 24 hours.
- **Custom authorizer** (`CustomAuthorizerPath`, custom-auth-lambda.html): the authorizer
  named by the client (header, query or user-name query) or the endpoint's default one.
  With token signing on, the gateway checks the signature itself and refuses a bad or
  missing one without calling the Lambda (custom-authorizer.html); then the Lambda runs
  (`auth.invoke`) and its answer is checked as IoT checks it (`auth.validate_response`).
  The grant can be refreshed: `Grant.refresh()` invokes the Lambda again with the same
  event, which the session does every `refreshAfterInSeconds`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass, field

from iotws.authorizer_code import AuthorizerEvent
from iotws.invoke import LambdaContext
from iotws.iot.facts import IAM_CONNECTION_SECONDS
from iotws_emulator import codec
from iotws_emulator.auth import (
    AuthorizerBinding,
    AuthRefused,
    AuthResult,
    CallSlots,
    RequestInfo,
    build_event,
    invoke,
    select_authorizer_name,
    validate_response,
)
from iotws_emulator.config import EmulatorConfig
from iotws_emulator.limits import RC_NOT_AUTHORIZED, V3_NOT_AUTHORIZED
from iotws_emulator.policy import CompiledPolicy
from iotws_emulator.signing import check_request, signing_keys

auth_log = logging.getLogger("iotws.emulator.authorizer")


class ConnectRefused(Exception):
    """The connection is refused before CONNACK; `lifecycle` says whether IoT publishes a
    `connect_failed` event for it."""

    def __init__(
        self,
        reason: str,
        *,
        v3: int = V3_NOT_AUTHORIZED,
        v5: int = RC_NOT_AUTHORIZED,
        lifecycle: bool = True,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.v3 = v3
        self.v5 = v5
        self.lifecycle = lifecycle


@dataclass
class Grant:
    """What a connection may do, and for how long."""

    principal: str
    policy: CompiledPolicy
    label: str  # the authorizer's name, or "sigv4"
    disconnect_after: int  # seconds: a hard cap on the connection's life
    refresh_after: float  # seconds until the policy is fetched again; math.inf for never
    profile: str | None = None
    variables: dict[str, str] = field(default_factory=dict)  # policy variables of the path
    _path: CustomAuthorizerPath | None = None
    _event: AuthorizerEvent | None = None

    @property
    def refreshable(self) -> bool:
        return self._path is not None

    async def refresh(self) -> Grant:
        """Invoke the authorizer again with the connection's event; raise AuthRefused."""
        if self._path is None or self._event is None:
            return self
        return await self._path.invoke(self._event)


@dataclass(frozen=True)
class ConnectRequest:
    info: RequestInfo
    connect: codec.Connect
    client_id: str
    assigned: bool  # the server assigned the client id (the client sent none)
    connection_id: str


class SigV4GuestPath:
    async def authenticate(self, req: ConnectRequest) -> Grant:
        iam = req.info.iam
        assert iam is not None
        return Grant(
            principal=iam.identity_id,
            policy=iam.policy,
            label="sigv4",
            disconnect_after=IAM_CONNECTION_SECONDS,
            refresh_after=math.inf,
            profile=iam.profile,
            variables=dict(iam.variables),
        )


class CustomAuthorizerPath:
    """One custom authorizer: token signing check, Lambda invocation, response check."""

    def __init__(
        self, binding: AuthorizerBinding, config: EmulatorConfig, slots: CallSlots
    ) -> None:
        self.binding = binding
        self.config = config
        self.slots = slots
        self._profiles: dict[str, str] = {}
        self._deny_reasons: dict[str, str] = {}  # connection id -> the authorizer's reason
        set_sink = getattr(binding.authorizer, "set_log_sink", None)
        if callable(set_sink):
            set_sink(self.authorizer_log_line)

    def authorizer_log_line(self, line: str) -> None:
        """The authorizer's decision line (INTERNALS.md): keep the profile for our log."""
        auth_log.debug("%s", line)
        try:
            record = json.loads(line)
        except ValueError:
            return
        if isinstance(record, dict):
            cid, profile = record.get("connection_id"), record.get("profile")
            if isinstance(cid, str) and isinstance(profile, str):
                if len(self._profiles) > 10_000:
                    self._profiles.clear()
                self._profiles[cid] = profile
            # A deny's reason code and detail (never a token or secret: the authorizer's
            # log contract) are kept so that the DENY line says why.
            reason, detail = record.get("reason"), record.get("detail")
            if (
                record.get("decision") == "deny"
                and isinstance(cid, str)
                and isinstance(reason, str)
            ):
                if len(self._deny_reasons) > 10_000:
                    self._deny_reasons.clear()
                why = reason + (f" ({detail})" if isinstance(detail, str) else "")
                self._deny_reasons[cid] = why

    def lambda_context(self) -> LambdaContext:
        c = self.config
        return LambdaContext.of(
            c.region, c.account, self.binding.name, timeout_seconds=c.authorizer_timeout
        )

    async def invoke(self, event: AuthorizerEvent) -> Grant:
        """Run the Lambda and check its answer; raise AuthRefused."""
        response = await invoke(
            self.binding, event, self.lambda_context(), self.config.authorizer_timeout, self.slots
        )
        connection_id = event.connection_id or ""
        why = self._deny_reasons.pop(str(connection_id), None)
        try:
            result: AuthResult = validate_response(response, self.config.engine)
        except AuthRefused as exc:
            if why is None:
                raise
            raise AuthRefused(f"{exc}, reason {why}") from exc
        return Grant(
            principal=result.principal_id,
            policy=result.policy,
            label=self.binding.name,
            disconnect_after=result.disconnect_after,
            refresh_after=result.refresh_after,
            profile=self._profiles.get(connection_id),
            _path=self,
            _event=event,
        )

    async def authenticate(self, req: ConnectRequest) -> Grant:
        binding = self.binding
        p = req.connect
        event = build_event(
            req.info,
            client_id=None if req.assigned else req.client_id,
            username=p.username,
            password=p.password,
            token_key_name=binding.token_key_name,
            connection_id=req.connection_id,
        )
        keys = signing_keys(binding.config)
        if keys is not None:
            token = event.token if isinstance(event.token, str) else None
            refusal = check_request(token, req.info.headers, req.info.query, p.username, keys)
            if refusal is not None:
                raise ConnectRefused(
                    f"token signature check failed ({refusal}); authorizer not invoked"
                )
            event = dataclasses.replace(event, signature_verified=True)
        try:
            return await self.invoke(event)
        except AuthRefused as exc:
            raise ConnectRefused(f"authorizer {binding.name}: {exc}") from None


class Authenticator:
    """Picks the path for a connection and runs it."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.guest = SigV4GuestPath()
        slots = CallSlots(config.max_authorizer_calls)
        self.custom = {
            name: CustomAuthorizerPath(b, config, slots) for name, b in config.authorizers.items()
        }

    async def authenticate(self, req: ConnectRequest) -> Grant:
        if req.info.iam is not None:
            return await self.guest.authenticate(req)
        name = (
            select_authorizer_name(req.info, req.connect.username) or self.config.default_authorizer
        )
        path = self.custom.get(name) if name else None
        if path is None:
            raise ConnectRefused(f"no authorizer named {name!r}")
        return await path.authenticate(req)
