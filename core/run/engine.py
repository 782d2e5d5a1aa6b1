"""The engine: every video of a session through deAPI, as fast as the limits allow.

One anyio task group holds a dispatcher, a ticker that publishes progress, moves the
concurrency level (`pacing.py`) and checkpoints the session, and the feeder. While fewer
videos than the level are in flight, the dispatcher takes the next video from the queue
(`queue.py`, which applies the order for that slot) and starts a task that walks it through
submit -> follow -> fetch -> write (`video.py`), given a `RunContext` of the run's parts. A
video runs in the lowest free slot number, so the faces' rows stay few and stable.

The rules that protect the user's money live in `queue.py` and `video.py`:
- a video's request id is durable in the session before anyone waits on it;
- a video whose request id is known is never submitted again, unless deAPI reported
  its job failed *and* retryable;
- submits awaiting an answer are kept as few as the rate allows (the in-doubt gate, `pacing.py`).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import anyio

from ..deapi.client import DeapiClient
from ..errors import Category, DeapiError, SessionError
from ..events import Activity, BatchFinished, EventSink, Progress
from ..limiter import RateLimiter
from ..model import Method, VideoState
from ..output.preflight import folder_problem
from ..output.report import write_report
from ..paths import cache_dir
from ..prices import JOB_FEE, estimate_price
from ..sources.stream import Feeder
from ..store.limiter_state import load_limiter_state, save_limiter_state
from . import video
from .budget import Budget
from .captions import CaptionFetcher
from .context import RunContext
from .controls import HALT_HINTS, Brakes
from .feeding import feed, pending_sources
from .pacing import Pacing
from .polling import PollPlanner
from .queue import WorkQueue, is_permanent
from .reporter import Reporter
from .stats import Throughput
from .upload import process_upload, wants_upload
from .video import process_video

if TYPE_CHECKING:
    from ..store.session import Session

TICK = 0.5              # seconds between Progress events
CHECKPOINT_EVERY = 30.0  # seconds between folds of the journal into the TOML
LIMITER_EVERY = 2.0      # seconds between saves of the limiter's recent grants


class Engine:
    """Runs one session to the end (or to a stop). Satisfies `controls.RunControls`: the
    controls may be called from the faces at any time on the same event loop."""

    def __init__(
        self,
        session: "Session",
        *,
        api_key: str,
        sink: EventSink,
        client: DeapiClient | None = None,
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
        resubmit_in_doubt: bool = False,
        balance: float | None = None,
        feeder: Feeder | None = None,
    ) -> None:
        self.session = session
        self.resubmit_in_doubt_at_start = resubmit_in_doubt
        self.balance = balance   # USD at the start, when the face read it; the budget guards it
        self._feeder = feeder
        self.settings = session.settings
        self._api_key = api_key
        self._client = client
        self.clock = clock
        self.reporter = Reporter(sink, clock=clock, index=session.positions)   # the session's own map, not a copy
        self.limiter = limiter or RateLimiter.from_settings(self.settings)
        self.limiter.on_notice = self.reporter.notice   # what deAPI's headers taught the limiter
        self._restore_limiter()
        self.queue = WorkQueue(self.settings.max_attempts, order=self.settings.order)
        self.brakes = Brakes(self.reporter, self.queue.poke)
        self.planner = self.make_planner()
        self.pacing = Pacing(self.settings.most_in_flight, adaptive=self.settings.adaptive, clock=clock,
                             reporter=self.reporter, auto=self.settings.auto_concurrency,
                             expected=lambda: self.planner.expected(None),   # the planner in use, when asked
                             expected_for=lambda d: self.planner.expected(d))
        self.throughput = Throughput()
        self.context: RunContext | None = None
        self.report_written = True
        self._started = clock()

    def make_planner(self, time_scale: float = 1.0) -> PollPlanner:
        """A poll planner on this run's limiter (economy under a daily status allowance, scouts
        under shared limits); `time_scale` > 1 only for runs whose time goes faster."""
        return PollPlanner(economy=lambda: self.limiter.daily_limited("status"),
                           thrifty=lambda: self.limiter.shared, time_scale=time_scale)

    # -- controls (RunControls) ---------------------------------------------------------
    @property
    def submitting_paused(self) -> bool:
        return self.brakes.paused

    @property
    def stopping(self) -> bool:
        return self.brakes.stopping

    @property
    def halted(self) -> DeapiError | None:
        return self.brakes.halted

    def pause_submitting(self) -> None:
        self.brakes.pause()

    def resume_submitting(self) -> None:
        self.brakes.resume()

    def request_stop(self) -> None:
        self.brakes.stop()

    def retry_failed(self, *, permanent: bool = False) -> int:
        count = self.queue.queue_failed(self.session.videos, self.session.record_nowait, permanent=permanent)
        if count:
            self.brakes.release_stop()
            self.reporter.notice("info", f"{count} failed video(s) queued again")
            self.queue.poke()
        return count

    def permanent_failures(self) -> tuple[int, float]:
        """How many failed videos only `retry_failed(permanent=True)` would take, and what they
        would cost (USD, estimated) if their new submits succeeded."""
        videos = [v for v in self.queue.retryable_failures(self.session.videos, permanent=True) if is_permanent(v)]
        return len(videos), sum(estimate_price(v.duration) or JOB_FEE for v in videos)

    def resubmit_in_doubt(self) -> int:
        """Queue the videos in doubt for a new submit: the user accepted that deAPI may already
        have charged for them. Returns how many."""
        count = self.queue.queue_in_doubt(self.session.videos, self.session.record_nowait)
        if count:
            self.brakes.release_stop()
            self.reporter.notice("warning", f"{count} possibly paid video(s) submitted again, as asked")
            self.queue.poke()
        return count

    # -- the run ----------------------------------------------------------------------
    async def run(self) -> BatchFinished:
        """Run until every video is done or failed, or a stop; returns the summary.

        On cancellation (quit) the session is checkpointed and the report written before
        the cancellation propagates."""
        s = self.settings
        self.queue.plan(self.session.videos, retry_failed=s.retry_failed, record_nowait=self.session.record_nowait,
                        resubmit_in_doubt=self.resubmit_in_doubt_at_start)
        self._started = self.clock()
        self.throughput.start(self._started)
        client = self._client or DeapiClient(s.api_base, self._api_key, on_limits=self.limiter.observe)
        own_client = self._client is None
        self.context = RunContext(
            session=self.session, settings=s, client=client, limiter=self.limiter, planner=self.planner,
            pacing=self.pacing, queue=self.queue, brakes=self.brakes, reporter=self.reporter,
            throughput=self.throughput, clock=self.clock,
            budget=Budget(self.session.videos, max_cost=s.max_cost, balance=self.balance),
            captions=CaptionFetcher(s, cache_dir=cache_dir(), clock=self.clock))   # no request until one is wanted
        try:
            async with self.session.running():
                try:
                    await self._preflight()
                    # Sources still to expand may add videos: an empty queue is not the end yet
                    # (the feeder says so too, but the dispatcher may look before it runs).
                    self.queue.feeding = bool(pending_sources(self.context))
                    async with anyio.create_task_group() as outer:
                        outer.start_soon(self._ticker)
                        outer.start_soon(self._answers_after_quit, self.context)
                        outer.start_soon(self.queue.check_outputs, s.output_dir, self.session.record_nowait)
                        outer.start_soon(feed, self.context, self._feeder or Feeder(
                            metadata=s.metadata, cookies=s.cookies, cache_dir=cache_dir(),
                            max_per_source=s.max_per_source))
                        await self._dispatch(self.context)
                        outer.cancel_scope.cancel()
                finally:
                    await self._save()   # shielded: a quit still leaves a checkpoint and a report
        finally:
            if own_client:
                with anyio.CancelScope(shield=True):
                    await client.aclose()
        finished = self.summary()
        self.reporter.emit(self.progress())
        self.reporter.emit(finished)
        return finished

    async def _dispatch(self, ctx: RunContext) -> None:
        """Start videos while fewer than the level are in flight, each in the lowest free slot;
        returns when the queue says this run has no more work and every video has ended."""
        level = self.pacing.level
        busy: set[int] = set()
        used = 0
        async with anyio.create_task_group() as tg:
            while True:
                self._follow_account()   # the level for the very first videos too
                while len(busy) >= level.current:
                    await level.wait_changed()
                slot = next(i for i in range(len(busy) + 1) if i not in busy)
                self.queue.width = level.current
                v = await self.queue.next_video(slot, self.brakes, self.reporter)
                if v is None:
                    break
                busy.add(slot)
                used = max(used, slot + 1)
                tg.start_soon(self._run_video, slot, v, ctx, busy)
        for slot in range(used):
            self.reporter.worker_changed(slot, Activity.IDLE, detail="done")

    async def _run_video(self, slot: int, v, ctx: RunContext, busy: set[int]) -> None:
        try:
            await self._walk(slot, v, ctx)
        finally:
            busy.discard(slot)
            self.pacing.level.changed()

    def _follow_account(self) -> None:
        """Auto concurrency: the level from the limiter's submit rate and the job times."""
        if self.pacing.level.auto is None:
            return
        rows = self.limiter.usage()
        bucket = rows[0]   # the account's in shared pacing, else the submit lane's
        rate_binds = bucket.per_minute > 0 and bucket.used_60s >= 0.9 * bucket.per_minute
        self.pacing.follow_account(submit_per_minute=float(self.limiter.submit_per_minute()),
                                   shared=self.limiter.shared, in_flight=len(self.queue.active),
                                   rate_binds=rate_binds)

    async def _walk(self, slot: int, v, ctx: RunContext) -> None:
        """One video's walk; a bug in it fails that video, never the batch."""
        try:
            if wants_upload(v):
                await process_upload(ctx, slot, v)
            elif await process_video(ctx, slot, v) == "upload":
                await process_upload(ctx, slot, v, captions_tried=True)
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as exc:   # a bug in one video's walk must not stop the batch
            if isinstance(exc, SessionError):
                # Not known to be on disk: pay for nothing more (jobs in flight are still followed).
                err = DeapiError(Category.DISK, f"could not save the session: {exc}", retryable=True)
                self.brakes.halt(err)
            else:
                err = DeapiError(Category.INTERNAL, f"{type(exc).__name__}: {exc}", retryable=True)
            self.reporter.error_logged(v, err, will_retry=False)
            try:
                await ctx.record(v, state=VideoState.FAILED, category=err.category.value,
                                 message=err.message, retryable=True)
            except SessionError as again:   # applied in memory: the next commit or the final save retries it
                self.reporter.video_changed(v)
                self.brakes.halt(DeapiError(Category.DISK, f"could not save the session: {again}",
                                            retryable=True))
        finally:
            ctx.budget.release(v)
            self.queue.release(v)

    async def _answers_after_quit(self, ctx: RunContext) -> None:
        """When the run ends (a quit included), submits on the wire still get SUBMIT_ANSWER_GRACE
        to answer, so a paid job's id is recorded; after that their waits are cut (in doubt)."""
        try:
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                with anyio.move_on_after(video.SUBMIT_ANSWER_GRACE):
                    while ctx.on_wire:
                        await anyio.sleep(0.05)
                for scope in list(ctx.on_wire):
                    scope.cancel()

    async def _ticker(self) -> None:
        last_checkpoint = last_limiter = self.clock()
        while True:
            await anyio.sleep(TICK)
            self._follow_account()
            self.reporter.emit(self.progress())
            if self.clock() - last_limiter >= LIMITER_EVERY:
                last_limiter = self.clock()
                await self._save_limiter()
            if self.clock() - last_checkpoint >= CHECKPOINT_EVERY:
                last_checkpoint = self.clock()
                await self._save(report=False)

    # -- persistence ------------------------------------------------------------------
    def _restore_limiter(self) -> None:
        """The grants of the last minute survive a crash, so an immediate resume cannot burst."""
        state = load_limiter_state(self.session.path, self.session.limiter)
        if state:
            try:
                self.limiter.restore(state)
            except (TypeError, ValueError, KeyError):
                self.reporter.notice("warning", "the saved rate-limit state was unreadable; "
                                                "starting from an empty window")

    async def _save_limiter(self) -> None:
        try:
            await anyio.to_thread.run_sync(save_limiter_state, self.session.path, self.limiter.snapshot())
        except OSError:
            pass   # only costs a slower start after a crash: the limiter itself is unaffected

    async def _save(self, *, report: bool = True) -> None:
        """Checkpoint the session (and write the report); shielded so a quit cannot tear it."""
        with anyio.CancelScope(shield=True):
            with anyio.move_on_after(30):
                self.session.limiter = self.limiter.snapshot()
                await self._save_limiter()
                try:
                    await self.session.checkpoint()
                    if report:
                        self.report_written = False
                        await anyio.to_thread.run_sync(write_report, self.report_path, self.session)
                        self.report_written = True
                except (OSError, SessionError) as exc:
                    self.reporter.notice("error", f"could not save the session or report: {exc}")

    # -- snapshots ----------------------------------------------------------------------
    @property
    def report_path(self) -> Path:
        return Path(self.settings.output_dir).resolve() / f"{Path(self.session.path).stem}.report.csv"

    def counts(self) -> Counter:
        return Counter(v.state for v in self.session.videos)

    def progress(self) -> Progress:
        now = self.clock()
        c = self.counts()
        total = len(self.session.videos)
        done, failed = c[VideoState.DONE], c[VideoState.FAILED]
        in_flight = len(self.queue.active)
        remaining = total - done - failed
        level = self.pacing.level
        feeder = self.context.feeder if self.context is not None else None
        expected = self.planner.expected(None)
        model_rate = min(level.current * 60.0 / max(expected, 1.0), float(self.limiter.submit_per_minute()))
        return Progress(
            total=total, done=done, failed=failed, in_flight=in_flight,
            queued=max(0, remaining - in_flight), elapsed=now - self._started,
            videos_per_min=self.throughput.per_minute(now),
            eta_seconds=self.throughput.eta(now, remaining, model_rate_per_min=model_rate),
            buckets=self.limiter.usage(), concurrency=level.current,
            max_concurrency=level.maximum, concurrency_reason=level.reason, submitting_paused=self.brakes.paused,
            stopping=self.brakes.stopping, cost=self.cost(), in_doubt=len(self.in_doubt()),
            sources_pending=feeder.sources_pending if feeder else 0,
            lookups_pending=feeder.lookups_pending if feeder else 0,
            server_trouble=self.context.outage.snapshot() if self.context is not None else None,
        )

    def cost(self) -> float:
        return sum(v.cost for v in self.session.videos)

    async def _preflight(self) -> None:
        """Before the first submit: the output folder and the session's folder must take a file and
        have room, or the run halts (jobs already paid for are still followed)."""
        for folder, what in ((self.settings.output_dir, "output folder"),
                             (Path(self.session.path).parent, "session folder")):
            problem = await anyio.to_thread.run_sync(folder_problem, folder, what)
            if problem:
                self.brakes.halt(DeapiError(Category.DISK, problem))
                return

    def in_doubt(self) -> list:
        return [v for v in self.session.videos
                if v.state is VideoState.FAILED and v.category == Category.IN_DOUBT.value]

    def summary(self) -> BatchFinished:
        c = self.counts()
        doubtful = self.in_doubt()
        failures = Counter(v.category or "unknown" for v in self.session.videos if v.state is VideoState.FAILED)
        methods = Counter(v.method or Method.DEAPI_URL.value for v in self.session.videos if v.state is VideoState.DONE)
        total = len(self.session.videos)
        return BatchFinished(
            total=total, done=c[VideoState.DONE], failed=c[VideoState.FAILED],
            remaining=total - c[VideoState.DONE] - c[VideoState.FAILED],
            possibly_paid=sum(1 for v in self.session.videos if v.possibly_paid),
            failures_by_category=tuple(sorted(failures.items())),
            report_path=str(self.report_path), output_dir=os.path.abspath(self.settings.output_dir),
            session_path=str(self.session.path), stopped=self.brakes.stopping,
            in_doubt=len(doubtful), in_doubt_cost=sum(estimate_price(v.duration) or JOB_FEE for v in doubtful),
            cost=self.cost(), report_written=self.report_written,
            methods=tuple(sorted(methods.items())),
            halted=f"{h.message}: {HALT_HINTS.get(h.category, 'fix the cause, then resume')}" if (h := self.halted) else "",
            rejected=sum(1 for r in self.session.rejected if r.category != "duplicate"),
            duplicates=sum(1 for r in self.session.rejected if r.category == "duplicate"),
        )
