"""Rate limits as deAPI enforces them: per endpoint (or one account bucket), an exact sliding
60 s window plus an optional daily counter that resets at midnight UTC. The window's length is a parameter so a
benchmark can scale time (it must then scale the client's window by the same factor).

Not thread-safe on its own: `SimState` calls it under its lock.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

WINDOW = 60.0
ACCOUNT = "account"   # the bucket every limited endpoint draws on with SimConfig.shared_limits
# X-RateLimit-Source values. deAPI documents the header ("which limit bucket was applied")
# but no value, so these are the simulator's own: a client must not depend on them.
SOURCE_ENDPOINT = "endpoint"
SOURCE_ACCOUNT = "account"


@dataclass(frozen=True)
class Verdict:
    """The outcome of one arrival. `retry_after` is set only when `allowed` is false."""

    allowed: bool
    kind: str                   # "minute" | "daily": the limit that decided
    limit: int
    remaining: int
    retry_after: float = 0.0
    daily_limit: int | None = None
    daily_remaining: int | None = None
    source: str = SOURCE_ENDPOINT   # X-RateLimit-Source: which bucket decided


class RateBucket:
    """One endpoint's limits. Refused arrivals are not counted (like the real service)."""

    def __init__(self) -> None:
        self._times: deque[float] = deque()
        self._day: str = ""
        self._day_count = 0

    def used(self, now: float, window: float = WINDOW) -> int:
        self._expire(now, window)
        return len(self._times)

    def admit(self, now: float, wall: float, per_minute: int, per_day: int | None,
              window: float = WINDOW) -> Verdict:
        """Count an arrival at monotonic `now` / wall clock `wall` if the limits allow it:
        at most `per_minute` in any `window` seconds and `per_day` per UTC day."""
        self._expire(now, window)
        day = _utc_day(wall)
        if day != self._day:
            self._day, self._day_count = day, 0
        daily_remaining = None if per_day is None else max(0, per_day - self._day_count)
        if per_day is not None and self._day_count >= per_day:
            return Verdict(False, "daily", per_minute, max(0, per_minute - len(self._times)),
                           retry_after=max(1.0, math.ceil(_seconds_to_midnight(wall))),
                           daily_limit=per_day, daily_remaining=0)
        if len(self._times) >= per_minute:
            wait = self._times[0] + window - now
            return Verdict(False, "minute", per_minute, 0, retry_after=max(1.0, math.ceil(wait)),
                           daily_limit=per_day, daily_remaining=daily_remaining)
        self._times.append(now)
        self._day_count += 1
        return Verdict(True, "minute", per_minute, per_minute - len(self._times),
                       daily_limit=per_day,
                       daily_remaining=None if per_day is None else per_day - self._day_count)

    def _expire(self, now: float, window: float) -> None:
        while self._times and self._times[0] <= now - window:
            self._times.popleft()


def limit_headers(verdict: Verdict) -> dict[str, str]:
    """The X-RateLimit-* headers of an answer this bucket decided, success or 429 alike
    (a 429 adds `X-RateLimit-Type` and `Retry-After`, see `server.py`)."""
    headers = {"X-RateLimit-Limit": str(verdict.limit),
               "X-RateLimit-Remaining": str(verdict.remaining if verdict.allowed else 0),
               "X-RateLimit-Source": verdict.source}
    if verdict.daily_limit is not None:
        headers["X-RateLimit-Daily-Limit"] = str(verdict.daily_limit)
        headers["X-RateLimit-Daily-Remaining"] = str(verdict.daily_remaining or 0)
    return headers


def _utc_day(wall: float) -> str:
    return datetime.fromtimestamp(wall, timezone.utc).strftime("%Y-%m-%d")


def _seconds_to_midnight(wall: float) -> float:
    now = datetime.fromtimestamp(wall, timezone.utc)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()
