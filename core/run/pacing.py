"""Adaptive concurrency: how many videos may be in flight right now (AIMD).

Sustained 429s or server errors halve the level (down to one at a time, the old
sequential mode); a run of successes as long as the level raises it by one, up to the
user's maximum. Slots are handed out by an anyio CapacityLimiter whose size follows the
level, so a lowered level never interrupts work already in flight.
"""

from __future__ import annotations

from typing import Callable

import anyio


class AdaptiveLevel:
    def __init__(self, maximum: int, *, enabled: bool = True, clock: Callable[[], float], cooldown: float = 5.0) -> None:
        self.maximum = maximum
        self.level = maximum
        self.enabled = enabled
        self._clock = clock
        self._cooldown = cooldown
        self._last_cut = -1e9
        self._streak = 0
        self.slots = anyio.CapacityLimiter(maximum)

    def _apply(self) -> None:
        self.slots.total_tokens = self.level

    def trouble(self, reason: str) -> str | None:
        """A 429 or server error happened; returns a message if the level dropped."""
        self._streak = 0
        if not self.enabled or self.level <= 1:
            return None
        now = self._clock()
        if now - self._last_cut < self._cooldown:
            return None   # one cut per burst: the errors of one storm arrive together
        self._last_cut = now
        self.level = max(1, self.level // 2)
        self._apply()
        return f"lowered to {self.level} in flight after {reason}"

    def success(self) -> str | None:
        """A call went through; returns a message if the level rose."""
        if not self.enabled or self.level >= self.maximum:
            return None
        self._streak += 1
        if self._streak >= self.level and self._clock() - self._last_cut >= self._cooldown:
            self._streak = 0
            self.level += 1
            self._apply()
            return f"raised to {self.level} in flight"
        return None
