"""A plan before spending: every distinct video of a batch, what it will cost and how long it takes.

Nothing is submitted. The plan expands and dedupes the batch and reads metadata exactly as a run
would (same `sources.resolve`, same cache), then prices the videos that would be submitted.

Cost: from deAPI's price route when a client (or an API key) is given, else the documented rate of
about $0.05 per hour of audio. The price route allows only 50 calls a minute on the Basic plan, so
it is never called once per video: per platform it is asked for at most three distinct durations
(exact), or for the shortest and the longest one, and prices in between are interpolated on the
line through those two quotes (deAPI bills by duration, a fixed part plus a per-second part).

Time: videos / min(submit rate, concurrency / mean latency), where the latency of one job is
assumed to be LATENCY_BASE_S plus LATENCY_PER_AUDIO_SECOND of its audio length; a daily submit
cap adds the days it forces. Under `--plan auto` the limits are not known before deAPI answers,
so the estimate is at Basic's (where every new account starts), and the basis says what Premium's
would make of it; `limits_basis` says where the limits come from.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.to_thread

from . import paths
from .errors import Category, DeapiError
from .model import Video
from .run.polling import DEFAULT_EXPECTED
from .settings import PLANS, Settings
from .sources.batch import BatchLine, read_batch
from .sources.expand import SourceProblem, order_videos, resolve
from .sources.urls import UrlError, normalize

RATE_PER_HOUR = 0.05              # USD per hour of audio (deAPI's documented rough price)
LATENCY_BASE_S = DEFAULT_EXPECTED  # assumed seconds from submit to done for a very short video
LATENCY_PER_AUDIO_SECOND = 0.05    # plus this many seconds per second of audio
MAX_PRICE_PLATFORMS = 5            # beyond this many platforms, the rate prices the rest
_DEFAULT_CACHE = object()


@dataclass(frozen=True)
class PlanRow:
    url: str
    id: str
    key: str
    title: str
    duration: float | None
    supported: bool                # deAPI can fetch this host
    done_already: bool             # the session already has it done: it will not be submitted
    price_estimate: float | None   # USD; None when not submitted or the duration is unknown
    line: int = 0
    source: str = ""


@dataclass(frozen=True)
class PlanTotals:
    videos: int                    # distinct videos (rows)
    to_run: int                    # rows not done yet and on a supported host
    done_already: int
    unsupported: int
    audio_seconds: float           # known audio of the videos to run
    unknown_durations: int         # videos to run whose duration is unknown (not in the cost)
    estimated_cost: float
    cost_basis: str
    balance: float | None          # USD, when a key is set and the balance could be read
    estimated_seconds: float
    time_basis: str
    duplicates: int
    limits: str = ""               # where the run's rate limits come from (`limits_basis`), in words
    limits_source: str = ""        # "auto" (learned from deAPI), "preset", "flags" or "preset+flags"

    @property
    def hours(self) -> float:
        return self.audio_seconds / 3600.0

    @property
    def exceeds_balance(self) -> bool:
        return self.balance is not None and self.estimated_cost > self.balance


@dataclass
class Plan:
    rows: list[PlanRow]
    totals: PlanTotals
    problems: list[SourceProblem] = field(default_factory=list)
    duplicates: list[tuple[int, str, str]] = field(default_factory=list)
    videos: list[Video] = field(default_factory=list)  # run order; what a run would submit


# -- pricing --------------------------------------------------------------------------------


def rate_price(seconds: float) -> float:
    return RATE_PER_HOUR * seconds / 3600.0


async def _quote_prices(client: Any, settings: Settings, durations: dict[str, list[float]]
                        ) -> Callable[[str, float], float]:
    """A price function per (platform, seconds), built from few price-route calls.

    Raises DeapiError from the client; the caller falls back to the rate."""
    quotes: dict[str, dict[float, float]] = {}
    for platform in sorted(durations, key=lambda p: -len(durations[p]))[:MAX_PRICE_PLATFORMS]:
        distinct = sorted({float(round(d)) for d in durations[platform]})
        asked = distinct if len(distinct) <= 3 else [distinct[0], distinct[-1]]
        quotes[platform] = {}
        for seconds in asked:
            quotes[platform][seconds] = await client.price(
                model=settings.model, include_ts=settings.timestamps,
                duration_seconds=seconds, platform=platform or None)

    def price(platform: str, seconds: float) -> float:
        known = quotes.get(platform)
        if not known:
            return rate_price(seconds)
        seconds = float(round(seconds))
        if seconds in known:
            return known[seconds]
        (x0, y0), (x1, y1) = min(known.items()), max(known.items())
        if x1 == x0:
            return y0 * seconds / x0 if x0 else y0
        return max(0.0, y0 + (y1 - y0) * (seconds - x0) / (x1 - x0))

    return price


# -- time -----------------------------------------------------------------------------------


def limits_basis(settings: Settings) -> tuple[str, str]:
    """(kind, sentence): where a run's rate limits come from. kind is "auto" (learned from deAPI's
    answers, starting at Basic's), "preset" (the plan's published limits), "flags", or
    "preset+flags" (some set by flags, the rest the plan's)."""
    s = settings
    flags = [f"--rpm {s.rpm}" if s.rpm else "", f"--status-rpm {s.status_rpm}" if s.status_rpm else "",
             f"--submit-per-day {s.submit_per_day}" if s.submit_per_day != -1 else "",
             f"--status-per-day {s.status_per_day}" if s.status_per_day != -1 else ""]
    flags = [f for f in flags if f]
    capped = f" ({', '.join(flags)} as {'caps' if len(flags) > 1 else 'a cap'})" if flags else ""
    if s.learns_limits:
        return "auto", f"auto: starts at Basic's limits and learns the account's from deAPI's answers{capped}"
    preset = f"the {s.plan} plan's published limits, which deAPI's answers may only lower"
    if len(flags) == 4:
        return "flags", f"{', '.join(flags)}, which deAPI's answers may only lower"
    if flags:
        return "preset+flags", f"{', '.join(flags)}, otherwise {preset}"
    return "preset", preset


def _span(seconds: float) -> str:
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _estimate(n: int, latency: float, rpm: int, daily: int | None, concurrency: int) -> tuple[float, float, int]:
    """(seconds, submits per minute, extra days) for `n` videos."""
    per_minute = min(float(rpm), concurrency * 60.0 / latency)
    if daily and n > daily:
        days = math.ceil(n / daily) - 1
        last = n - days * daily
        return days * 86400.0 + last * 60.0 / per_minute + latency, per_minute, days
    return n * 60.0 / per_minute + latency, per_minute, 0


def estimate_seconds(durations: Sequence[float | None], settings: Settings) -> tuple[float, str]:
    """Seconds to run these videos at the limits a run starts with, and the sentence that says
    how (under `--plan auto`: at Basic's, with what Premium's would make of it)."""
    n = len(durations)
    known = [d for d in durations if d is not None]
    mean_audio = sum(known) / len(known) if known else 0.0
    latency = LATENCY_BASE_S + LATENCY_PER_AUDIO_SECOND * mean_audio
    basis = (f"min({settings.submit_rpm} submits/min, {settings.concurrency} at once / "
             f"{latency:.0f} s assumed per job: {LATENCY_BASE_S:g} s + {LATENCY_PER_AUDIO_SECOND:g} x mean audio length)")
    if settings.learns_limits:
        basis = f"at Basic's limits, where every new account starts: {basis}"
    if n == 0:
        return 0.0, basis
    daily = settings.submit_daily
    seconds, _, days = _estimate(n, latency, settings.submit_rpm, daily, settings.concurrency)
    if days:
        basis += f"; {daily} submits a day means {days} more day(s) of waiting"
    if settings.learns_limits:
        premium = PLANS["premium"]
        rpm = min(settings.rpm, premium[0]) if settings.rpm else premium[0]
        day = premium[1] if settings.submit_per_day == -1 else (settings.submit_per_day or None)
        fast, _, _ = _estimate(n, latency, rpm, day, settings.concurrency)
        basis += f"; if deAPI's answers show a Premium account ({rpm}/min), about {_span(fast)}"
    return seconds, basis


# -- the plan -------------------------------------------------------------------------------


async def build_plan(
    batch: str | Path | Sequence[BatchLine], settings: Settings, *, api_key: str | None = None,
    client: Any = None, done_keys: frozenset[str] = frozenset(), cache_dir: Any = _DEFAULT_CACHE,
    proxy: str | None = None, timeout: float = 60.0, source_concurrency: int = 4,
    on_progress: Callable[[str], None] | None = None,
) -> Plan:
    """Expand, dedupe and price a batch without submitting anything.

    `batch` is a batch file path (read with `batch.read_batch`) or its lines. `cache_dir`
    defaults to the app's cache (`paths.cache_dir()`, shared with runs); None disables it.
    deAPI is asked for prices and the balance when `client` is given or `api_key` is set (then a
    client is opened on `settings.api_base` and closed again); any deAPI failure becomes a
    problem and the cost falls back to the per-hour rate. Rows follow `settings.order`.
    Raises batch.BatchError only when the batch file cannot be read.
    """
    if isinstance(batch, (str, Path)):
        lines = list((await anyio.to_thread.run_sync(read_batch, Path(batch))).lines)
    else:
        lines = list(batch)
    if cache_dir is _DEFAULT_CACHE:
        cache_dir = paths.cache_dir()
    problems = [SourceProblem(bl.line, bl.raw, Category.INPUT.value, bl.error) for bl in lines if bl.error]
    resolved = await resolve(
        lines, metadata=settings.metadata, cookies=settings.cookies, cache_dir=cache_dir,
        proxy=proxy, concurrency=source_concurrency, timeout=timeout, on_progress=on_progress)
    problems = sorted(problems + resolved.problems, key=lambda p: p.line)
    videos = order_videos(resolved.videos, settings.order)

    supported: dict[str, bool] = {}
    platform: dict[str, str] = {}
    for v in videos:
        try:
            norm = normalize(v.url)
            supported[v.key], platform[v.key] = bool(norm.supported), norm.host or ""
        except UrlError:
            supported[v.key], platform[v.key] = False, ""
    runnable = [v for v in videos if supported[v.key] and v.key not in done_keys]

    def price(_platform: str, seconds: float) -> float:
        return rate_price(seconds)

    cost_basis = f"deAPI's documented rate of ${RATE_PER_HOUR:g} per hour of audio"
    balance: float | None = None
    if client is not None or api_key:
        own = None
        if client is None:
            from .deapi.client import DeapiClient  # only when deAPI is really asked

            client = own = DeapiClient(settings.api_base, api_key or "")
        try:
            try:
                balance = await client.balance()
            except DeapiError as exc:
                problems.append(SourceProblem(0, "", exc.category.value, f"balance not read: {exc.message}"))
            by_platform: dict[str, list[float]] = {}
            for v in runnable:
                if v.duration is not None:
                    by_platform.setdefault(platform[v.key], []).append(v.duration)
            try:
                if by_platform:
                    price = await _quote_prices(client, settings, by_platform)
                cost_basis = "deAPI's price route"
            except DeapiError as exc:
                problems.append(SourceProblem(0, "", exc.category.value,
                                              f"price route failed, using the per-hour rate: {exc.message}"))
        finally:
            if own is not None:
                await own.aclose()

    rows: list[PlanRow] = []
    cost = 0.0
    for v in videos:
        done = v.key in done_keys
        estimate = None
        if supported[v.key] and not done and v.duration is not None:
            estimate = price(platform[v.key], v.duration)
            cost += estimate
        rows.append(PlanRow(url=v.url, id=v.vid, key=v.key, title=v.title, duration=v.duration,
                            supported=supported[v.key], done_already=done, price_estimate=estimate,
                            line=v.line, source=v.source))
    seconds, time_basis = estimate_seconds([v.duration for v in runnable], settings)
    limits_source, limits = limits_basis(settings)
    totals = PlanTotals(
        videos=len(rows), to_run=len(runnable), done_already=sum(r.done_already for r in rows),
        unsupported=sum(not r.supported for r in rows),
        audio_seconds=sum(v.duration for v in runnable if v.duration is not None),
        unknown_durations=sum(v.duration is None for v in runnable), estimated_cost=cost,
        cost_basis=cost_basis, balance=balance, estimated_seconds=seconds, time_basis=time_basis,
        duplicates=len(resolved.duplicates), limits=limits, limits_source=limits_source)
    return Plan(rows=rows, totals=totals, problems=problems, duplicates=resolved.duplicates,
                videos=[v for v in videos if v.key not in done_keys])
