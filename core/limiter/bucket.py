"""A bucket: one minute window shared by its lanes, with a FIFO queue of waiters, a pause
(Retry-After) and per-lane daily limits. Capacity is taken in the same step that lets a waiter
go, so a cancelled waiter never leaks it."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

import anyio
import anyio.lowlevel

from ..events import BucketUsage
from .window import (
    DAILY_PAD,
    DAY,
    MAX_PAUSE,
    MAX_SLEEP,
    MIN_429_PAUSE,
    OnWait,
    SlidingWindow,
    _iso_day,
    _sane_seconds,
    seconds_to_midnight,
    utc_day,
)


@dataclass(eq=False, slots=True)
class _Waiter:
    lane: "Lane"
    granted: bool = False
    wake: anyio.Event | None = None   # set to end this waiter's current wait early


class Lane:
    """One endpoint's share of a `Bucket`: its own daily allowance and pause, the bucket's
    minute window and FIFO queue. Obtain with `Bucket.lane(...)`; a Bucket is also its own
    first lane, so `Bucket` and `Lane` offer the same `acquire`/`pause`/`usage` calls."""

    def __init__(self, bucket: "Bucket", name: str, per_day: int | None) -> None:
        self.name = name
        self.bucket = bucket
        self.per_day = per_day if per_day and per_day > 0 else None
        self._day = -1
        self._count = 0
        self._held_until_wall = -math.inf   # after an exhausted day: midnight + DAILY_PAD
        self._pause_until = -math.inf
        self._pause_reason = ""
        self._recent: deque[float] = deque()   # this lane's grants in the window (display only)

    # -- the same calls as a Bucket ------------------------------------------------------
    async def acquire(self, on_wait: OnWait | None = None) -> None:
        """Wait for this lane's daily allowance and pause, then for the shared window."""
        await self.bucket._acquire(self, on_wait)

    def pause(self, seconds: float, reason: str) -> None:
        """Hold this lane only (other lanes of the bucket go on); extends, never shortens."""
        until = self.bucket._clock() + min(seconds, MAX_PAUSE) if _sane_seconds(seconds) else -math.inf
        if until > self._pause_until:
            self._pause_until, self._pause_reason = until, reason
            self.bucket._notify(everyone=True)

    def note_daily_exhausted(self, retry_after: float | None = None) -> float:
        """The server says today's allowance is gone: hold this lane until `retry_after`
        seconds, or (None/malformed) until just after midnight UTC. Returns the pause."""
        wall = self.bucket._wall()
        seconds = _sane_seconds(retry_after)
        if seconds is None:
            seconds = seconds_to_midnight(wall) + DAILY_PAD
            if self.per_day is not None:
                self._today(wall)
                self._count = max(self._count, self.per_day)
        else:
            seconds = min(max(seconds, MIN_429_PAUSE), MAX_PAUSE)
        of = f" of {self.per_day}" if self.per_day else ""
        at = datetime.fromtimestamp(wall + seconds, timezone.utc).strftime("%H:%M")
        self.pause(seconds, f"daily limit{of} reached, resets at {at} UTC")
        return seconds

    def set_per_minute(self, n: int) -> None:
        """Change the shared minute limit of this lane's bucket (all its lanes)."""
        self.bucket.set_per_minute(n)

    @property
    def per_minute(self) -> int:
        return self.bucket.per_minute

    def used_today(self) -> int:
        return self._today(self.bucket._wall())

    def remaining_today(self) -> int | None:
        """Grants left today, or None without a daily limit."""
        return None if self.per_day is None else max(0, self.per_day - self.used_today())

    def usage(self) -> BucketUsage:
        """This lane's grants in the window, its day and how long it is held."""
        b = self.bucket
        now, wall = b._clock(), b._wall()
        self._prune(now)
        held = max(b._pause_until, self.ready_at(now, wall)[0]) - now
        return BucketUsage(self.name, len(self._recent), b.per_minute, self._today(wall),
                           self.per_day, max(0.0, held))

    # -- used by the bucket ----------------------------------------------------------------
    def _today(self, wall: float) -> int:
        day = utc_day(wall)
        if day != self._day:
            if day == self._day + 1 and self.per_day is not None and self._count >= self.per_day:
                self._held_until_wall = day * DAY + DAILY_PAD
            self._day, self._count = day, 0
        return self._count

    def ready_at(self, now: float, wall: float) -> tuple[float, str]:
        """(monotonic time, reason) before which this lane may not be granted anything."""
        at, reason = now, ""
        if self._pause_until > now:
            at, reason = self._pause_until, self._pause_reason
        if self.per_day is not None and self._today(wall) >= self.per_day or wall < self._held_until_wall:
            reset = now + (seconds_to_midnight(wall) + DAILY_PAD if wall >= self._held_until_wall
                           else self._held_until_wall - wall)
            if reset > at:
                at, reason = reset, f"daily limit of {self.per_day} reached, resets at 00:00 UTC"
        return at, reason

    def _granted(self, now: float, wall: float) -> None:
        self._today(wall)
        self._count += 1
        self._recent.append(now)
        self._prune(now)

    def _prune(self, now: float) -> None:
        while self._recent and now - self._recent[0] >= self.bucket.window:
            self._recent.popleft()


class Bucket:
    """A minute window shared by its lanes, with a FIFO queue, a pause and a daily limit.

    `per_minute` grants in every window of `window + margin` seconds (monotonic `clock`);
    `per_day` grants per UTC day (by the `wall` clock); None or 0 means no daily limit.
    FIFO is among waiters that may go: a waiter held by its own lane (daily limit, lane pause)
    steps aside instead of blocking other lanes.
    """

    def __init__(self, name: str, per_minute: int, per_day: int | None = None, *, margin: float = 0.5,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 window: float = 60.0) -> None:
        self.name = name
        self._clock, self._wall = clock, wall
        self._window = SlidingWindow(per_minute, window + max(0.0, margin))
        self._pause_until = -math.inf
        self._pause_reason = ""
        self._queue: list[_Waiter] = []
        self.lanes: dict[str, Lane] = {}
        self.own = self.lane(name, per_day)

    def lane(self, name: str, per_day: int | None = None) -> Lane:
        """A lane drawing on this bucket's window with its own daily limit (created once)."""
        if name not in self.lanes:
            self.lanes[name] = Lane(self, name, per_day)
        return self.lanes[name]

    @property
    def per_minute(self) -> int:
        return self._window.limit

    @property
    def window(self) -> float:
        return self._window.window

    async def acquire(self, on_wait: OnWait | None = None) -> None:
        """Wait for a grant: the window, any pause and the daily limit. FIFO; see `_acquire`."""
        await self._acquire(self.own, on_wait)

    def pause(self, seconds: float, reason: str) -> None:
        """Nobody on this bucket (any lane) is granted for `seconds`; a longer pause extends
        the current one, a shorter one never shortens it. Non-positive or NaN is ignored."""
        if not _sane_seconds(seconds):
            return
        until = self._clock() + min(seconds, MAX_PAUSE)
        if until > self._pause_until:
            self._pause_until, self._pause_reason = until, reason
            self._notify(everyone=True)

    def note_daily_exhausted(self, retry_after: float | None = None) -> float:
        """See `Lane.note_daily_exhausted` (for this bucket's own lane)."""
        return self.own.note_daily_exhausted(retry_after)

    def set_per_minute(self, n: int) -> None:
        """Change the limit at once (adaptive rate); raises ValueError if n < 1."""
        self._window.set_limit(n)
        self._notify(everyone=True)

    def usage(self) -> BucketUsage:
        """Window use, the own lane's day, and how long the bucket is held."""
        now, wall = self._clock(), self._wall()
        held = max(self._pause_until, self.own.ready_at(now, wall)[0]) - now
        return BucketUsage(self.name, self._window.used(now), self.per_minute, self.own.used_today(),
                           self.own.per_day, max(0.0, held))

    def oldest_expiry(self) -> float | None:
        """Seconds until the oldest grant in the window leaves it (None if the window is empty)."""
        now = self._clock()
        times = self._window.times(now)
        return times[0] + self.window - now if times else None

    # -- waiting ---------------------------------------------------------------------------
    async def _acquire(self, lane: Lane, on_wait: OnWait | None) -> None:
        """Queue, wait until this waiter is the first that may go and the window has room,
        then take the grant in the same step. `on_wait(seconds, reason)` is called before a
        wait and again whenever its reason or expected end moves by more than a second.
        Raises only what `on_wait` raises, or cancellation (which takes no capacity)."""
        await anyio.lowlevel.checkpoint_if_cancelled()
        me = _Waiter(lane)
        self._queue.append(me)
        told: tuple[str, float] | None = None
        try:
            while True:
                now, wall = self._clock(), self._wall()
                until, reason, sleep = self._plan(me, now, wall)
                if sleep <= 0:
                    self._grant(me, now, wall)
                    break
                if on_wait is not None and until - now >= 0.01 and (
                        told is None or told[0] != reason or abs(told[1] - until) > 1.0):
                    told = (reason, until)
                    on_wait(until - now, reason)
                me.wake = anyio.Event()
                with anyio.move_on_after(min(sleep, MAX_SLEEP)):
                    await me.wake.wait()
        finally:
            if not me.granted:
                self._queue.remove(me)
                self._notify()
        await anyio.lowlevel.cancel_shielded_checkpoint()

    def _plan(self, me: _Waiter, now: float, wall: float) -> tuple[float, str, float]:
        """(expected grant time, reason, how long to sleep: 0 = grant now, inf = until woken)."""
        at, reason = me.lane.ready_at(now, wall)
        if at > now:
            return at, reason, at - now
        ready = self._ready_lanes(now, wall)
        ahead = 0
        for w in self._queue:
            if w is me:
                break
            ahead += w.lane in ready
        free = self._window.eta(now, ahead)
        at, reason = (self._pause_until, self._pause_reason) if self._pause_until > free else (free, "rate limit")
        if ahead:
            return max(at, now), reason, math.inf   # those ahead go first and wake us
        return at, reason, max(0.0, at - now)

    def _grant(self, me: _Waiter, now: float, wall: float) -> None:
        self._queue.remove(me)
        me.granted = True
        self._window.record(now)
        me.lane._granted(now, wall)
        # A lane that just used its last grant of the day holds its other waiters: they re-plan.
        self._notify(everyone=me.lane.ready_at(now, wall)[0] > now)

    def _ready_lanes(self, now: float, wall: float) -> set[Lane]:
        return {lane for lane in self.lanes.values() if lane.ready_at(now, wall)[0] <= now}

    def _notify(self, everyone: bool = False) -> None:
        """Wake the first waiter that may go (the only one a grant or a departure can unblock),
        or every waiter when pauses or limits changed. The others keep their place and are
        woken when they come first, so a grant costs O(waiters), not O(waiters^2)."""
        ready = self._ready_lanes(self._clock(), self._wall()) if not everyone else set()
        for w in self._queue:
            if everyone or w.lane in ready:
                if w.wake is not None:
                    w.wake.set()
                if not everyone:
                    break

    # -- persistence -------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """TOML/JSON-safe state: wall-clock times of the grants in the window, pauses, and each
        lane's day and count, so a crash and an immediate resume cannot burst."""
        now, wall = self._clock(), self._wall()

        def to_wall(t: float) -> float:
            return math.ceil((wall - (now - t)) * 1000) / 1000   # rounded later, never earlier

        data: dict[str, Any] = {"name": self.name, "per_minute": self.per_minute,
                                "grants": [to_wall(t) for t in self._window.times(now)]}
        if self._pause_until > now:
            data.update(paused_until=to_wall(self._pause_until), pause_reason=self._pause_reason)
        lanes: dict[str, Any] = {}
        for lane in self.lanes.values():
            lane._prune(now)
            ld: dict[str, Any] = {"day": _iso_day(wall),
                                  "count": lane._today(wall)}
            if lane is not self.own:
                ld["recent"] = [to_wall(t) for t in lane._recent]
            if lane._pause_until > now:
                ld.update(paused_until=to_wall(lane._pause_until), pause_reason=lane._pause_reason)
            lanes[lane.name] = ld
        data["lanes"] = lanes
        return data

    def restore(self, data: dict[str, Any]) -> None:
        """Merge a `snapshot()` (possibly from another process, or another limit mode) into
        this bucket. Malformed entries are skipped; grants from the future count as now."""
        now, wall = self._clock(), self._wall()

        def walls(values: Any) -> list[float]:
            out = []
            for v in values if isinstance(values, list) else []:
                w = _sane_seconds(v)
                if w is not None and w > wall - self.window:
                    out.append(now - max(0.0, wall - w))
            return out

        self._window.load(walls(data.get("grants")))
        until = _sane_seconds(data.get("paused_until"))
        if until is not None and until > wall:
            self.pause(until - wall, str(data.get("pause_reason", "paused")))
        lanes = data.get("lanes")
        for name, ld in (lanes.items() if isinstance(lanes, dict) else ()):
            lane = self.lanes.get(name)
            if lane is None or not isinstance(ld, dict):
                continue
            today = _iso_day(wall)
            count = ld.get("count")
            if ld.get("day") == today and isinstance(count, int) and count > 0:
                lane._today(wall)
                lane._count = max(lane._count, count)
            lane._recent = deque(sorted([*lane._recent, *walls(ld.get("recent"))]))
            until = _sane_seconds(ld.get("paused_until"))
            if until is not None and until > wall:
                lane.pause(until - wall, str(ld.get("pause_reason", "paused")))
        self._notify(everyone=True)
