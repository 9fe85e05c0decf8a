"""`make bench`: each module in this package defines `run() -> list[Row]`.

A row is a figure measured in this process, with the reference it is compared against
(measured in the same run, or a stated target) and whether it meets its target.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    group: str  # e.g. "authorizer", "evaluator", "emulator"
    name: str  # what was measured
    value: float
    unit: str
    target: str = ""  # human-readable target, e.g. "<= 1 ms"
    ok: bool | None = None  # None: informational, no target
    reference: float | None = None  # reference figure from the same run
    reference_name: str = ""
