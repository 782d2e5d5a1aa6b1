"""A bucket: a minute window over all its lanes, each lane with a minute window of its own, a
FIFO queue of waiters, pauses (Retry-After) and daily limits at both levels. Capacity is taken
in the same step that lets a waiter go, so a cancelled waiter never leaks it.

The grant rule: a waiter of lane L may go at `now` when
- L may be granted at all: L is not paused, L's day has room, and L's own window has room
  (`Lane.ready_at(now) <= now`); otherwise the waiter steps aside until then;
- the bucket may be granted at all: not paused, the bucket's day has room;
- no waiter queued before it belongs to a lane that may go (FIFO among those that may go);
- the bucket's window has room.
It then records the grant in both windows and both days in that same step. A window whose
limit is None has no limit (it still counts); "per endpoint" is a bucket without a limit of
its own and lanes with theirs, "shared" a bucket with a limit (and lanes with or without).
"""

from __future__ import annotations

import math
import time
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


class _Scope:
    """What one level (a lane, or a whole bucket) allows: a minute window, a daily count and a
    pause. `source` says where the window's limit came from ("preset", "flag", "header")."""

    def __init__(self, name: str, clock: Callable[[], float], wall: Callable[[], float], window: float,
                 per_minute: int | None, per_day: int | None) -> None:
        self.name = name
        self._clock, self._wall = clock, wall
        self._window = SlidingWindow(per_minute, window)
        self.per_day = per_day if per_day and per_day > 0 else None
        self.source = ""
        self._day = -1
        self._count = 0
        self._stated = (-1, 0)              # (day, count): the server's own count of the day, last said
        self._held_until_wall = -math.inf   # after an exhausted day: midnight + DAILY_PAD
        self._pause_until = -math.inf
        self._pause_reason = ""

    @property
    def window(self) -> float:
        return self._window.window

    @property
    def own_per_minute(self) -> int | None:
        """This level's own minute limit (None: none)."""
        return self._window.limit

    def used_today(self) -> int:
        return self._today(self._wall())

    def remaining_today(self) -> int | None:
        """Grants left today, or None without a daily limit."""
        return None if self.per_day is None else max(0, self.per_day - self.used_today())

    def count_since(self, since: float) -> int:
        """This level's grants after monotonic time `since` (back to two windows before now)."""
        return self._window.count_since(since)

    def oldest_expiry(self) -> float | None:
        """Seconds until the oldest grant in this level's window leaves it (None if empty)."""
        now = self._clock()
        times = self._window.times(now)
        return times[0] + self.window - now if times else None

    # -- used by the bucket ----------------------------------------------------------------
    def _today(self, wall: float) -> int:
        day = utc_day(wall)
        if day != self._day:
            if day == self._day + 1 and self.per_day is not None and self._count >= self.per_day:
                self._held_until_wall = day * DAY + DAILY_PAD
            self._day, self._count = day, 0
        return self._count

    def held_until(self, now: float, wall: float) -> tuple[float, str]:
        """(monotonic time, reason) before which the pause or the day forbids any grant."""
        at, reason = now, ""
        if self._pause_until > now:
            at, reason = self._pause_until, self._pause_reason
        if self.per_day is not None and self._today(wall) >= self.per_day or wall < self._held_until_wall:
            reset = now + (seconds_to_midnight(wall) + DAILY_PAD if wall >= self._held_until_wall
                           else self._held_until_wall - wall)
            if reset > at:
                at, reason = reset, f"daily limit of {self.per_day} reached, resets at 00:00 UTC"
        return at, reason

    def _set_pause(self, seconds: float, reason: str) -> bool:
        """Extend (never shorten) the pause; True if it changed."""
        if not _sane_seconds(seconds):
            return False
        until = self._clock() + min(seconds, MAX_PAUSE)
        if until > self._pause_until:
            self._pause_until, self._pause_reason = until, reason
            return True
        return False

    def _granted(self, now: float, wall: float, count: int = 1) -> None:
        self._today(wall)
        self._count += count
        self._window.record(now, count)

    def _set_day_count_at_least(self, count: int) -> bool:
        wall = self._wall()
        self._today(wall)
        self._stated = (self._day, count)
        if count > self._count:
            self._count = count
            return True
        return False

    def _give_back_one(self) -> None:
        """A grant's request was turned away by a minute limit: not one of the day's, as far as
        we know, but never fewer than the server itself last said it counted today."""
        wall = self._wall()
        self._today(wall)
        floor = self._stated[1] if self._stated[0] == self._day else 0
        self._count = max(floor, self._count - 1)

    def _snapshot(self, now: float, to_wall: Callable[[float], float]) -> dict[str, Any]:
        wall = self._wall()
        data: dict[str, Any] = {"day": _iso_day(wall), "count": self._today(wall),
                                "recent": [to_wall(t) for t in self._window.times(now)]}
        if self._pause_until > now:
            data.update(paused_until=to_wall(self._pause_until), pause_reason=self._pause_reason)
        return data

    def _restore_day(self, ld: dict[str, Any]) -> None:
        wall = self._wall()
        count = ld.get("count")
        if ld.get("day") == _iso_day(wall) and isinstance(count, int) and not isinstance(count, bool) and count > 0:
            self._set_day_count_at_least(count)


class Lane(_Scope):
    """One endpoint's share of a `Bucket`: its own minute window (None: only the bucket's),
    daily allowance and pause, the bucket's window and FIFO queue. Obtain with `Bucket.lane(...)`;
    a Bucket is also its own first lane, so `Bucket` and `Lane` offer the same
    `acquire`/`pause`/`usage` calls."""

    def __init__(self, bucket: "Bucket", name: str, per_day: int | None, per_minute: int | None = None) -> None:
        super().__init__(name, bucket._clock, bucket._wall, bucket.window, per_minute, per_day)
        self.bucket = bucket

    # -- the same calls as a Bucket ------------------------------------------------------
    async def acquire(self, on_wait: OnWait | None = None) -> None:
        """Wait for this lane's window, daily allowance and pause, then for the bucket's."""
        await self.bucket._acquire(self, on_wait)

    def pause(self, seconds: float, reason: str) -> None:
        """Hold this lane only (other lanes of the bucket go on); extends, never shortens."""
        if self._set_pause(seconds, reason):
            self.bucket._notify(everyone=True)

    def note_daily_exhausted(self, retry_after: float | None = None) -> float:
        """The server says today's allowance is gone: hold this lane until `retry_after`
        seconds, or (None/malformed) until just after midnight UTC. Returns the pause."""
        wall = self._wall()
        seconds = _sane_seconds(retry_after)
        if seconds is None:
            seconds = seconds_to_midnight(wall) + DAILY_PAD
            if self.per_day is not None:
                self._set_day_count_at_least(self.per_day)
        else:
            seconds = min(max(seconds, MIN_429_PAUSE), MAX_PAUSE)
        of = f" of {self.per_day}" if self.per_day else ""
        at = datetime.fromtimestamp(wall + seconds, timezone.utc).strftime("%H:%M")
        self.pause(seconds, f"daily limit{of} reached, resets at {at} UTC")
        return seconds

    def set_per_minute(self, n: int | None) -> None:
        """This lane's own minute limit (None: only the bucket's); raises ValueError if < 1."""
        self._window.set_limit(n)
        self.bucket._notify(everyone=True)

    def set_per_day(self, n: int | None) -> None:
        """This lane's daily limit (None or 0: none)."""
        self.per_day = n if n and n > 0 else None
        self.bucket._notify(everyone=True)

    def record_phantoms(self, count: int) -> int:
        """Count `count` grants the server saw and we did not (not against today: the server's
        daily figures say that); returns how many were recorded (bounded by the room left)."""
        return self.bucket._phantoms(self, count)

    @property
    def per_minute(self) -> int | None:
        """The minute limit in force for this lane: its own or the bucket's, the lower."""
        limits = [n for n in (self._window.limit, self.bucket.per_minute) if n is not None]
        return min(limits) if limits else None

    def used_60s(self) -> int:
        return self._window.used(self._clock())

    def usage(self) -> BucketUsage:
        """This lane's grants in its window, its day, how long it is held, and where the minute
        limit in force came from."""
        b = self.bucket
        now, wall = self._clock(), self._wall()
        held = max(b._top.held_until(now, wall)[0], self.held_until(now, wall)[0]) - now
        own, whole = self._window.limit, b.per_minute
        source = self.source if whole is None or (own is not None and own <= whole) else b.source
        return BucketUsage(self.name, self._window.used(now), self.per_minute or 0, self._today(wall),
                           self.per_day, max(0.0, held), source)

    def ready_at(self, now: float, wall: float) -> tuple[float, str]:
        """(monotonic time, reason) before which this lane may not be granted anything: its
        pause, its day, its own window."""
        at, reason = self.held_until(now, wall)
        free = self._window.next_free(now)
        if free > at:
            at, reason = free, "rate limit"
        return at, reason


class Bucket:
    """A minute window over its lanes, with a FIFO queue, a pause and daily limits.

    `per_minute` grants (None: no limit of its own) in every window of `window + margin` seconds
    (monotonic `clock`), over all lanes together; `per_day` is the daily limit of the bucket's
    own lane (the one `Bucket.acquire` uses), per UTC day by the `wall` clock; None or 0 means
    none. FIFO is among waiters that may go: a waiter held by its own lane (its window, daily
    limit or pause) steps aside instead of blocking other lanes.
    """

    def __init__(self, name: str, per_minute: int | None, per_day: int | None = None, *, margin: float = 0.5,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 window: float = 60.0) -> None:
        self.name = name
        self._clock, self._wall = clock, wall
        self._top = _Scope(name, clock, wall, window + max(0.0, margin), per_minute, None)
        self._queue: list[_Waiter] = []
        self.lanes: dict[str, Lane] = {}
        self.own = self.lane(name, per_day)

    def lane(self, name: str, per_day: int | None = None, per_minute: int | None = None) -> Lane:
        """A lane drawing on this bucket's window with its own daily and minute limits (created once)."""
        if name not in self.lanes:
            self.lanes[name] = Lane(self, name, per_day, per_minute)
        return self.lanes[name]

    @property
    def per_minute(self) -> int | None:
        return self._top.own_per_minute

    @property
    def per_day(self) -> int | None:
        """The daily limit over all lanes together (None: none)."""
        return self._top.per_day

    @property
    def source(self) -> str:
        return self._top.source

    @source.setter
    def source(self, value: str) -> None:
        self._top.source = value

    @property
    def window(self) -> float:
        return self._top.window

    async def acquire(self, on_wait: OnWait | None = None) -> None:
        """Wait for a grant: the window, any pause and the daily limit. FIFO; see `_acquire`."""
        await self._acquire(self.own, on_wait)

    def pause(self, seconds: float, reason: str) -> None:
        """Nobody on this bucket (any lane) is granted for `seconds`; a longer pause extends
        the current one, a shorter one never shortens it. Non-positive or NaN is ignored."""
        if self._top._set_pause(seconds, reason):
            self._notify(everyone=True)

    def note_daily_exhausted(self, retry_after: float | None = None) -> float:
        """See `Lane.note_daily_exhausted` (for this bucket's own lane)."""
        return self.own.note_daily_exhausted(retry_after)

    def set_per_minute(self, n: int | None) -> None:
        """Change the bucket's limit at once (None: none); raises ValueError if n < 1."""
        self._top._window.set_limit(n)
        self._notify(everyone=True)

    def set_per_day(self, n: int | None) -> None:
        """The daily limit over all lanes together (None or 0: none)."""
        self._top.per_day = n if n and n > 0 else None
        self._notify(everyone=True)

    def record_phantoms(self, count: int) -> int:
        """Count `count` grants over the whole bucket that the server saw and we did not;
        returns how many were recorded (bounded by the room left in the bucket's window)."""
        return self._phantoms(None, count)

    def used_60s(self) -> int:
        return self._top._window.used(self._clock())

    def count_since(self, since: float) -> int:
        """Grants of every lane after monotonic time `since` (back to two windows before now)."""
        return self._top.count_since(since)

    def used_today(self) -> int:
        """Grants of every lane today (counted when the bucket has a daily limit of its own)."""
        return self._top.used_today()

    def usage(self) -> BucketUsage:
        """Window use, the own lane's day (or the bucket's, when it has a daily limit), how long
        the bucket is held, and where its minute limit came from."""
        now, wall = self._clock(), self._wall()
        held = max(self._top.held_until(now, wall)[0], self.own.held_until(now, wall)[0]) - now
        day = self._top if self._top.per_day is not None else self.own
        return BucketUsage(self.name, self._top._window.used(now), self.per_minute or 0, day._today(wall),
                           day.per_day, max(0.0, held), self.source)

    def oldest_expiry(self) -> float | None:
        """Seconds until the oldest grant in the window leaves it (None if the window is empty)."""
        return self._top.oldest_expiry()

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
        free = self._top._window.eta(now, ahead)
        held, held_reason = self._top.held_until(now, wall)
        at, reason = (held, held_reason) if held > free else (free, "rate limit")
        if ahead:
            return max(at, now), reason, math.inf   # those ahead go first and wake us
        return at, reason, max(0.0, at - now)

    def _grant(self, me: _Waiter, now: float, wall: float) -> None:
        self._queue.remove(me)
        me.granted = True
        self._top._granted(now, wall)
        me.lane._granted(now, wall)
        # A lane (or the bucket) that just used its last grant of the window or the day holds
        # its other waiters: they re-plan, and step aside until it frees.
        if self._top.held_until(now, wall)[0] > now:
            self._notify(everyone=True)
        else:
            self._notify(lane=me.lane if me.lane.ready_at(now, wall)[0] > now else None)

    def _phantoms(self, lane: Lane | None, count: int) -> int:
        now = self._clock()
        scope: _Scope = lane if lane is not None else self._top
        room = scope._window.room(now)
        count = max(0, min(count, room if room is not None else count))
        if count:
            scope._window.record(now, count)
            if lane is not None and self._top is not scope:
                self._top._window.record(now, count)   # they were calls on this bucket too
            self._notify(everyone=True)
        return count

    def _ready_lanes(self, now: float, wall: float) -> set[Lane]:
        return {lane for lane in self.lanes.values() if lane.ready_at(now, wall)[0] <= now}

    def _notify(self, everyone: bool = False, lane: Lane | None = None) -> None:
        """Wake the first waiter that may go (the only one a grant or a departure can unblock)
        and every waiter of `lane` (which just became held: they re-plan), or every waiter when
        pauses or limits changed. The others keep their place and are woken when they come
        first, so a grant costs O(waiters), not O(waiters^2)."""
        ready = self._ready_lanes(self._clock(), self._wall()) if not everyone else set()
        first = not everyone
        for w in self._queue:
            wake = everyone or (lane is not None and w.lane is lane)
            if first and w.lane in ready:
                wake, first = True, False
            if wake and w.wake is not None:
                w.wake.set()
            if not first and not everyone and lane is None:
                break

    # -- persistence -------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """TOML/JSON-safe state: wall-clock times of the grants in the windows, pauses, and each
        lane's day and count, so a crash and an immediate resume cannot burst."""
        now, wall = self._clock(), self._wall()

        def to_wall(t: float) -> float:
            return math.ceil((wall - (now - t)) * 1000) / 1000   # rounded later, never earlier

        top = self._top._snapshot(now, to_wall)
        data: dict[str, Any] = {"name": self.name, "grants": top.pop("recent"),
                                "day": top.pop("day"), "count": top.pop("count"), **top}
        if self.per_minute is not None:
            data["per_minute"] = self.per_minute
        data["lanes"] = {lane.name: lane._snapshot(now, to_wall) for lane in self.lanes.values()}
        return data

    def restore(self, data: dict[str, Any]) -> None:
        """Merge a `snapshot()` (possibly from another process, an older version, or another
        limit mode) into this bucket. Malformed entries are skipped; grants from the future
        count as now. A lane entry without its own "recent" (the own lane of an older
        snapshot) takes the bucket's grants."""
        now, wall = self._clock(), self._wall()

        def walls(values: Any) -> list[float]:
            out = []
            for v in values if isinstance(values, list) else []:
                w = _sane_seconds(v)
                if w is not None and w > wall - self.window:
                    out.append(now - max(0.0, wall - w))
            return out

        grants = walls(data.get("grants"))
        self._top._window.load(grants)
        self._top._restore_day(data)
        until = _sane_seconds(data.get("paused_until"))
        if until is not None and until > wall:
            self._top._set_pause(until - wall, str(data.get("pause_reason", "paused")))
        lanes = data.get("lanes")
        for name, ld in (lanes.items() if isinstance(lanes, dict) else ()):
            lane = self.lanes.get(name)
            if lane is None or not isinstance(ld, dict):
                continue
            lane._restore_day(ld)
            lane._window.load(walls(ld["recent"]) if "recent" in ld else grants)
            until = _sane_seconds(ld.get("paused_until"))
            if until is not None and until > wall:
                lane._set_pause(until - wall, str(ld.get("pause_reason", "paused")))
        self._notify(everyone=True)
