"""Time sources. The broker never calls `time` directly, so tests can scale time.

`ScaledClock(1000)` makes a 300-second authorizer TTL pass in 0.3 real seconds.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a monotonic scale (emulated seconds)."""
        ...

    def time(self) -> float:
        """Wall-clock seconds since the epoch (emulated), for event timestamps."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep `seconds` emulated seconds."""
        ...


class RealClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock:
    """Emulated time runs `scale` times faster than real time."""

    def __init__(self, scale: float) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.scale = scale
        self._mono0 = time.monotonic()
        self._wall0 = time.time()

    def monotonic(self) -> float:
        return self._mono0 + (time.monotonic() - self._mono0) * self.scale

    def time(self) -> float:
        return self._wall0 + (time.monotonic() - self._mono0) * self.scale

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.scale)
