"""How hard the run pushes: videos in flight (adaptive), and submits on the wire (the in-doubt gate).

Videos in flight: with a fixed `--concurrency N` they follow AIMD (sustained 429s or server
errors halve the level, down to one at a time; a run of successes as long as the level raises it
by one, up to N). With `--concurrency auto` the level is `concurrency.AutoConcurrency`'s: the
account's rate x the job time (Little's law), moved by what the run sees. The engine starts a
video only while fewer than the level are in flight, so a lowered level never interrupts work.

Submits awaiting an answer are "in doubt" (deAPI has no idempotency key: a lost answer may be
a paid job), so they are kept to one on the wire unless the submit rate needs more, and a slow
answer stops holding the others back after a few typical answer times (`InDoubtGate`).
"""

from __future__ import annotations

import math
from typing import Callable

import anyio

from ..events import ConcurrencyChanged
from .concurrency import AutoConcurrency
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
        self.auto: AutoConcurrency | None = None
        self.reason = ""
        self._changed = anyio.Event()

    def _apply(self) -> None:
        self.changed()

    def changed(self) -> None:
        """Wake whoever waits for room (the level moved, or a video left its slot)."""
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_changed(self) -> None:
        await self._changed.wait()

    @classmethod
    def automatic(cls, ceiling: int, *, clock: Callable[[], float], expected: float | Callable[[], float],
                  expected_for: Callable[[float], float] | None = None) -> "AdaptiveLevel":
        """The `--concurrency auto` level: `auto` decides, starting at one until the first update."""
        level = cls(ceiling, clock=clock)
        level.auto = AutoConcurrency(ceiling, expected=expected, expected_for=expected_for)
        level.current = level.auto.current
        level.reason = level.auto.reason
        return level

    def update(self, *, submit_per_minute: float, shared: bool, in_flight: int, rate_binds: bool) -> str | None:
        """Auto only: follow the account's rate and the job times; a message when the level moved."""
        if self.auto is None:
            return None
        before = self.current
        self.auto.update(self._clock(), submit_per_minute=submit_per_minute, shared=shared,
                         in_flight=in_flight, rate_binds=rate_binds)
        self.current, self.reason = self.auto.current, self.auto.reason
        if self.current != before:
            self._apply()
            word = "raised" if self.current > before else "lowered"
            return f"{word} to {self.current} in flight ({self.reason})"
        return None

    def lower_after(self, reason: str) -> str | None:
        """A 429 or server error happened; returns a message if the level dropped."""
        self._streak = 0
        if self.auto is not None:
            if not self.enabled or not self.auto.lower_after(self._clock(), reason):
                return None
            self.current, self.reason = self.auto.current, self.auto.reason
            self._apply()
            return f"lowered to {self.current} in flight after {reason}"
        if not self.enabled or self.current <= 1:
            return None
        now = self._clock()
        if now - self._last_cut < self._cooldown:
            return None   # one cut per burst: the errors of one storm arrive together
        self._last_cut = now
        self.current = max(1, self.current // 2)
        self._apply()
        return f"lowered to {self.current} in flight after {reason}"

    def raise_after_success(self) -> str | None:
        """A call went through; returns a message if the level rose."""
        if self.auto is not None or not self.enabled or self.current >= self.maximum:
            return None
        self._streak += 1
        if self._streak >= self.current and self._clock() - self._last_cut >= self._cooldown:
            self._streak = 0
            self.current += 1
            self._apply()
            return f"raised to {self.current} in flight"
        return None


class InDoubtGate:
    """How many submits may await their answer at once.

    Each one on the wire is in doubt until it answers (a crash then leaves a video that may have
    been paid), so they are kept to `capacity` (one, unless the submit rate needs more). But a
    slow answer must not hold every other submit behind it: a submit that has waited longer than
    `hold` seconds (a few typical answer times) stops counting against the capacity, and the
    next may go. `limit` bounds all unanswered submits however slow, so a stalled API can never
    gather more than that many videos in doubt.
    """

    def __init__(self, *, clock: Callable[[], float], capacity: int = 1, limit: int = 16) -> None:
        self._clock = clock
        self.capacity = capacity
        self.limit = limit
        self.hold = 5.0
        self._open: dict[object, float] = {}    # token -> when its submit was let through
        self._changed = anyio.Event()

    @property
    def on_wire(self) -> int:
        return len(self._open)

    def _young(self, now: float) -> list[float]:
        return [t for t in self._open.values() if now - t < self.hold]

    async def enter(self) -> object:
        """Wait for room; returns a token for `leave`. Cancel-safe (nothing is held until it returns)."""
        while True:
            now = self._clock()
            young = self._young(now)
            if len(young) < self.capacity and len(self._open) < self.limit:
                token = object()
                self._open[token] = now
                return token
            wait = min(young) + self.hold - now if len(self._open) < self.limit and young else None
            with anyio.move_on_after(max(0.01, wait) if wait is not None else 60.0):
                await self._changed.wait()

    def leave(self, token: object) -> None:
        """The submit answered (or gave up): its place is free."""
        if self._open.pop(token, None) is not None:
            self._changed.set()
            self._changed = anyio.Event()


class Pacing:
    """The adaptive level and the in-doubt submit gate of one run; level changes are reported."""

    def __init__(self, maximum: int, *, adaptive: bool, clock: Callable[[], float], reporter: Reporter,
                 auto: bool = False, expected: float | Callable[[], float] = 30.0,
                 expected_for: Callable[[float], float] | None = None) -> None:
        """`maximum`: the fixed level, or with `auto` the ceiling; `expected`: seconds a job is
        assumed to take before one is seen (auto's first Little's-law estimate), or a callable;
        `expected_for(duration)`: seconds a job of that length is expected to take (the planner's line)."""
        if auto:
            self.level = AdaptiveLevel.automatic(maximum, clock=clock, expected=expected, expected_for=expected_for)
            self.level.enabled = adaptive
        else:
            self.level = AdaptiveLevel(maximum, enabled=adaptive, clock=clock)
        self.submit_gate = InDoubtGate(clock=clock)
        self._reporter = reporter
        self._submit_latency = 0.2

    def on_trouble(self, reason: str) -> None:
        msg = self.level.lower_after(reason)
        if msg:
            self._reporter.emit(ConcurrencyChanged(self.level.current, msg))

    def follow_account(self, *, submit_per_minute: float, shared: bool, in_flight: int, rate_binds: bool) -> None:
        """Auto: move the level to what the account's rate and the job times allow (each tick)."""
        msg = self.level.update(submit_per_minute=submit_per_minute, shared=shared, in_flight=in_flight,
                                rate_binds=rate_binds)
        if msg:
            self._reporter.emit(ConcurrencyChanged(self.level.current, msg))

    def job_started(self, duration: float | None) -> None:
        """A job is being followed (submitted, or re-attached at a resume): auto's Little's law
        sizes the level by the lengths going in now."""
        if self.level.auto is not None:
            self.level.auto.job_started(duration)

    def job_done(self, seconds: float, duration: float | None, polls: int | None) -> None:
        """A job ended done: auto learns its time and how many status calls a video takes
        (`polls` None: its looks were planned before any job was seen done, as only the first
        wave's are; they say nothing of the calls a video takes from then on)."""
        auto = self.level.auto
        if auto is not None:
            auto.job_done(seconds, duration)
            if polls is not None:
                auto.polls_per_video = 0.9 * auto.polls_per_video + 0.1 * max(1, polls)

    def on_success(self) -> None:
        msg = self.level.raise_after_success()
        if msg:
            self._reporter.emit(ConcurrencyChanged(self.level.current, msg))

    def observe_submit_latency(self, seconds: float, submits_per_minute: float) -> None:
        """Size the in-doubt gate from the answer times seen: one submit awaiting its answer
        unless the rate needs more, and a slow one stops holding the others after a few
        typical answer times."""
        self._submit_latency = 0.8 * self._submit_latency + 0.2 * seconds
        gate = self.submit_gate
        gate.capacity = max(1, min(8, math.ceil(submits_per_minute / 60.0 * self._submit_latency * 1.5)))
        gate.hold = max(2.0, 4.0 * self._submit_latency)
