"""The account's limits: buckets built from Settings, endpoints routed to them, 429s applied."""

from __future__ import annotations

import random
from typing import Any

from ..events import BucketUsage
from ..settings import Settings
from .bucket import Bucket, Lane
from .window import MAX_PAUSE, MIN_429_PAUSE, OnWait, _sane_seconds, seconds_to_midnight

ENDPOINTS = ("submit", "status", "price")


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
