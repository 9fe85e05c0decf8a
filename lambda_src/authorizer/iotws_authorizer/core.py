"""The decision flow. Deny by default, fail closed: any exception is a deny.

1. Load the configuration (cached); a bad configuration denies everything.
2. Mode `public`: every client gets `public_profile`; tokens are ignored.
   Token modes: find the token (iotws_authorizer.tokens). No token at all: the
   anonymous fallback `public_profile` if configured, else `no_token`. A token that is
   present but invalid is always a deny, never a downgrade (INTERNALS.md).
3. Verify it with the mode's verifier and select the profile from its claims.
4. Check the identity values and the client-id rule, fill the slots, check the sizes.
5. Answer per docs/custom-authorizer.md#response and log one line.
"""

from __future__ import annotations

from typing import Any

from iotws_authorizer import config, identity, log, response, tokens
from iotws_authorizer.errors import (
    ANONYMOUS,
    BAD_EVENT,
    INTERNAL_ERROR,
    MISSING_CLIENT_ID,
    NO_TOKEN,
    OK,
    Deny,
)
from iotws_authorizer.event import AuthorizerEvent

_FALLBACK_SECONDS = config.SESSION_MIN  # deny responses before the config is known


def authorize(event: Any, context: Any) -> dict[str, Any]:
    """Decide one custom-authorizer request; never raises."""
    cfg: config.Config | None = None
    connection_id = profile_name = None
    try:
        view = AuthorizerEvent.parse(event)
        connection_id = view.connection_id if view is not None else None
        cfg = config.get()
        if view is None:
            raise Deny(BAD_EVENT)
        principal, profile_name, documents, reason = _decide(view, context, cfg)
        result = response.allow(principal, documents, cfg.refresh_after, cfg.disconnect_after)
        log.emit("allow", reason, connection_id, principal, profile_name, cfg.mode)
        return result
    except Deny as exc:
        reason, detail = exc.reason, exc.detail
    except Exception as exc:  # noqa: BLE001 - fail closed on any bug; the class name only
        reason, detail = INTERNAL_ERROR, type(exc).__name__
    mode = cfg.mode if cfg is not None else None
    try:
        log.emit("deny", reason, connection_id, None, profile_name, mode, detail)
    except Exception:  # noqa: BLE001, S110 - a failing log sink must not turn a deny into an error
        pass
    if cfg is None:
        return response.deny(_FALLBACK_SECONDS, _FALLBACK_SECONDS)
    return response.deny(cfg.refresh_after, cfg.disconnect_after)


def _decide(
    event: AuthorizerEvent, context: Any, cfg: config.Config
) -> tuple[str, str, list[dict[str, Any]], str]:
    client_id = event.client_id
    # No client id (e.g. HTTPS publish): the Connect resource cannot be bound to an
    # exact id (INTERNALS.md), so deny in every mode. Simple and safe.
    if client_id is None:
        raise Deny(MISSING_CLIENT_ID)

    claims: dict[str, Any] = {}
    subject: str | None = None
    reason = OK
    if cfg.mode == "public":
        profile = cfg.public_profile
    else:
        token = tokens.find(event, cfg.token)
        if token is None:
            if cfg.public_profile is None:
                raise Deny(NO_TOKEN)
            profile, reason = cfg.public_profile, ANONYMOUS
        else:
            claims, subject = cfg.verifier.verify(token, cfg.verifier_settings)
            profile = identity.select_profile(claims, cfg)
    if profile is None:  # pragma: no cover - config.parse requires it in mode public
        raise Deny(NO_TOKEN)

    values = identity.slot_values(profile, claims, client_id, cfg, context)
    documents = identity.documents(profile, values)
    # slot_values accepted the client id: a string within the identity character set.
    principal = response.principal_id(cfg.mode, profile.name, subject or str(client_id))
    return principal, profile.name, documents, reason
