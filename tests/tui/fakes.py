"""Deterministic data for the app tests: a fake engine and a mid-batch event stream.

Times are fixed: the injected monotonic clock reads NOW, wall times start at WALL
(rendered in UTC by the conftest), so what the snapshots show never depends on the day.
"""

from __future__ import annotations

import asyncio

from bulk_transcribe.core.events import (
    Activity,
    BatchFinished,
    BucketUsage,
    ErrorLogged,
    Notice,
    Progress,
    VideoChanged,
    WorkerChanged,
)
from bulk_transcribe.core.model import VideoState
from bulk_transcribe.core.settings import Settings

NOW = 10_000.0
WALL = 1_700_000_000.0   # 2023-11-14 22:13:20 UTC
HOSTILE = "Intro to [bold]markup[/] \x1b[31mred\x1b[0m [/] \x07end"


def clock() -> float:
    return NOW


class FakeEngine:
    """The Engine's control surface, recording calls; `run()` ends when `finish()` is called."""

    def __init__(self, retryable: int = 2, permanent: int = 0) -> None:
        self.calls: list[str] = []
        self.submitting_paused = False
        self.stopping = False
        self.retryable = retryable
        self.permanent = permanent
        self.result: BatchFinished | None = None
        self.cancelled = False
        self._done = asyncio.Event()

    def pause_submitting(self) -> None:
        self.calls.append("pause")
        self.submitting_paused = True

    def resume_submitting(self) -> None:
        self.calls.append("resume")
        self.submitting_paused = False

    def request_stop(self) -> None:
        self.calls.append("stop")
        self.stopping = True

    def retry_failed(self, *, permanent: bool = False) -> int:
        self.calls.append("retry permanent" if permanent else "retry")
        n, self.retryable = self.retryable, 0
        if permanent:
            n, self.permanent = n + self.permanent, 0
        return n

    def permanent_failures(self) -> tuple[int, float]:
        return self.permanent, 0.0123 * self.permanent

    def summary(self) -> BatchFinished:
        """As the real Engine's: the batch as it stands (here the result it was given, or a
        mid-batch one)."""
        return self.result or finished(stopped=True)

    def finish(self, result: BatchFinished) -> None:
        self.result = result
        self._done.set()

    async def run(self) -> BatchFinished:
        try:
            await self._done.wait()
        except asyncio.CancelledError:
            self.cancelled = True   # the real engine saves the session here, shielded
            raise
        assert self.result is not None
        return self.result


def buckets(submit: int = 37, status: int = 120) -> tuple[BucketUsage, ...]:
    return (BucketUsage("submit", submit, 300), BucketUsage("status", status, 300))


def progress(done: int, elapsed: float, *, total: int = 120, failed: int = 3, in_flight: int = 5,
             vpm: float = 8.4, eta: float | None = 520.0) -> Progress:
    return Progress(total=total, done=done, failed=failed, in_flight=in_flight,
                    queued=max(total - done - failed - in_flight, 0), elapsed=elapsed, videos_per_min=vpm,
                    eta_seconds=eta, buckets=buckets(), concurrency=5, max_concurrency=5)


def mid_batch() -> list:
    """Five minutes into a 120-video batch: five workers busy in different ways."""
    events: list = []
    done_curve = [0, 1, 3, 4, 7, 9, 12, 14, 15, 18, 21, 22, 25, 27, 30, 33, 34, 36, 38, 40, 42]
    for i, done in enumerate(done_curve):
        events.append(progress(done, i * 15.0 + 1.0))
    events += [
        WorkerChanged(0, Activity.TRANSCRIBING, "youtube:aaa", "Lecture 12: Fourier series",
                      progress=45.0, since=NOW - 95),
        WorkerChanged(1, Activity.WAITING_RATE, "youtube:bbb", HOSTILE, until=NOW + 3, since=NOW - 4),
        WorkerChanged(2, Activity.BACKING_OFF, "youtube:dQw4w9WgXcQ", "", detail="503 Service Unavailable",
                      until=NOW + 12, since=NOW - 20),
        WorkerChanged(3, Activity.DOWNLOADING, "youtube:ddd",
                      "Keynote 2024 - a very long title that the worker panel has to cut short", since=NOW - 2),
        WorkerChanged(4, Activity.SUBMITTING, "x:1234567890", "", since=NOW - 1),
        VideoChanged("youtube:eee", 7, VideoState.DONE, "Done one"),
        Notice(WALL + 290, "info", "session saved"),
    ]
    return events


def failures() -> list:
    return [
        ErrorLogged(WALL + 12, "youtube:fff", "Talk about [red]colour[/red]", "server",
                    "503 Service Unavailable", status=503, request_id="req-8f3a1c", will_retry=True),
        ErrorLogged(WALL + 47, "youtube:ggg", "Private video", "job-failed",
                    "the media could not be downloaded", request_id="req-19bd44"),
        ErrorLogged(WALL + 95, "tiktok:123", "tiktok:123", "validation",
                    "video_url: [/] is not a supported address\x1b[2J", status=422),
        ErrorLogged(WALL + 130, "youtube:hhh", HOSTILE, "network", "read timed out",
                    request_id="req-77aa01", will_retry=True),
    ]


def finished(stopped: bool = False) -> BatchFinished:
    return BatchFinished(total=120, done=114, failed=4, remaining=2, possibly_paid=1,
                         failures_by_category=(("server", 2), ("job-failed", 1), ("validation", 1)),
                         report_path="transcripts/report.md", output_dir="transcripts",
                         session_path="sessions/lectures-1a2b3c4d.toml", stopped=stopped,
                         in_doubt=1, in_doubt_cost=0.0061, cost=1.2345)


def make_app(**kwargs):
    from bulk_transcribe.tui.app import build_app

    kwargs.setdefault("settings", Settings())
    kwargs.setdefault("api_key", "sk-test-0123456789abcdef")
    kwargs.setdefault("key_source", "DEAPI_API_KEY")
    return build_app(clock=clock, testing=True, **kwargs)


def sample_plan(n: int = 6, *, balance: float | None = 10.0, cost: float = 0.0421):
    """A plan as core.plan.build_plan returns it: n videos (one on a host deAPI does not fetch, uploaded,
    one of unknown length, a hostile title), a duplicate and two problems."""
    from bulk_transcribe.core.model import Video
    from bulk_transcribe.core.plan import Plan, PlanRow, PlanTotals
    from bulk_transcribe.core.sources.expand import SourceProblem

    rows, videos = [], []
    for i in range(n):
        vid = f"plan{i:07d}"
        url = f"https://www.youtube.com/watch?v={vid}"
        title = HOSTILE if i == 1 else f"Lecture {i + 1}: signals and systems"
        duration = None if i == n - 1 else 60.0 * (i + 1)
        supported = i != 2
        if not supported:
            url, title = f"https://vimeo.example/{vid}", ""
        price = None if duration is None or not supported else round(0.005 + duration * 0.000013, 6)
        rows.append(PlanRow(url=url, id=vid, key=f"youtube:{vid}", title=title, duration=duration,
                            supported=supported, done_already=False, price_estimate=price, line=i + 1))
        videos.append(Video(key=f"youtube:{vid}", url=url, vid=vid, line=i + 1, title=title, duration=duration))
    totals = PlanTotals(videos=n, to_run=n, done_already=0, unsupported=1,
                        audio_seconds=sum(r.duration or 0 for r in rows if r.supported), unknown_durations=1,
                        estimated_cost=cost, cost_basis="deAPI's price route", balance=balance,
                        estimated_seconds=754.0, time_basis="", duplicates=1)
    problems = [SourceProblem(n + 1, "not a url", "input", "not a video URL"),
                SourceProblem(n + 2, "https://www.youtube.com/playlist?list=PLgone", "source",
                              "the playlist does not exist")]
    return Plan(rows=rows, totals=totals, problems=problems,
                duplicates=[(n + 3, rows[0].url, rows[0].key)], videos=videos)


def plan_factory(plan):
    """A stand-in for core.plan.build_plan that returns `plan` and records its calls."""
    calls: list = []

    async def build(batch_path, settings, *, api_key=None, on_progress=None):
        calls.append((batch_path, settings, api_key))
        if on_progress:
            on_progress("metadata 1/1: a video")
        return plan

    build.calls = calls
    return build


async def settle(pilot):
    """Let the screen's workers (batch counts, plan) finish and the screen catch up."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def shown(app, screen_type, marker: str) -> bool:
    """`screen_type` is on top *and* composed (`marker` is mounted): a push or switch returns
    before the screen's widgets exist, so being on top is not enough to read or type on it."""
    return isinstance(app.screen, screen_type) and bool(app.screen.query(marker))


async def until_shown(pilot, screen_type, marker: str, timeout: float = 30.0) -> None:
    """Wait for `shown`; fail (never hang) if the screen does not come."""
    import time

    deadline = time.monotonic() + timeout
    while not shown(pilot.app, screen_type, marker):
        if time.monotonic() > deadline:
            raise AssertionError(f"{screen_type.__name__} ({marker}) not shown; on top: {pilot.app.screen!r}")
        await pilot.pause(0.01)


async def until(pilot, condition, timeout: float = 60.0, what: str = "") -> None:
    """Wait for `condition` (bounded: a broken flow fails the test instead of hanging it)."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}; on top: {pilot.app.screen!r}")
        await pilot.pause(0.05)


def text(screen, selector: str) -> str:
    from textual.widgets import Static

    return str(screen.query_one(selector, Static).render())
