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
cap adds the wait for its resets at midnight UTC (`daily_limit_wait`, which the run screen's ETA uses too).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.to_thread

from . import paths
from .errors import Category, DeapiError
from .model import Video
from .run.polling import DEFAULT_EXPECTED
from .settings import Settings
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


def daily_limit_wait(to_submit: int, per_day: int | None, used_today: int = 0, *,
                     now: float | None = None) -> tuple[float, int, int]:
    """What a daily submit limit does to `to_submit` more submits: (seconds spent waiting for
    daily resets, how many resets are waited for, how many submits are sent after the last one).

    Resets are at midnight UTC: the first one is the next midnight after `now` (wall clock), or
    a whole day away without it. No limit, or today's allowance covers them: (0.0, 0, to_submit).
    The plan and the run screen's ETA both use it, so they tell the same story."""
    if not per_day or to_submit <= 0:
        return 0.0, 0, max(to_submit, 0)
    beyond = to_submit - max(per_day - used_today, 0)
    if beyond <= 0:
        return 0.0, 0, to_submit
    resets = math.ceil(beyond / per_day)
    first = 86400.0 if now is None else 86400.0 - now % 86400.0
    return first + (resets - 1) * 86400.0, resets, beyond - (resets - 1) * per_day


def estimate_seconds(durations: Sequence[float | None], settings: Settings, *,
                     now: float | None = None) -> tuple[float, str]:
    """Seconds to run these videos at the configured limits, and the sentence that says how
    (in words: it is shown as it is). `now` (wall clock) places the daily limit's resets."""
    n = len(durations)
    known = [d for d in durations if d is not None]
    mean_audio = sum(known) / len(known) if known else 0.0
    latency = LATENCY_BASE_S + LATENCY_PER_AUDIO_SECOND * mean_audio
    per_minute = min(float(settings.submit_rpm), settings.concurrency * 60.0 / latency)
    basis = (f"{settings.concurrency} at once, about {latency:.0f} s a job (assumed from the audio length), "
             f"at most {settings.submit_rpm} submits a minute")
    if n == 0:
        return 0.0, basis
    wait, resets, last = daily_limit_wait(n, settings.submit_daily, now=now)
    if resets:
        basis += (f"; {settings.submit_daily} submits a day: {resets} more day{'s' if resets > 1 else ''} "
                  "(the limit resets at midnight UTC)")
        return wait + last * 60.0 / per_minute + latency, basis
    return n * 60.0 / per_minute + latency, basis


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
    seconds, time_basis = estimate_seconds([v.duration for v in runnable], settings, now=time.time())
    totals = PlanTotals(
        videos=len(rows), to_run=len(runnable), done_already=sum(r.done_already for r in rows),
        unsupported=sum(not r.supported for r in rows),
        audio_seconds=sum(v.duration for v in runnable if v.duration is not None),
        unknown_durations=sum(v.duration is None for v in runnable), estimated_cost=cost,
        cost_basis=cost_basis, balance=balance, estimated_seconds=seconds, time_basis=time_basis,
        duplicates=len(resolved.duplicates))
    return Plan(rows=rows, totals=totals, problems=problems, duplicates=resolved.duplicates,
                videos=[v for v in videos if v.key not in done_keys])
