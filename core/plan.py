"""A plan before spending: every distinct video of a batch, what it will cost and how long it takes.

Nothing is submitted. The plan expands and dedupes the batch and reads metadata exactly as a run
would (same `sources.resolve`, same cache), then prices the videos that would be submitted.

Cost: videos are priced in groups, one per deAPI platform (`sources.platforms.price_platform`:
an X link is `twitter`; X Spaces get none) and model (`model_for`: TikTok is always submitted and
priced with WhisperLargeV3Ct2, the only model deAPI accepts it with). With a client (or an API
key) each group is quoted by deAPI's price route, with the options a submit sends
(`job_options`); without one, or for a group whose quote failed, the group is estimated with
deAPI's documented price shape (`core.prices`: a fee per job plus a rate per second; TikTok by
length band). A failed quote costs only its own group its quote; an auth or rate-limit failure
stops the asking (every further call would fail alike). The totals list every group and how it
was priced.

The price route allows only 50 calls a minute and 200 a day on the Basic plan, so it is never
called once per video: per group it is asked for at most three distinct durations (exact), or
for the shortest and the longest one, and prices in between lie on the line through those two
quotes (deAPI bills by duration: a fixed part plus a per-second part). Beyond them a price is
clamped: never above the shortest quote for a shorter video, never below the longest for a
longer one, never negative. TikTok is priced by length band, so it is asked once per band its
videos fall in (the longest video of each band), and every video of a band costs that quote.

Time: videos / min(submit rate, concurrency / mean latency), where the latency of one job is
assumed to be LATENCY_BASE_S plus LATENCY_PER_AUDIO_SECOND of its audio length; a daily submit
cap adds the wait for its resets at midnight UTC (`daily_limit_wait`, which the run screen's ETA uses too).
The plan's own answers from deAPI (its price quotes) go through the run's bookkeeping
(`limiter.policy.AccountLimits`, fed by the client's `on_limits`), so the estimate uses what their
X-RateLimit-* headers taught, within the caps of `--plan`/`--rpm`. A price route's own bucket says
nothing about submits; one account bucket (X-RateLimit-Source naming it) does. Under `--plan auto`
with no header about submits the estimate is at Basic's (where every new account starts), and the
basis says what Premium's would make of it; `limits_basis` and `plan_limits` say where each limit
comes from ("header", "preset", "flag").
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
from .durations import span_words
from .errors import Category, DeapiError
from .limiter.policy import AccountLimits, HeaderInfo
from .model import Method, Video
from .prices import JOB_FEE, PER_HOUR, estimate_price, tiktok_band
from .run.polling import DEFAULT_EXPECTED
from .settings import PLANS, Settings
from .sources.batch import BatchLine, read_batch
from .sources.expand import SourceProblem, order_videos, resolve
from .sources.platforms import CT2, JobOptions, job_options, price_platform
from .sources.tracks import choose_track
from .sources.urls import UrlError, normalize

LATENCY_BASE_S = DEFAULT_EXPECTED  # assumed seconds from submit to done for a very short video
LATENCY_PER_AUDIO_SECOND = 0.05    # plus this many seconds per second of audio
ESTIMATE_BASIS = (f"${JOB_FEE:g} per job + ${PER_HOUR:g} per hour of audio, deAPI's documented price shape; "
                  "TikTok by its length bands")
QUOTED_BASIS = "deAPI's price route"
# After these, every further price call would fail alike: the remaining groups are not asked.
_STOP_ASKING = frozenset({Category.AUTH, Category.RATE_LIMITED})
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
    price_quoted: bool = False     # the price comes from deAPI's price route (else: the estimate)
    model: str = ""                # the model it is submitted with (TikTok: always WhisperLargeV3Ct2)
    captions: str = ""             # the `Method` its own captions would give ("captions", "captions-auto"), else ""
    chunks: int = 0                # an upload's expected pieces (0: deAPI fetches it by its URL)

    @property
    def path(self) -> str:
        """How it goes to deAPI: "deAPI fetches", "upload", or "upload in N chunks" (N estimated)."""
        if self.supported:
            return "deAPI fetches"
        return "upload" if self.chunks <= 1 else f"upload in {self.chunks} chunks"


UPLOAD_BYTES_PER_SECOND = 16_000   # 128 kbit/s: the usual best audio-only format (YouTube's opus/m4a)


def upload_chunks(duration: float | None, cap: int) -> int:
    """How many pieces an upload of `duration` seconds is expected to need under `cap` bytes
    (at UPLOAD_BYTES_PER_SECOND, chunks planned at 90 % of the cap); 1 when the length is unknown."""
    if duration is None:
        return 1
    return max(1, math.ceil(duration * UPLOAD_BYTES_PER_SECOND / (cap * 0.9)))


@dataclass(frozen=True)
class PriceGroup:
    """Videos priced alike: one deAPI platform ("" = none) and one model."""

    platform: str
    model: str
    videos: int                    # videos of known length in the group (the priced ones)
    quoted: bool                   # True: deAPI's price route; False: estimated (core.prices)
    cost: float                    # USD for the group's videos
    reason: str = ""               # why estimated: "" when quoted

    @property
    def label(self) -> str:
        return self.platform or "no platform"


@dataclass(frozen=True)
class PlanLimit:
    """One limit a run starts with, as the plan knows it after deAPI's answers to it."""

    name: str                      # "submit", "status", "price", or "account" (one bucket for all)
    per: str                       # "minute" | "day"
    value: int | None              # None: no limit
    origin: str                    # "header" (deAPI's X-RateLimit-*), "preset" (a plan's), "flag"


@dataclass(frozen=True)
class PlanTotals:
    videos: int                    # distinct videos (rows)
    to_run: int                    # rows not done yet (deAPI fetches them, or they are uploaded)
    done_already: int
    unsupported: int               # rows on a host deAPI does not fetch: downloaded and uploaded
    audio_seconds: float           # known audio of the videos to run
    unknown_durations: int         # videos to run whose duration is unknown (not in the cost)
    estimated_cost: float
    cost_basis: str
    balance: float | None          # USD, when a key is set and the balance could be read
    estimated_seconds: float
    time_basis: str
    duplicates: int
    price_groups: tuple[PriceGroup, ...] = ()   # how each group was priced, most videos first
    notes: tuple[str, ...] = ()                 # what the faces should say besides the numbers
    limits: str = ""               # where the run's rate limits come from (`limits_basis`), in words
    limits_source: str = ""        # "auto", "header", "preset", "flags" or "preset+flags" (`limits_basis`)
    limit_origins: tuple[PlanLimit, ...] = ()   # each limit a run starts with, and where it came from
    with_captions: int = 0         # videos to run whose own captions a run would take (--captions first|only)
    captions_saving: float = 0.0   # USD those would cost through deAPI (out of estimated_cost unless captions off)
    captions_unknown: int = 0      # videos to run whose captions were not looked up

    def limit(self, name: str, per: str = "minute") -> PlanLimit | None:
        """The `limit_origins` entry of `name` per `per`, if the plan has one."""
        return next((lim for lim in self.limit_origins if lim.name == name and lim.per == per), None)

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

Pricer = Callable[[float], float]
GroupKey = tuple[str, JobOptions]    # (deAPI platform or "", what a submit of its videos sends)


def quote_points(platform: str, durations: Sequence[float]) -> list[float]:
    """The durations (whole seconds) to ask the price route about for one group: every distinct
    one when there are at most three, else the shortest and the longest; for TikTok the longest
    of each length band present."""
    if platform == "tiktok":
        longest: dict[int, float] = {}
        for d in durations:
            whole = float(math.ceil(max(0.0, d)))
            band = tiktok_band(whole)
            longest[band] = max(longest.get(band, 0.0), whole)
        return sorted(longest.values())
    distinct = sorted({float(round(max(0.0, d))) for d in durations})
    return distinct if len(distinct) <= 3 else [distinct[0], distinct[-1]]


def quoted_pricer(platform: str, quotes: dict[float, float]) -> Pricer:
    """A price per duration from a group's quotes (seconds -> USD, at least one).

    A duration that was quoted costs its quote. Others lie on the line through the shortest and
    the longest quote (fee + slope), clamped beyond them: a shorter video never costs more than
    the shortest quote nor below zero, a longer one never less than the longest. With a single
    quote the line is deAPI's documented shape scaled through it (the fee scales too). TikTok:
    the quote of the video's length band (the documented band price for a band not quoted)."""
    if not quotes:
        raise ValueError("a quoted pricer needs at least one quote")
    if platform == "tiktok":
        bands = {tiktok_band(s): q for s, q in quotes.items()}

        def tiktok(seconds: float) -> float:
            band = tiktok_band(seconds)
            return bands[band] if band in bands else estimate_price(seconds, platform="tiktok") or 0.0

        return tiktok
    (x0, y0), (x1, y1) = min(quotes.items()), max(quotes.items())
    if x1 == x0:
        base = JOB_FEE + PER_HOUR * x0 / 3600.0

        def scaled(seconds: float) -> float:
            return y0 * (JOB_FEE + PER_HOUR * max(0.0, seconds) / 3600.0) / base

        return scaled
    slope = (y1 - y0) / (x1 - x0)

    def affine(seconds: float) -> float:
        whole = float(round(seconds))
        if whole in quotes:
            return quotes[whole]
        value = y0 + slope * (seconds - x0)
        if seconds < x0:
            return min(y0, max(0.0, value))
        if seconds > x1:
            return max(y1, value)
        return max(0.0, value)

    return affine


def estimate_video(url: str, seconds: float | None) -> float | None:
    """The documented estimate (core.prices) for one video by its URL: fee + per second, or
    TikTok's band; None when the length is unknown."""
    try:
        norm = normalize(url)
        platform = price_platform(norm.host, norm.url)
    except UrlError:
        platform = None
    return estimate_price(seconds, platform=platform)


def _estimator(platform: str) -> Pricer:
    return lambda seconds: estimate_price(seconds, platform=platform or None) or 0.0


async def price_groups(
    client: Any, groups: dict[GroupKey, list[float]],
) -> tuple[dict[GroupKey, Pricer], dict[GroupKey, str], list[SourceProblem]]:
    """Quote each group (platform, job options) -> its videos' known durations, independently,
    with the options a submit of its videos sends.

    Returns a pricer per group that was quoted, the reason per group that was not (it is then
    estimated), and one problem per failure. Never raises DeapiError: a failed quote costs only
    its group its quote; after an auth or rate-limit failure the remaining groups are not asked."""
    pricers: dict[GroupKey, Pricer] = {}
    reasons: dict[GroupKey, str] = {}
    problems: list[SourceProblem] = []
    stopped: DeapiError | None = None
    for key in sorted(groups, key=lambda k: (-len(groups[k]), k[0], k[1].model)):
        platform, opts = key
        label = f"{platform or 'no platform'} ({opts.model})"
        if stopped is not None:
            reasons[key] = f"not asked after the price route answered {stopped.category.value}"
            continue
        quotes: dict[float, float] = {}
        try:
            for seconds in quote_points(platform, groups[key]):
                quotes[seconds] = await client.price(
                    model=opts.model, include_ts=opts.include_ts, duration_seconds=seconds,
                    platform=platform or None, lang=opts.lang, ts_level=opts.ts_level)
        except DeapiError as exc:
            reasons[key] = f"price route failed: {exc.message}"
            problems.append(SourceProblem(0, "", exc.category.value,
                                          f"price quote for {label} failed, so its {len(groups[key])} video(s) "
                                          f"are estimated ({ESTIMATE_BASIS}): {exc.message}"))
            if exc.category in _STOP_ASKING:
                stopped = exc
            continue
        pricers[key] = quoted_pricer(platform, quotes)
    if stopped is not None:
        skipped = [f"{p or 'no platform'} ({o.model})" for (p, o), why in reasons.items()
                   if why.startswith("not asked")]
        if skipped:
            problems.append(SourceProblem(0, "", stopped.category.value,
                                          f"price route not asked for {', '.join(skipped)} after it answered "
                                          f"{stopped.category.value}: estimated ({ESTIMATE_BASIS})"))
    return pricers, reasons, problems


def _cost_basis(groups: Sequence[PriceGroup], asked: bool) -> str:
    if not asked:
        return f"estimate: {ESTIMATE_BASIS}"
    quoted = [g.label for g in groups if g.quoted]
    estimated = [g.label for g in groups if not g.quoted]
    if not estimated:
        return QUOTED_BASIS
    if not quoted:
        return f"estimate: {ESTIMATE_BASIS} (the price route did not quote)"
    return f"{QUOTED_BASIS} for {', '.join(quoted)}; estimate for {', '.join(estimated)}: {ESTIMATE_BASIS}"


# -- time -----------------------------------------------------------------------------------


def plan_limits(learned: AccountLimits) -> tuple[PlanLimit, ...]:
    """Every limit a run would start with after the answers `learned` has seen, with its origin:
    submit, status and price per minute and per day, and the account's bucket when it is shared.
    The submits' per minute is `AccountLimits.submit_rate` (what the time estimate uses)."""
    v = learned.values()
    rate, origin, _ = learned.submit_rate()
    out = [PlanLimit("submit", "minute", rate, origin), PlanLimit("submit", "day", *v.daily["submit"])]
    for e in ("status", "price"):
        out += [PlanLimit(e, "minute", *v.minute[e]), PlanLimit(e, "day", *v.daily[e])]
    if learned.shared:
        value, src = v.account
        out.append(PlanLimit("account", "minute", value, src))
        if v.account_daily is not None:
            out.append(PlanLimit("account", "day", v.account_daily, "header"))
    return tuple(out)


def _limit_words(limits: Sequence[PlanLimit]) -> str:
    """"submit 300/min (header), none a day (header), ...": every limit with its origin."""
    parts = []
    for name in ("submit", "status", "price", "account"):
        words = [f"{'no limit' if lim.value is None else f'{lim.value}/min'} ({lim.origin})" if lim.per == "minute"
                 else f"{'none' if lim.value is None else lim.value} a day ({lim.origin})"
                 for lim in limits if lim.name == name]
        if words:
            parts.append(f"{name} {' and '.join(words)}")
    return ", ".join(parts)


def limits_basis(settings: Settings, learned: AccountLimits | None = None) -> tuple[str, str]:
    """(kind, sentence): where a run's rate limits come from. kind is "auto" (to be learned from
    deAPI's answers, starting at Basic's), "header" (auto, and deAPI's answers to the plan already
    gave a figure for submits, which a flag may still cap), "preset" (the plan's published
    limits), "flags", or "preset+flags" (some set by flags, the rest the plan's). With `learned`
    (the policy that saw the plan's own answers) and any header heard, the sentence lists every
    limit with its origin."""
    s = settings
    flags = [f"--rpm {s.rpm}" if s.rpm else "", f"--status-rpm {s.status_rpm}" if s.status_rpm else "",
             f"--submit-per-day {s.submit_per_day}" if s.submit_per_day != -1 else "",
             f"--status-per-day {s.status_per_day}" if s.status_per_day != -1 else ""]
    flags = [f for f in flags if f]
    capped = f" ({', '.join(flags)} as {'caps' if len(flags) > 1 else 'a cap'})" if flags else ""
    limits = plan_limits(learned) if learned is not None else ()
    heard = any(lim.origin == "header" for lim in limits)
    so_far = f"; so far, from deAPI's answers to the plan: {_limit_words(limits)}" if heard else ""
    if s.learns_limits:
        submit = learned.submit_rate() if learned is not None else (None, "", None)
        if submit[2] is not None:
            return "header", (f"auto: at the limits deAPI's answers to the plan gave, learning on from the run's"
                              f"{capped}: {_limit_words(limits)}")
        return "auto", f"auto: starts at Basic's limits and learns the account's from deAPI's answers{capped}{so_far}"
    preset = f"the {s.plan} plan's published limits, which deAPI's answers may only lower"
    if len(flags) == 4:
        return "flags", f"{', '.join(flags)}, which deAPI's answers may only lower{so_far}"
    if flags:
        return "preset+flags", f"{', '.join(flags)}, otherwise {preset}{so_far}"
    return "preset", f"{preset}{so_far}"


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


def _estimate(n: int, latency: float, rpm: int, daily: int | None, concurrency: int,
              now: float | None = None) -> tuple[float, int]:
    """(seconds, daily resets waited for) for `n` videos."""
    per_minute = min(float(rpm), concurrency * 60.0 / latency)
    wait, resets, last = daily_limit_wait(n, daily, now=now)
    if resets:
        return wait + last * 60.0 / per_minute + latency, resets
    return n * 60.0 / per_minute + latency, 0


def estimate_seconds(durations: Sequence[float | None], settings: Settings, *,
                     now: float | None = None, learned: AccountLimits | None = None) -> tuple[float, str]:
    """Seconds to run these videos at the limits a run starts with, and the sentence that says
    how, in words. `learned` is the policy that saw deAPI's answers to the plan: its submit rate
    (`AccountLimits.submit_rate`) and daily limit are used, saying so when a header gave them.
    Without one, or while no header spoke of submits under `--plan auto`: at Basic's, with what
    Premium's would make of it. `now` (wall clock) places the daily limit's resets."""
    n = len(durations)
    known = [d for d in durations if d is not None]
    mean_audio = sum(known) / len(known) if known else 0.0
    latency = LATENCY_BASE_S + LATENCY_PER_AUDIO_SECOND * mean_audio
    rpm, origin, heard = settings.submit_rpm, "", None
    daily = settings.submit_daily
    if learned is not None:
        value, origin, heard = learned.submit_rate()
        rpm = value or settings.submit_rpm
        v = learned.values()
        days = [d for d in (v.daily["submit"][0], v.account_daily) if d]
        daily = min(days) if days else None
    concurrency = settings.concurrency
    submits = f"at most {rpm} submit{'' if rpm == 1 else 's'} a minute"
    if settings.auto_concurrency:   # Little's law, as the run's auto level starts
        concurrency = max(1, min(settings.max_concurrency, math.ceil(rpm / 60.0 * latency * 1.25)))
        basis = f"up to {concurrency} at once (auto: what the rate and the job times allow), {submits}"
    else:
        basis = f"{concurrency} at once, {submits}"
    if heard is not None:
        held = ("" if origin == "header" else
                f", held at {rpm} by {'--rpm' if origin == 'flag' else f'the {settings.plan} plan'}")
        basis = f"at the limits deAPI's answers gave ({heard}/min for submits{held}): {basis}"
    elif settings.learns_limits and daily is None and settings.submit_daily:
        basis = (f"at Basic's per minute until a submit's answer tells the account's, without Basic's daily "
                 f"limit (deAPI's answers show more than a Basic account): {basis}")
    elif settings.learns_limits:
        basis = f"at Basic's limits, where every new account starts: {basis}"
    if n == 0:
        return 0.0, basis
    seconds, resets = _estimate(n, latency, rpm, daily, concurrency, now)
    if resets:
        basis += f"; {daily} submits a day: {resets} more day{'s' if resets > 1 else ''} (the limit resets at midnight UTC)"
    if settings.learns_limits and heard is None:
        premium = PLANS["premium"]
        rpm = min(settings.rpm, premium[0]) if settings.rpm else premium[0]
        day = premium[1] if settings.submit_per_day == -1 else (settings.submit_per_day or None)
        fast_c = (max(1, min(settings.max_concurrency, math.ceil(rpm / 60.0 * latency * 1.25)))
                  if settings.auto_concurrency else concurrency)
        fast, _ = _estimate(n, latency, rpm, day, fast_c, now)
        basis += f"; if deAPI's answers show a Premium account ({rpm}/min), about {span_words(fast)}"
    return seconds, basis


# -- the plan -------------------------------------------------------------------------------


def captions_notes(settings: Settings, with_captions: int, saving: float, unknown: int) -> list[str]:
    """What the plan says about the videos' own captions: how many have them, what that saves,
    and (under off) what --captions first would save; nothing when none are known to have any."""
    kind = "own or automatic captions" if settings.captions_auto else "own captions"
    out: list[str] = []
    if with_captions:
        worth = f" and save about ${saving:.4f} of deAPI jobs" if saving else ""
        if settings.captions == "off":
            out.append(f"{with_captions} video(s) have their {kind}: --captions first would take them for free"
                       f"{worth} (off by default: sites block servers that fetch captions in bulk)")
        else:
            out.append(f"{with_captions} video(s) have their {kind}: taken for free"
                       + (f", saving about ${saving:.4f}" if saving else "")
                       + ("" if settings.captions_auto else " (--captions-auto would also take automatic ones, "
                          "of lower quality)"))
    if settings.captions == "only":
        out.append("--captions only: nothing is paid; videos without captions fail, saying so")
    if unknown and settings.captions != "off":
        out.append(f"{unknown} video(s) not looked up yet: the run looks for their captions first")
    return out



async def build_plan(
    batch: str | Path | Sequence[BatchLine], settings: Settings, *, api_key: str | None = None,
    client: Any = None, done_keys: frozenset[str] = frozenset(), cache_dir: Any = _DEFAULT_CACHE,
    proxy: str | None = None, timeout: float = 60.0, source_concurrency: int = 4,
    on_progress: Callable[[str], None] | None = None, extract: Any = None,
) -> Plan:
    """Expand, dedupe and price a batch without submitting anything.

    `batch` is a batch file path (read with `batch.read_batch`) or its lines. `cache_dir`
    defaults to the app's cache (`paths.cache_dir()`, shared with runs); None disables it.
    deAPI is asked for prices and the balance when `client` is given or `api_key` is set (then a
    client is opened on `settings.api_base` and closed again); any deAPI failure becomes a
    problem, and a group whose quote failed is estimated with `core.prices` (the others keep
    their quotes; `totals.price_groups` says which is which). Rows follow `settings.order`.
    `extract` stands in for yt-dlp in tests (see `sources.resolve`).
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
        lines, metadata=settings.metadata, captions=settings.captions != "off", cookies=settings.cookies, cache_dir=cache_dir,
        proxy=proxy, concurrency=source_concurrency, timeout=timeout, on_progress=on_progress, extract=extract,
        max_per_source=settings.max_per_source)
    problems = sorted(problems + resolved.problems, key=lambda p: p.line)
    videos = order_videos(resolved.videos, settings.order)

    supported: dict[str, bool] = {}
    group_of: dict[str, GroupKey] = {}
    chunks_of: dict[str, int] = {}
    for v in videos:
        try:
            norm = normalize(v.url)
        except UrlError:
            supported[v.key] = False
            group_of[v.key] = ("", job_options("other", settings))
            continue
        supported[v.key] = bool(norm.supported)
        # An upload has no platform: deAPI prices it at the model's base rate, one job per chunk.
        group_of[v.key] = (price_platform(norm.host, norm.url) or "" if norm.supported else "",
                           job_options(norm.host if norm.supported else "other", settings))
    for v in videos:
        if not supported[v.key]:
            chunks_of[v.key] = upload_chunks(v.duration, settings.upload_cap_bytes)
    runnable = [v for v in videos if v.key not in done_keys]
    groups: dict[GroupKey, list[float]] = {}
    for v in runnable:
        if v.duration is not None:
            n = chunks_of.get(v.key, 1)
            groups.setdefault(group_of[v.key], []).extend([v.duration / n] * n)

    pricers: dict[GroupKey, Pricer] = {}
    reasons: dict[GroupKey, str] = {key: "no API key: not asked" for key in groups}
    asked = client is not None or bool(api_key)
    balance: float | None = None
    # The run's own bookkeeping learns from every answer the plan gets (the client's on_limits).
    learned = AccountLimits(settings)
    answers: dict[str, int] = {}

    def learn(endpoint: str, info: HeaderInfo) -> None:
        # Only this endpoint's calls are the plan's own: `lane_used == all_used`, so the
        # Remaining comparison cannot take a per-endpoint bucket for a shared one.
        answers[endpoint] = answers.get(endpoint, 0) + 1
        learned.observe(endpoint, info, lane_used=answers[endpoint], all_used=answers[endpoint],
                        now=time.monotonic())

    if asked:
        own = None
        hooked, previous = False, None
        if client is None:
            from .deapi.client import DeapiClient  # only when deAPI is really asked

            client = own = DeapiClient(settings.api_base, api_key or "", on_limits=learn)
        elif hasattr(client, "on_limits"):
            hooked, previous = True, client.on_limits

            def both(endpoint: str, info: Any) -> None:
                learn(endpoint, info)
                if previous is not None:
                    previous(endpoint, info)

            client.on_limits = both
        try:
            try:
                balance = await client.balance()
            except DeapiError as exc:
                problems.append(SourceProblem(0, "", exc.category.value, f"balance not read: {exc.message}"))
            pricers, reasons, price_problems = await price_groups(client, groups)
            problems += price_problems
        finally:
            if hooked:
                client.on_limits = previous
            if own is not None:
                await own.aclose()

    rows: list[PlanRow] = []
    cost = saving = 0.0
    with_captions = captions_unknown = 0
    group_cost: dict[GroupKey, float] = {}
    for v in videos:
        done = v.key in done_keys
        estimate, quoted, model = None, False, ""
        track = choose_track(v.captions, lang=settings.lang, original=v.language, auto=settings.captions_auto)
        method = "" if track is None else (Method.CAPTIONS_AUTO if track.auto else Method.CAPTIONS).value
        if not done:
            with_captions += bool(method)
            captions_unknown += not v.captions_known
        if v.key in group_of:
            key = group_of[v.key]
            model = key[1].model
            if not done and v.duration is not None:
                quoted = key in pricers
                n = chunks_of.get(v.key, 1)
                estimate = n * (pricers[key] if quoted else _estimator(key[0]))(v.duration / n)
                if method:
                    saving += estimate
                if not method or settings.captions == "off":
                    cost += estimate
                if settings.captions == "only" or (method and settings.captions == "first"):
                    estimate = 0.0   # free: its own captions (or, under only, never sent)
                group_cost[key] = group_cost.get(key, 0.0) + estimate
        rows.append(PlanRow(url=v.url, id=v.vid, key=v.key, title=v.title, duration=v.duration,
                            supported=supported[v.key], done_already=done, price_estimate=estimate,
                            line=v.line, source=v.source, price_quoted=quoted, model=model, captions=method,
                            chunks=chunks_of.get(v.key, 0)))
    price_groups_ = tuple(
        PriceGroup(platform=p, model=o.model, videos=len(groups[(p, o)]), quoted=(p, o) in pricers,
                   cost=group_cost.get((p, o), 0.0), reason=reasons.get((p, o), ""))
        for p, o in sorted(groups, key=lambda k: (-len(groups[k]), k[0], k[1].model)))
    notes: list[str] = []
    tiktok = sum(1 for v in runnable if group_of[v.key][0] == "tiktok")
    if tiktok and settings.model != CT2:
        notes.append(f"{tiktok} TikTok video(s) are submitted and priced with {CT2}, the only model deAPI "
                     f"accepts TikTok with (the others use {settings.model})")
    uploads = [v for v in runnable if not supported[v.key]]
    if uploads:
        chunked = sum(chunks_of[v.key] > 1 for v in uploads)
        notes.append(f"{len(uploads)} video(s) on hosts deAPI does not fetch are downloaded here and uploaded"
                     + (f" ({chunked} over the {settings.upload_max_mb:g} MB cap, in chunks: one job each)"
                        if chunked else ""))
    if settings.captions == "only":
        cost = 0.0
    notes.extend(captions_notes(settings, with_captions, saving, captions_unknown))
    free = {r.key for r in rows if settings.captions == "only" or (r.captions and settings.captions == "first")}
    paid = [v for v in runnable if v.key not in free]
    seconds, time_basis = estimate_seconds([v.duration for v in paid], settings, now=time.time(), learned=learned)
    limits_source, limits = limits_basis(settings, learned)
    totals = PlanTotals(
        videos=len(rows), to_run=len(runnable), done_already=sum(r.done_already for r in rows),
        unsupported=sum(not r.supported for r in rows),
        audio_seconds=sum(v.duration for v in runnable if v.duration is not None),
        unknown_durations=sum(v.duration is None for v in runnable), estimated_cost=cost,
        cost_basis=_cost_basis(price_groups_, asked), balance=balance, estimated_seconds=seconds,
        time_basis=time_basis, duplicates=len(resolved.duplicates), price_groups=price_groups_, notes=tuple(notes),
        limits=limits, limits_source=limits_source, limit_origins=plan_limits(learned),
        with_captions=with_captions, captions_saving=saving,
        captions_unknown=captions_unknown)
    return Plan(rows=rows, totals=totals, problems=problems, duplicates=resolved.duplicates,
                videos=[v for v in videos if v.key not in done_keys])
