"""The exact sliding-window rule and the clock helpers every bucket shares (no I/O, no sleeping)."""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime, timezone
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

