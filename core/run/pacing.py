"""How hard the run pushes: videos in flight (adaptive), and submits on the wire (the in-doubt gate).

Videos in flight follow AIMD: sustained 429s or server errors halve the level (down to one at
a time, the old sequential mode); a run of successes as long as the level raises it by one,
up to the user's maximum. Slots are handed out by an anyio CapacityLimiter whose size follows
the level, so a lowered level never interrupts work already in flight.

Submits awaiting an answer are "in doubt" (deAPI has no idempotency key: a lost answer may be
a paid job), so they are kept to one on the wire unless the submit rate needs more.
"""

from __future__ import annotations

import math
from typing import Callable

import anyio

from ..events import ConcurrencyChanged
from .reporter import Reporter


class AdaptiveLevel:
    """The number of videos allowed in flight right now (`current`, 1..`maximum`)."""

    def __init__(self, maximum: int, *, enabled: bool = True, clock: Callable[[], float], cooldown: float = 5.0) -> None:
        self.maximum = maximum
        self.current = maximum
        self.enabled = enabled
        self._clock = clock
        self._cooldown = cooldown
        self._last_cut = -1e9
        self._streak = 0
        self.slots = anyio.CapacityLimiter(maximum)

    def _apply(self) -> None:
        self.slots.total_tokens = self.current

    def trouble(self, reason: str) -> str | None:
        """A 429 or server error happened; returns a message if the level dropped."""
        self._streak = 0
        if not self.enabled or self.current <= 1:
            return None
        now = self._clock()
        if now - self._last_cut < self._cooldown:
            return None   # one cut per burst: the errors of one storm arrive together
        self._last_cut = now
        self.current = max(1, self.current // 2)
        self._apply()
        return f"lowered to {self.current} in flight after {reason}"

    def success(self) -> str | None:
        """A call went through; returns a message if the level rose."""
        if not self.enabled or self.current >= self.maximum:
            return None
        self._streak += 1
        if self._streak >= self.current and self._clock() - self._last_cut >= self._cooldown:
            self._streak = 0
            self.current += 1
            self._apply()
            return f"raised to {self.current} in flight"
        return None


class Pacing:
    """The adaptive level and the in-doubt submit gate of one run; level changes are reported."""

    def __init__(self, maximum: int, *, adaptive: bool, clock: Callable[[], float], reporter: Reporter) -> None:
        self.level = AdaptiveLevel(maximum, enabled=adaptive, clock=clock)
        self.submit_gate = anyio.CapacityLimiter(1)
        self._reporter = reporter
        self._submit_latency = 0.2

    def on_trouble(self, reason: str) -> None:
        msg = self.level.trouble(reason)
        if msg:
            self._reporter.emit(ConcurrencyChanged(self.level.current, msg))

    def on_success(self) -> None:
        msg = self.level.success()
        if msg:
            self._reporter.emit(ConcurrencyChanged(self.level.current, msg))

    def observe_submit_latency(self, seconds: float, submits_per_minute: float) -> None:
        """Size the in-doubt gate: one submit on the wire unless the rate needs more."""
        self._submit_latency = 0.8 * self._submit_latency + 0.2 * seconds
        need = max(1, min(8, math.ceil(submits_per_minute / 60.0 * self._submit_latency * 1.5)))
        if need != self.submit_gate.total_tokens:
            self.submit_gate.total_tokens = need
