"""Clocks: components are handed one, so tests and replays control time.

Nothing in Riskstream reads the wall clock directly; it asks the clock it was given.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Source of the current time in int64 nanoseconds since the Unix epoch, UTC."""

    def now_ns(self) -> int: ...


class SystemClock:
    """The machine's real-time clock."""

    def now_ns(self) -> int:
        return time.time_ns()


class ManualClock:
    """A clock that moves only when told: for tests, simulations and replays."""

    def __init__(self, start_ns: int = 0):
        self._now = int(start_ns)

    def now_ns(self) -> int:
        return self._now

    def set(self, ts_ns: int) -> None:
        if ts_ns < self._now:
            raise ValueError(f"clock cannot go back from {self._now} to {ts_ns}")
        self._now = int(ts_ns)

    def advance(self, delta_ns: int) -> None:
        self.set(self._now + int(delta_ns))


NS_PER_S = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_S
