"""Client-side rate limiting shared by every worker: exact over any window, FIFO, cancel-safe.

deAPI counts requests per endpoint over a sliding minute and per UTC day. A token bucket or a
fixed window sized "N per 60 s" lets about 2N through around a refill or window edge, so this
module keeps a log of the last N grant times instead (`SlidingWindow`) and grants only when one
more keeps *every* window of length `60 s + margin` at N or fewer. The margin absorbs network
jitter: the server counts arrivals, not sends.

Structure:
- `SlidingWindow`: the pure rule, no I/O and no sleeping.
- `Bucket`: one minute window with a FIFO queue of waiters, a pause (Retry-After) and one or
  more `Lane`s. A lane is one endpoint's share of the bucket: its own daily allowance and its
  own pause (a daily 429). Per-endpoint mode has one bucket per endpoint, each with one lane;
  shared mode has one "account" bucket with a lane per endpoint, so submits and status calls
  draw on one minute window while their daily counters stay separate.
- `RateLimiter`: builds the buckets from `Settings`, routes endpoints and 429s.

Cancellation safety: capacity is taken synchronously, in the same step that decides a waiter may
go, and never before; a waiter that leaves for any reason takes nothing and wakes the others.
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

import anyio
import anyio.lowlevel

from .events import BucketUsage
from .settings import Settings

OnWait = Callable[[float, str], None]

DAY = 86400.0
MAX_SLEEP = 300.0    # waiters re-read both clocks at least this often (suspend, wall clock changes)
DAILY_PAD = 2.0      # wait this long past midnight UTC: the server's clock is not ours
MAX_PAUSE = DAY + 3600.0
MIN_429_PAUSE = 1.0  # a 429 saying "Retry-After: 0" must not become a request storm
ENDPOINTS = ("submit", "status", "price")


def utc_day(wall: float) -> int:
    """Days since the epoch, in UTC, of a wall-clock time."""
    return int(wall // DAY)


def seconds_to_midnight(wall: float) -> float:
    """Seconds from `wall` to the next 00:00 UTC."""
    return (utc_day(wall) + 1) * DAY - wall


def _iso_day(wall: float) -> str:
    return datetime.fromtimestamp(utc_day(wall) * DAY, timezone.utc).date().isoformat()


def _sane_seconds(value: float | None) -> float | None:
    """A usable, finite, non-negative number of seconds, or None."""
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


class SlidingWindow:
    """The exact rule: at most `limit` grants in every half-open window (t - window, t].

    Grants are recorded in time order; only the last `limit` are kept (O(limit) memory), which
    is enough: the grant `limit` places back is the only one that can block the next.
    """

    def __init__(self, limit: int, window: float = 60.0) -> None:
        if not window > 0:
            raise ValueError(f"window must be positive seconds (got {window!r})")
        self.window = float(window)
        self._log: deque[float] = deque(maxlen=_check_limit(limit))

    @property
    def limit(self) -> int:
        return self._log.maxlen or 1

    def set_limit(self, limit: int) -> None:
        """Change the limit; the most recent grants are kept. Raises ValueError if < 1."""
        self._log = deque(self._log, maxlen=_check_limit(limit))

    def next_free(self, now: float) -> float:
        """Earliest time >= now at which one more grant keeps every window at <= limit."""
        return self.eta(now, 0)

    def eta(self, now: float, k: int = 0) -> float:
        """When the k-th further grant (0 = the next) could go if each one before it went as
        early as allowed. Used to tell queued waiters how long they will wait."""
        n, log, w = self.limit, self._log, self.window
        idx = len(log) + k - n        # position (in the log) of the grant n places back
        extra = 0.0
        while idx >= len(log):        # that grant is itself a future one: one window later
            idx -= n
            extra += w
        if idx < 0:
            return now + extra
        free = log[idx] + w
        if free - log[idx] < w:        # rounded down: one ulp more keeps the rule exact
            free = math.nextafter(free, math.inf)
        return max(now, free) + extra

    def record(self, now: float) -> None:
        """Log a grant at `now` (never before the last one: times are kept in order)."""
        self._log.append(max(now, self._log[-1]) if self._log else now)

    def load(self, times: Iterable[float]) -> None:
        """Merge grant times (e.g. restored ones) into the log, keeping the latest `limit`."""
        self._log = deque(sorted([*self._log, *times]), maxlen=self.limit)

    def used(self, now: float) -> int:
        """Grants in (now - window, now], i.e. with 0 <= now - t < window."""
        return sum(1 for t in self._log if 0 <= now - t < self.window)

    def times(self, now: float) -> list[float]:
        """Grant times still inside the window ending at `now`, oldest first."""
        return [t for t in self._log if now - t < self.window]


def _check_limit(limit: int) -> int:
    if not isinstance(limit, int) or limit < 1:
        raise ValueError(f"a per-minute limit must be a whole number of at least 1 (got {limit!r})")
    return limit


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


class RateLimiter:
    """The account's limits as the engine sees them: `await acquire(endpoint)` before every
    call to "submit", "status" or "price", and `on_429(...)` after every 429."""

    def __init__(self, buckets: dict[str, Bucket], routes: dict[str, Bucket | Lane], *,
                 shared: bool, rng: random.Random | None = None) -> None:
        self.buckets = buckets
        self.routes = routes
        self.shared = shared
        self._rng = rng or random.Random()

    @classmethod
    def from_settings(cls, settings: Settings, **clock_kwargs: Any) -> "RateLimiter":
        """Shared mode: one "account" bucket at `submit_rpm` whose lanes keep the daily counters
        (submit_daily; status_daily for status and price). Per-endpoint mode: a bucket per
        endpoint (submit at submit_rpm, status and price at effective_status_rpm).
        `clock_kwargs` (clock, wall, margin, window) go to every Bucket; margin defaults to
        `settings.limit_margin`."""
        clock_kwargs.setdefault("margin", settings.limit_margin)
        daily = {"submit": settings.submit_daily, "status": settings.status_daily, "price": settings.status_daily}
        if settings.effective_limit_mode == "shared":
            account = Bucket("account", settings.submit_rpm, None, **clock_kwargs)
            routes: dict[str, Bucket | Lane] = {e: account.lane(e, daily[e]) for e in ENDPOINTS}
            return cls({"account": account}, routes, shared=True)
        rpm = {"submit": settings.submit_rpm, "status": settings.effective_status_rpm,
               "price": settings.effective_status_rpm}
        buckets = {e: Bucket(e, rpm[e], daily[e], **clock_kwargs) for e in ENDPOINTS}
        return cls(buckets, dict(buckets), shared=False)

    def bucket(self, endpoint: str) -> Bucket | Lane:
        """What `endpoint` draws on (a Bucket, or a Lane of the shared bucket).
        Raises ValueError for an unknown endpoint."""
        try:
            return self.routes[endpoint]
        except KeyError:
            raise ValueError(f"unknown endpoint {endpoint!r}: expected one of {', '.join(self.routes)}") from None

    def _scope(self, endpoint: str) -> Bucket:
        target = self.bucket(endpoint)
        return target.bucket if isinstance(target, Lane) else target

    async def acquire(self, endpoint: str, on_wait: OnWait | None = None) -> None:
        """Wait until a call to `endpoint` may be sent; see `Bucket._acquire`."""
        await self.bucket(endpoint).acquire(on_wait)

    def on_429(self, endpoint: str, retry_after: float | None, rate_limit_type: str | None) -> float:
        """Pause after a 429 from `endpoint`; returns the pause in seconds.

        - daily (`X-RateLimit-Type: daily`, or no type and Retry-After over 10 minutes): only
          this endpoint's lane waits, for `retry_after` or until just after midnight UTC;
        - otherwise a minute limit: the whole bucket the endpoint draws on (the account, in
          shared mode) waits `retry_after` (at least 1 s); without a usable value, until the
          oldest grant of the window leaves it (the server frees a slot then) plus 0-2 s of
          jitter, at most one window.
        """
        kind = (rate_limit_type or "").strip().lower()
        seconds = _sane_seconds(retry_after)
        if kind == "daily" or (not kind and seconds is not None and seconds > 600):
            return self.bucket(endpoint).note_daily_exhausted(seconds)
        scope = self._scope(endpoint)
        if seconds is not None:
            pause = min(max(seconds, MIN_429_PAUSE), MAX_PAUSE)
            reason = f"paused by a 429 (Retry-After {pause:.0f} s)"
        else:
            base = scope.oldest_expiry() or scope.window
            pause = min(max(base, MIN_429_PAUSE), scope.window) + self._rng.uniform(0.0, 2.0)
            reason = f"paused by a 429 (no Retry-After; waiting {pause:.0f} s)"
        scope.pause(pause, reason)
        return pause

    def set_per_minute(self, endpoint: str, n: int) -> None:
        """Change the minute limit `endpoint` draws on (shared mode: the account's)."""
        self._scope(endpoint).set_per_minute(n)

    def submit_per_minute(self) -> int:
        """The minute limit submits draw on (in shared mode, the account's)."""
        return self._scope("submit").per_minute

    def daily_remaining(self, endpoint: str) -> int | None:
        """Calls to `endpoint` left today, or None without a daily limit."""
        target = self.bucket(endpoint)
        return (target.own if isinstance(target, Bucket) else target).remaining_today()

    def usage(self) -> tuple[BucketUsage, ...]:
        """Shared mode: the account, then the submit and status lanes (their share of the
        window and their day); per-endpoint: submit and status. Price is listed only once
        it has been used today."""
        rows = [self.buckets["account"].usage()] if self.shared else []
        rows += [self.bucket(e).usage() for e in ("submit", "status")]
        price = self.bucket("price").usage()
        return tuple(rows + ([price] if price.used_today else []))

    def status_budget_per_minute(self, submit_demand: float | None = None, *,
                                 horizon: float | None = None) -> float:
        """Status calls per minute the engine may plan for. Per-endpoint: the status bucket's
        limit. Shared: the account's limit less what submits need (`submit_demand` per minute;
        default: the submits of the last window), never below max(1, 10%) of the limit.
        Either way no more than today's remaining status allowance spread over the hours to
        midnight UTC, or over `horizon` minutes if that is sooner (the caller knows its work
        for today ends then), so it is 0.0 when that allowance is gone."""
        status = self.bucket("status")
        budget = float(status.per_minute)
        if self.shared:
            submit = self.bucket("submit")
            if submit_demand is None:
                submit_demand = submit.usage().used_60s * 60.0 / self._scope("submit").window
            if submit.remaining_today() == 0:
                submit_demand = 0.0
            floor = min(budget, max(1.0, 0.1 * budget))
            budget = max(floor, budget - max(0.0, submit_demand))
        left = self.daily_remaining("status")
        if left is not None:
            minutes = seconds_to_midnight(self._scope("status")._wall()) / 60.0
            if horizon is not None and horizon > 0:
                minutes = min(minutes, horizon)
            budget = min(budget, left / max(minutes, 1.0))
        return budget

    def snapshot(self) -> dict[str, Any]:
        """TOML/JSON-safe state of every bucket (see `Bucket.snapshot`)."""
        return {"mode": "shared" if self.shared else "per-endpoint",
                "buckets": {name: b.snapshot() for name, b in self.buckets.items()}}

    def restore(self, data: dict[str, Any]) -> None:
        """Apply a `snapshot()`, also one taken in the other limit mode: per-endpoint grants all
        count against a shared account; a shared account's lanes go to their endpoints."""
        snaps = data.get("buckets") if isinstance(data, dict) else None
        for name, snap in (snaps.items() if isinstance(snaps, dict) else ()):
            if not isinstance(snap, dict):
                continue
            if self.shared:
                self.buckets["account"].restore(snap)
            elif name in self.buckets:
                self.buckets[name].restore(snap)
            else:
                lanes = snap.get("lanes") if isinstance(snap.get("lanes"), dict) else {}
                for lane_name, ld in lanes.items():
                    if lane_name in self.buckets and isinstance(ld, dict):
                        self.buckets[lane_name].restore({
                            "grants": ld.get("recent", []), "lanes": {lane_name: ld},
                            "paused_until": snap.get("paused_until"), "pause_reason": snap.get("pause_reason", "")})
