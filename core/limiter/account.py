"""The account's limits: one bucket with a lane per endpoint, built from Settings, taught by
deAPI's answers (`observe`), 429s applied."""

from __future__ import annotations

import random
from typing import Any, Callable

from ..events import BucketUsage
from ..settings import Settings
from .bucket import Bucket, Lane
from .policy import ENDPOINTS, AccountLimits, HeaderInfo
from .window import MAX_PAUSE, MIN_429_PAUSE, OnWait, _sane_seconds, seconds_to_midnight

__all__ = ["ENDPOINTS", "RateLimiter"]

OnNotice = Callable[[str, str], None]   # (level, message)
NO_LIMIT = 100_000                       # what "per minute" reads as when nothing limits it
SYNC_LOOKBACK = 1.1                      # windows of our own grants a Remaining is compared with


class RateLimiter:
    """The account's limits as the engine sees them: `await acquire(endpoint)` before every
    call to "submit", "status" or "price", `observe(endpoint, info)` with the X-RateLimit-*
    headers of every answer (the client's `on_limits`), and `on_429(...)` after every 429.

    One "account" bucket holds a lane per endpoint. Each lane has its own minute window and
    daily counter; the bucket has a minute window over all of them (None in per-endpoint
    pacing, the account's limit in shared pacing), so both kinds of limit hold at once and
    switching between them needs no rebuilding. `on_notice(level, message)` hears what the
    headers taught (once per distinct sentence)."""

    def __init__(self, bucket: Bucket, policy: AccountLimits, *, rng: random.Random | None = None,
                 on_notice: OnNotice | None = None) -> None:
        self.account = bucket
        self.buckets = {bucket.name: bucket}
        self.routes: dict[str, Lane] = {e: bucket.lane(e) for e in ENDPOINTS}
        self.policy = policy
        self.on_notice = on_notice
        self._rng = rng or random.Random()
        self._said: set[str] = set()
        self._apply()

    @classmethod
    def from_settings(cls, settings: Settings, **clock_kwargs: Any) -> "RateLimiter":
        """Limits as `settings` start them (see `policy.AccountLimits`). Per-endpoint pacing: the
        submit lane at submit_rpm, status and price at effective_status_rpm, the account window
        unlimited; shared: the account window at submit_rpm as well. `clock_kwargs` (clock, wall,
        margin, window) go to the Bucket; margin defaults to `settings.limit_margin`."""
        clock_kwargs.setdefault("margin", settings.limit_margin)
        bucket = Bucket("account", None, None, **clock_kwargs)
        return cls(bucket, AccountLimits(settings, window=bucket.window))

    @property
    def shared(self) -> bool:
        """Whether one account window holds every endpoint's calls together."""
        return self.account.per_minute is not None

    def bucket(self, endpoint: str) -> Lane:
        """The lane `endpoint` draws on. Raises ValueError for an unknown endpoint."""
        try:
            return self.routes[endpoint]
        except KeyError:
            raise ValueError(f"unknown endpoint {endpoint!r}: expected one of {', '.join(self.routes)}") from None

    def _scope(self, endpoint: str) -> Bucket | Lane:
        """What a minute 429 from `endpoint` holds: the account when it is shared, else the lane."""
        lane = self.bucket(endpoint)
        return self.account if self.shared else lane

    async def acquire(self, endpoint: str, on_wait: OnWait | None = None) -> None:
        """Wait until a call to `endpoint` may be sent; see `Bucket._acquire`."""
        await self.bucket(endpoint).acquire(on_wait)

    # -- what deAPI says ---------------------------------------------------------------------
    def observe(self, endpoint: str, info: HeaderInfo) -> None:
        """Learn from the X-RateLimit-* headers of one answer of `endpoint` (any status): the
        minute and daily limits (`policy.AccountLimits.observe`), then Remaining: when the
        server counts more calls in the window (or today) than we granted (another client on
        the key, grants a crash lost), the missing ones are recorded as grants made now, so the
        next calls wait for them instead of meeting a 429. Our side of that comparison is every
        grant since 1.1 windows before the request was sent (`info.elapsed` ago), so neither a
        slow answer nor a slow send makes calls up (erring this way costs a 429 at worst, the
        other way a window of idle slots); a Remaining older than half a window is not used.
        A 429's own Remaining (0) is left to `on_429`. Never raises for odd values; an unknown
        endpoint is ignored."""
        lane = self.routes.get(endpoint)
        if lane is None:
            return
        now, window = self.account._clock(), self.account.window
        age = _sane_seconds(getattr(info, "elapsed", 0.0)) or 0.0
        # Every grant the server may have counted: one window (and a tenth, for the time from a
        # grant to its request's arrival: journalling, connecting) before the request was sent.
        since = now - age - window * SYNC_LOOKBACK
        fresh = age <= window / 2
        scope = self.policy.observe(endpoint, info, lane_used=lane.count_since(since),
                                    all_used=self.account.count_since(since), now=now, fresh=fresh)
        self._apply()
        account = scope == "account" and self.shared
        if info.remaining is not None and not info.kind and fresh:
            target: Bucket | Lane = self.account if account else lane
            limit = info.limit or target.per_minute
            if limit:
                missing = (limit - info.remaining) - target.count_since(since)
                if missing > 0:
                    target.record_phantoms(missing)
        if info.daily_limit is not None and info.daily_remaining is not None:
            day = self.account._top if account and self.account.per_day is not None else lane
            if day._set_day_count_at_least(info.daily_limit - info.daily_remaining):
                self.account._notify(everyone=True)
        self._tell()

    def _apply(self) -> None:
        """Put the policy's values into the bucket and its lanes."""
        v = self.policy.values()
        for e, lane in self.routes.items():
            minute, source = v.minute[e]
            if lane.own_per_minute != minute:
                lane.set_per_minute(minute)
            lane.source = source
            day, _ = v.daily[e]
            if lane.per_day != day:
                lane.set_per_day(day)
        minute, source = v.account
        if self.account.per_minute != minute:
            self.account.set_per_minute(minute)
        self.account.source = source
        if self.account.per_day != v.account_daily:
            self.account.set_per_day(v.account_daily)

    def _tell(self) -> None:
        if self.on_notice is None:
            return
        for message in self.policy.messages():
            if message not in self._said:
                self._said.add(message)
                try:
                    self.on_notice("info", message)
                except Exception:   # a listener's bug must not stop the limiter
                    pass

    def on_429(self, endpoint: str, retry_after: float | None, rate_limit_type: str | None) -> float:
        """Pause after a 429 from `endpoint`; returns the pause in seconds.

        - daily (`X-RateLimit-Type: daily`, or no type and Retry-After over 10 minutes): only
          this endpoint's lane waits, for `retry_after` or until just after midnight UTC;
        - otherwise a minute limit: what the endpoint draws on (the account, when shared; its
          lane otherwise) waits `retry_after` (at least 1 s); without a usable value, until the
          oldest grant of the window leaves it (the server frees a slot then) plus 0-2 s of
          jitter, at most one window.
        """
        kind = (rate_limit_type or "").strip().lower()
        seconds = _sane_seconds(retry_after)
        if kind == "daily" or (not kind and seconds is not None and seconds > 600):
            return self.bucket(endpoint).note_daily_exhausted(seconds)
        scope = self._scope(endpoint)
        lane = self.routes.get(endpoint)
        if lane is not None and lane.per_day is not None:
            # Turned away by the minute limit: the day's count gets that grant back (deAPI's
            # documents do not say a refused request counts; kept, the last of Basic's 10 daily
            # submits waited for midnight after one 429). The daily headers of the same answer,
            # already read, set the floor when the server does count it.
            lane._give_back_one()
        if seconds is not None:
            pause = min(max(seconds, MIN_429_PAUSE), MAX_PAUSE)
            reason = f"paused by a 429 (Retry-After {pause:.0f} s)"
        else:
            base = scope.oldest_expiry() or scope.window
            pause = min(max(base, MIN_429_PAUSE), scope.window) + self._rng.uniform(0.0, 2.0)
            reason = f"paused by a 429 (no Retry-After; waiting {pause:.0f} s)"
        scope.pause(pause, reason)
        return pause

    # -- what the engine plans with ----------------------------------------------------------
    def set_per_minute(self, endpoint: str, n: int) -> None:
        """Change the minute limit `endpoint` draws on (shared: the account's)."""
        self._scope(endpoint).set_per_minute(n)

    def submit_per_minute(self) -> int:
        """The minute limit in force for submits (their lane's or the account's, the lower)."""
        return self.bucket("submit").per_minute or NO_LIMIT

    def daily_limited(self, endpoint: str) -> bool:
        """Whether calls to `endpoint` have a daily limit now."""
        return self.bucket(endpoint).per_day is not None or self.account.per_day is not None

    def daily_remaining(self, endpoint: str) -> int | None:
        """Calls to `endpoint` left today, or None without a daily limit."""
        left = [n for n in (self.bucket(endpoint).remaining_today(), self.account._top.remaining_today())
                if n is not None]
        return min(left) if left else None

    def usage(self) -> tuple[BucketUsage, ...]:
        """Shared pacing: the account, then the submit and status lanes (their share of the
        window and their day); per endpoint: submit and status. Price is listed only once
        it has been used today. Each row says where its minute limit came from."""
        rows = [self.account.usage()] if self.shared else []
        rows += [self.bucket(e).usage() for e in ("submit", "status")]
        price = self.bucket("price").usage()
        return tuple(rows + ([price] if price.used_today else []))

    def status_budget_per_minute(self, submit_demand: float | None = None, *,
                                 horizon: float | None = None) -> float:
        """Status calls per minute the engine may plan for: the status lane's limit, and when the
        account is shared, no more than the account's limit less what submits need
        (`submit_demand` per minute; default: the submits of the last window), never below
        max(1, 10%) of it. Either way no more than today's remaining status allowance spread
        over the hours to midnight UTC, or over `horizon` minutes if that is sooner (the
        caller knows its work for today ends then), so it is 0.0 when that allowance is gone."""
        status = self.bucket("status")
        budget = float(status.per_minute or NO_LIMIT)
        if self.shared:
            whole = float(self.account.per_minute or NO_LIMIT)
            submit = self.bucket("submit")
            if submit_demand is None:
                submit_demand = submit.used_60s() * 60.0 / self.account.window
            if self.daily_remaining("submit") == 0:
                submit_demand = 0.0
            floor = min(whole, max(1.0, 0.1 * whole))
            budget = min(budget, max(floor, whole - max(0.0, submit_demand)))
        left = self.daily_remaining("status")
        if left is not None:
            minutes = seconds_to_midnight(self.account._wall()) / 60.0
            if horizon is not None and horizon > 0:
                minutes = min(minutes, horizon)
            budget = min(budget, left / max(minutes, 1.0))
        return budget

    # -- persistence -------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """TOML/JSON-safe state: the account bucket (see `Bucket.snapshot`) and what the
        headers taught. The shape is the shared mode's of earlier versions, which they read."""
        return {"mode": "shared" if self.shared else "per-endpoint",
                "buckets": {name: b.snapshot() for name, b in self.buckets.items()},
                "learned": self.policy.snapshot()}

    def restore(self, data: dict[str, Any]) -> None:
        """Apply a `snapshot()`, also an older one: a per-endpoint snapshot's buckets (one per
        endpoint) go to their lanes and count against the account window too; a shared one's
        account bucket and lanes go to theirs."""
        if not isinstance(data, dict):
            return
        snaps = data.get("buckets")
        for name, snap in (snaps.items() if isinstance(snaps, dict) else ()):
            if not isinstance(snap, dict):
                continue
            if name in self.routes:     # an older per-endpoint snapshot: a bucket per endpoint
                lanes = snap.get("lanes") if isinstance(snap.get("lanes"), dict) else {}
                own = lanes.get(name) if isinstance(lanes.get(name), dict) else {}
                lane = {**own, "recent": snap.get("grants", [])}
                if "paused_until" in snap:
                    lane.update(paused_until=snap.get("paused_until"), pause_reason=snap.get("pause_reason", ""))
                self.account.restore({"grants": snap.get("grants", []), "lanes": {name: lane}})
            else:
                self.account.restore(snap)
        self.policy.restore(data.get("learned"))
        self._apply()
