"""The verifier registry: one module per token mode.

A verifier module defines two functions:

    parse_settings(raw_config: dict) -> object
        Validate and compile the mode's own section of iotws_config.json (e.g. "hs256"
        or "jwks"); raise iotws_authorizer.errors.ConfigError on a bad section.
    verify(token: str, settings: object) -> tuple[dict, str | None]
        Verify the token; return (claims, subject) or raise iotws_authorizer.errors.Deny
        with a reason code. Called only with tokens within token.max_length.

Built-in modes are listed in `_MODULES`. Extension point: the `jwks` mode lives in a
separate module `iotws_authorizer/jwks.py` that is not part of this build; adding the
file is enough to enable it. Without it, a `jwks` configuration is a config error and
every request is denied (fail closed).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from iotws_authorizer.errors import ConfigError

_MODULES = {
    "hs256": "iotws_authorizer.hs256",
    "jwks": "iotws_authorizer.jwks",  # extension: may be absent
}


def get(mode: str) -> ModuleType:
    """The verifier module for a token mode; ConfigError if this build has none."""
    name = _MODULES.get(mode)
    if name is None:
        raise ConfigError(f"mode {mode!r} has no verifier")
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise  # a dependency of the verifier is missing: a real error, not "absent"
        raise ConfigError(f"mode {mode!r} is not available in this build") from None
    if not callable(getattr(module, "verify", None)) or not callable(
        getattr(module, "parse_settings", None)
    ):
        raise ConfigError(f"verifier {name} lacks verify/parse_settings")
    return module
