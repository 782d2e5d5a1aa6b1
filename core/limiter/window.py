"""The exact sliding-window rule and the clock helpers every bucket shares (no I/O, no sleeping)."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from datetime import datetime, timezone
from itertools import islice
from typing import Callable, Iterable

OnWait = Callable[[float, str], None]

DAY = 86400.0
MAX_SLEEP = 300.0    # waiters re-read both clocks at least this often (suspend, wall clock changes)
DAILY_PAD = 2.0      # wait this long past midnight UTC: the server's clock is not ours
MAX_PAUSE = DAY + 3600.0
MIN_429_PAUSE = 1.0  # a 429 saying "Retry-After: 0" must not become a request storm


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
    """The exact rule: at most `limit` grants in every half-open window (t - window, t];
    `limit` None means no limit (the log is still kept, for counting).

    Grants are recorded in time order. Every grant still inside the window is kept (not only
    the last `limit`), so a limit that is raised later still counts them all; older ones beyond
    the last `limit` are dropped when the next grant is recorded, two windows after it. Memory
    is the grants of two windows, or `limit` if more.
    """

    def __init__(self, limit: int | None, window: float = 60.0) -> None:
        if not window > 0:
            raise ValueError(f"window must be positive seconds (got {window!r})")
        self.window = float(window)
        self._limit = _check_limit(limit)
        self._log: deque[float] = deque()

    @property
    def limit(self) -> int | None:
        return self._limit

    def set_limit(self, limit: int | None) -> None:
        """Change the limit (None: none); every grant in the window keeps counting.
        Raises ValueError if below 1."""
        self._limit = _check_limit(limit)

    def next_free(self, now: float) -> float:
        """Earliest time >= now at which one more grant keeps every window at <= limit."""
        return self.eta(now, 0)

    def eta(self, now: float, k: int = 0) -> float:
        """When the k-th further grant (0 = the next) could go if each one before it went as
        early as allowed. Used to tell queued waiters how long they will wait."""
        n, log, w = self._limit, self._log, self.window
        if n is None:
            return now
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

    def record(self, now: float, count: int = 1) -> None:
        """Log `count` grants at `now` (never before the last one: times are kept in order)."""
        log = self._log
        t = max(now, log[-1]) if log else now
        for _ in range(count):
            log.append(t)
        keep = self._limit or 0   # the last `limit` grants decide `eta` at any time: always kept
        while len(log) > keep and log[0] + 2 * self.window < t:   # blocks nothing; `count_since` needs no more
            log.popleft()

    def load(self, times: Iterable[float]) -> None:
        """Merge grant times (e.g. restored ones) into the log."""
        self._log = deque(sorted([*self._log, *times]))

    # The log is in time order, so counting is two binary searches, not a walk over it: with a
    # high limit the log holds thousands of grants and `used` runs on every response (issue 15).
    def _first_inside(self, now: float) -> int:
        """Index of the first grant with now - t < window (the same float arithmetic as the rule)."""
        return bisect_right(self._log, -self.window, key=lambda t: -(now - t))

    def used(self, now: float) -> int:
        """Grants in (now - window, now], i.e. with 0 <= now - t < window."""
        return max(0, bisect_right(self._log, now) - self._first_inside(now))

    def count_since(self, since: float) -> int:
        """Grants after `since` (reliable back to two windows before the latest grant)."""
        return len(self._log) - bisect_right(self._log, since)

    def room(self, now: float) -> int | None:
        """Grants that could go at `now` (None without a limit)."""
        return None if self._limit is None else max(0, self._limit - self.used(now))

    def times(self, now: float) -> list[float]:
        """Grant times still inside the window ending at `now`, oldest first."""
        return list(islice(self._log, self._first_inside(now), None))


def _check_limit(limit: int | None) -> int | None:
    if limit is None:
        return None
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValueError(f"a per-minute limit must be a whole number of at least 1 (got {limit!r})")
    return limit

