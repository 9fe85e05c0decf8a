"""The authorizer's own code, for the toolchain's proofs and answers.

The build-time self-check (`iotws.policy.proofs`) fills slots and checks identities with the
very functions the Lambda runs (`iotws_authorizer.config.parse`,
`iotws_authorizer.identity.slot_values` and `documents`), never a copy, so a proof
about the rendered policies is a proof about what the authorizer returns. The package
lives in `lambda_src/authorizer` (zipped as-is by `iotws package`); it is standard library
only, so importing it here has no cost beyond its own modules.
"""

from __future__ import annotations

import sys

from iotws.paths import lambda_src

_PATH = str(lambda_src("authorizer"))
if _PATH not in sys.path:
    sys.path.append(_PATH)

from iotws_authorizer import config, errors, identity  # noqa: E402 - needs the path above
from iotws_authorizer.errors import ConfigError, Deny  # noqa: E402
from iotws_authorizer.event import AuthorizerEvent  # noqa: E402

__all__ = ["AuthorizerEvent", "ConfigError", "Deny", "config", "errors", "identity"]
