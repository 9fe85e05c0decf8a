"""AWS Lambda entry point of the iotws custom authorizer: handler `app.handler`.

The configuration (`iotws_config.json` next to this file) is loaded on the first
request, once per container; importing this module does nothing else.
"""

from __future__ import annotations

from typing import Any

from iotws_authorizer.core import authorize


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """IoT Core custom-authorizer event in, authorizer response out
    (docs/custom-authorizer.md#event, docs/custom-authorizer.md#response)."""
    return authorize(event, context)
