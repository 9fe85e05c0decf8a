"""One structured JSON line per decision on stdout (CloudWatch Logs in Lambda).

Fields: decision, reason, connection_id, principal, profile, mode, and `detail` for
operators. Never the token, the secret, the password or raw claims: callers pass only
these fields, and `detail` strings are fixed texts written in this package.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

Sink = Callable[[str], None]

_sink: Sink | None = None


def set_sink(sink: Sink | None) -> None:
    """Send decision lines to `sink` instead of stdout (None: stdout). Emulator, bench."""
    global _sink
    _sink = sink


def emit(
    decision: str,
    reason: str,
    connection_id: str | None,
    principal: str | None,
    profile: str | None,
    mode: str | None,
    detail: str | None = None,
) -> None:
    record: dict[str, str | None] = {
        "decision": decision,
        "reason": reason,
        "connection_id": connection_id,
        "principal": principal,
        "profile": profile,
        "mode": mode,
    }
    if detail is not None:
        record["detail"] = detail
    line = json.dumps(record, separators=(",", ":"))
    if _sink is not None:
        _sink(line)
    else:
        sys.stdout.write(line + "\n")
