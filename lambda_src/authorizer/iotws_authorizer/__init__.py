"""The iotws custom authorizer (standard library only on the hot path).

Modules, one concern each:

- `config`: loads `iotws_config.json` once per container and compiles it.
- `fields`: typed reads of its fields by the configuration's JSON Schema; errors name the
  field.
- `event`: the typed view of the IoT Core event (docs/custom-authorizer.md#event).
- `tokens`: finds the token in that view.
- `verifiers`: the verifier registry keyed by mode (`hs256` built in; `jwks` is an
  module `iotws_authorizer.jwks`, which imports PyJWT lazily).
- `hs256`: HMAC-SHA256 JWT verification.
- `identity`: profile selection, identity checks, client-id rule, slot filling.
- `response`: the allow/deny response (docs/custom-authorizer.md#response).
- `log`: one structured JSON line per decision.
- `secrets`: the HS256 secret (SSM, Secrets Manager or env), cached per container,
  with the `set_override` seam for tests and the local emulator.
- `core`: the decision flow; fails closed.

Importing this package has no side effects.
"""

from __future__ import annotations

import sys


def reset() -> None:
    """Forget every per-container cache (config, secret, clients, log sink): tests only."""
    from iotws_authorizer import config, identity, log, secrets

    config.reset()
    secrets.reset()
    identity.reset()
    log.set_sink(None)
    jwks_reset = getattr(sys.modules.get("iotws_authorizer.jwks"), "reset", None)
    if jwks_reset is not None:
        jwks_reset()
