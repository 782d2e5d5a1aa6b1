"""The engine: every video of a session through deAPI, as fast as the limits allow.

One anyio task group holds a worker task per slot (stable rows for the faces), a ticker
that publishes progress and checkpoints the session, and nothing else. Each worker takes
the next video and walks it through submit -> follow -> fetch -> write (see `steps.py`).

The rules that protect the user's money live here and in `steps.py`:
- a video's request id is durable in the session before anyone waits on it;
- a video whose request id is known is never submitted again, unless deAPI reported
  its job failed *and* retryable;
- submits awaiting an answer are kept as few as the rate allows (the "in doubt" gate).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import Counter, deque
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import anyio

from ..store.atomic import atomic_write_text
from ..deapi.client import DeapiClient
from .pacing import AdaptiveLevel
from ..errors import Category, DeapiError
from ..events import (
    Activity,
    BatchFinished,
    ConcurrencyChanged,
    ErrorLogged,
    EventSink,
    Notice,
    Progress,
    VideoChanged,
    WorkerChanged,
)
from ..limiter import RateLimiter
from ..model import Video, VideoState
from .polling import PollPlanner
from ..output.report import write_report
from .stats import Throughput

from ..store.session import SessionError
from ..store.format import limiter_path

if TYPE_CHECKING:
    from ..store.session import Session

TICK = 0.5              # seconds between Progress events
CHECKPOINT_EVERY = 30.0  # seconds between folds of the journal into the TOML
LIMITER_EVERY = 2.0      # seconds between saves of the limiter's recent grants

# Failures after which the job may still exist on deAPI's side: resume re-polls, never resubmits.
REATTACH_CATEGORIES = {Category.TIMEOUT.value, Category.DISK.value, Category.NETWORK.value,
                       Category.SERVER.value, Category.RESULT_EXPIRED.value, Category.INTERNAL.value}


class Engine:
    """Runs one session to the end (or to a stop). See the module docstring for the rules.

    Controls (`pause_submitting`, `request_stop`, `retry_failed`) may be called from the
    faces at any time on the same event loop."""

    def __init__(
        self,
        session: "Session",
        *,
        api_key: str,
        sink: EventSink,
        client: DeapiClient | None = None,
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.settings = session.settings
        self._api_key = api_key
        self._sink = sink
        self._client = client
        self.clock = clock
        self.limiter = limiter or RateLimiter.from_settings(self.settings)
        self._limiter_path = limiter_path(session.path)
        self._restore_limiter()
        self.level = AdaptiveLevel(self.settings.concurrency, enabled=self.settings.adaptive, clock=clock)
        self.planner = PollPlanner(economy=self.settings.status_daily is not None)
        self.throughput = Throughput()
        self.submit_gate = anyio.CapacityLimiter(1)
        self._submit_latency = 0.2
        self._queue: deque[Video] = deque()
        self._active: set[str] = set()         # keys of videos a worker holds
        self._following = 0                    # jobs being polled right now
        self._attempt_base: dict[str, int] = {}
        self._wake = anyio.Event()
        self._unpaused = anyio.Event()
        self._unpaused.set()
        self.submitting_paused = False
        self.stopping = False
        self.halted: DeapiError | None = None
        self._said: set[str] = set()
        self._started = clock()
        self.index = {v.key: i for i, v in enumerate(session.videos)}

    # -- controls ---------------------------------------------------------------------
    def pause_submitting(self) -> None:
        self.submitting_paused = True
        if self._unpaused.is_set():   # a second pause must not orphan the workers waiting on the first
            self._unpaused = anyio.Event()
        self.notice("info", "submitting paused: jobs in flight continue")

    def resume_submitting(self) -> None:
        self.submitting_paused = False
        self._unpaused.set()
        self.notice("info", "submitting resumed")

    async def wait_unpaused(self) -> None:
        await self._unpaused.wait()

    def request_stop(self) -> None:
        """Graceful stop: no new submits; jobs already paid for are followed to the end."""
        if not self.stopping:
            self.stopping = True
            self.notice("info", "stopping: no new submits, finishing the jobs in flight")
            self._unpaused.set()
            self._poke()

    def retry_failed(self) -> int:
        """Queue again every failed video worth another try; returns how many."""
        count = 0
        queued = {q.key for q in self._queue}   # e.g. resumed failures not yet taken: never twice
        for v in self.session.videos:
            if (v.state is VideoState.FAILED and v.key not in self._active and v.key not in queued
                    and (v.retryable or v.request_id)):
                if v.request_id and v.category == Category.JOB_FAILED.value:
                    # deAPI's verdict on that job is final (polling it again only says "failed"
                    # again) and failed jobs are not charged: the user asks for a new job.
                    self.session.record_nowait(v, request_id="")
                    self._requeue(v)
                else:
                    self._requeue(v, front=bool(v.request_id))   # re-attach to the paid job
                count += 1
        if count:
            self.stopping = False
            if self.submitting_paused and self._unpaused.is_set():
                self._unpaused = anyio.Event()   # request_stop set it; still paused, so wait again
            self.notice("info", f"{count} failed video(s) queued again")
            self._poke()
        return count

    # -- events -----------------------------------------------------------------------
    def emit(self, event) -> None:
        try:
            self._sink(event)
        except Exception:  # a face's bug must never stop the batch
            pass

    def notice(self, level: str, message: str) -> None:
        self.emit(Notice(time.time(), level, message))

    def notice_once(self, message: str, level: str = "warning") -> None:
        """A notice that is worth saying once per run, however many workers run into it."""
        if message not in self._said:
            self._said.add(message)
            self.notice(level, message)

    def worker(self, slot: int, activity: Activity, v: Video | None = None, *, detail: str = "",
               progress: float | None = None, until: float | None = None) -> None:
        self.emit(WorkerChanged(slot, activity, v.key if v else "", v.label if v else "", detail,
                                progress, until, self.clock()))

    def video_event(self, v: Video) -> None:
        self.emit(VideoChanged(v.key, self.index.get(v.key, -1), v.state, v.label, v.request_id,
                               v.attempts, v.category, v.message, tuple(v.outputs)))

    def log_error(self, v: Video, err: DeapiError, *, will_retry: bool) -> None:
        self.emit(ErrorLogged(time.time(), v.key, v.label, err.category.value, err.message, err.status,
                              err.request_id or v.request_id, will_retry))

    async def set(self, v: Video, *, durable: bool = True, **changes) -> None:
        """Change a video, durably unless told otherwise, and tell the faces."""
        if durable:
            await self.session.record(v, **changes)
        else:
            self.session.record_nowait(v, **changes)
        if "state" in changes or "category" in changes:
            self.video_event(v)

    def trouble(self, reason: str) -> None:
        msg = self.level.trouble(reason)
        if msg:
            self.emit(ConcurrencyChanged(self.level.level, msg))

    def success(self) -> None:
        msg = self.level.success()
        if msg:
            self.emit(ConcurrencyChanged(self.level.level, msg))

    def halt(self, err: DeapiError) -> None:
        """Stop submitting for good: every further submit would fail the same way."""
        if self.halted is None:
            self.halted = err
            hint = {
                Category.AUTH: "check DEAPI_API_KEY (or the key in the config file), then resume",
                Category.BALANCE: "top up the deAPI balance, then resume",
                Category.DISK: "free some disk space, then resume",
            }.get(err.category, "fix the cause, then resume")
            self.notice("error", f"{err.message}: {hint}. Jobs already paid for are still followed.")
        self.stopping = True
        self._unpaused.set()   # paused workers must see the stop, not wait for a resume
        self._poke()

    # -- submit pacing ---------------------------------------------------------------
    def observe_submit_latency(self, seconds: float) -> None:
        """Size the in-doubt gate: one submit on the wire unless the rate needs more."""
        self._submit_latency = 0.8 * self._submit_latency + 0.2 * seconds
        per_second = self.limiter.submit_per_minute() / 60.0
        need = max(1, min(8, math.ceil(per_second * self._submit_latency * 1.5)))
        if need != self.submit_gate.total_tokens:
            self.submit_gate.total_tokens = need

    def attempts_left(self, v: Video) -> int:
        return self.settings.max_attempts - (v.attempts - self._attempt_base.get(v.key, 0))

    @property
    def following(self) -> int:
        return self._following

    def follow_started(self) -> None:
        self._following += 1

    def follow_ended(self) -> None:
        self._following -= 1

    # -- queue ------------------------------------------------------------------------
    def _poke(self) -> None:
        self._wake.set()
        self._wake = anyio.Event()

    def _requeue(self, v: Video, *, front: bool = False) -> None:
        self._attempt_base[v.key] = v.attempts
        (self._queue.appendleft if front else self._queue.append)(v)

    def plan_queue(self) -> None:
        """Decide what this run does with each video of the session (fresh or resumed)."""
        reattach: list[Video] = []
        out_dir = Path(self.settings.output_dir)
        for v in self.session.videos:
            if v.state is VideoState.DONE:
                if all(Path(p).exists() or (out_dir / p).exists() for p in v.outputs) and v.outputs:
                    continue
                (reattach if v.request_id else self._queue).append(v)   # outputs lost: fetch again
            elif v.state is VideoState.FAILED:
                if v.request_id and v.category in REATTACH_CATEGORIES:
                    reattach.append(v)
                elif v.retryable:
                    self._queue.append(v)
                elif self.settings.retry_failed:
                    if v.category == Category.JOB_FAILED.value:
                        # The user asks again for a video deAPI refused (failed jobs are not charged).
                        self.session.record_nowait(v, request_id="")
                    self._queue.append(v)
            elif v.state is VideoState.SUBMITTING and not v.request_id:
                # Crashed between sending a submit and recording its answer.
                self.session.record_nowait(v, possibly_paid=True, state=VideoState.QUEUED)
                self._queue.append(v)
            elif v.request_id:
                reattach.append(v)
            else:
                self._queue.append(v)
        for v in (*self._queue, *reattach):   # every video this run takes gets its full attempts
            self._attempt_base[v.key] = v.attempts
        self._queue.extendleft(reversed(reattach))

    async def next_video(self, slot: int) -> Video | None:
        """The next video for a worker, or None when this run has no more work."""
        while True:
            head = self._queue[0] if self._queue else None
            if head is not None and (head.request_id or not self.stopping):
                if head.request_id or not self.submitting_paused:
                    self._queue.popleft()
                    self._active.add(head.key)
                    return head
                self.worker(slot, Activity.PAUSED, detail="submitting paused (press p to resume)")
                await self._unpaused.wait()
                continue
            if not self._active:
                return None   # nothing queued that this run may take, and nobody can add to it
            self.worker(slot, Activity.IDLE)
            await self._wake.wait()

    def release(self, v: Video) -> None:
        self._active.discard(v.key)
        self._poke()

    # -- the run ----------------------------------------------------------------------
    async def run(self) -> BatchFinished:
        """Run until every video is done or failed, or a stop; returns the summary.

        On cancellation (quit) the session is checkpointed and the report written before
        the cancellation propagates."""
        from .video import process_video   # the per-video walk; separate for size

        self.plan_queue()
        self._started = self.clock()
        self.throughput.start(self._started)
        client = self._client or DeapiClient(self.settings.api_base, self._api_key)
        own_client = self._client is None
        self.client = client
        try:
            async with self.session.running():
                try:
                    async with anyio.create_task_group() as outer:
                        outer.start_soon(self._ticker)
                        async with anyio.create_task_group() as workers:
                            for slot in range(self.settings.concurrency):
                                workers.start_soon(self._worker_loop, slot, process_video)
                        outer.cancel_scope.cancel()
                finally:
                    await self._save()   # shielded: a quit still leaves a checkpoint and a report
        finally:
            if own_client:
                with anyio.CancelScope(shield=True):
                    await client.aclose()
        finished = self.summary()
        self.emit(self.progress())
        self.emit(finished)
        return finished

    async def _worker_loop(self, slot: int, process_video) -> None:
        while True:
            v = await self.next_video(slot)
            if v is None:
                self.worker(slot, Activity.IDLE, detail="done")
                return
            try:
                if self.level.slots.available_tokens < 1:
                    self.worker(slot, Activity.WAITING_SLOT, v, detail=f"{self.level.level} in flight for now")
                async with self.level.slots:
                    await process_video(self, slot, v)
            except anyio.get_cancelled_exc_class():
                raise
            except Exception as exc:   # a bug in one video's walk must not stop the batch
                if isinstance(exc, SessionError):
                    # Not known to be on disk: pay for nothing more (jobs in flight are still followed).
                    err = DeapiError(Category.DISK, f"could not save the session: {exc}", retryable=True)
                    self.halt(err)
                else:
                    err = DeapiError(Category.INTERNAL, f"{type(exc).__name__}: {exc}", retryable=True)
                self.log_error(v, err, will_retry=False)
                try:
                    await self.set(v, state=VideoState.FAILED, category=err.category.value,
                                   message=err.message, retryable=True)
                except SessionError as again:   # applied in memory: the next commit or the final save retries it
                    self.video_event(v)
                    self.halt(DeapiError(Category.DISK, f"could not save the session: {again}", retryable=True))
            finally:
                self.release(v)

    async def _ticker(self) -> None:
        last_checkpoint = last_limiter = self.clock()
        while True:
            await anyio.sleep(TICK)
            self.emit(self.progress())
            if self.clock() - last_limiter >= LIMITER_EVERY:
                last_limiter = self.clock()
                await self._save_limiter()
            if self.clock() - last_checkpoint >= CHECKPOINT_EVERY:
                last_checkpoint = self.clock()
                await self._save(report=False)

    def _restore_limiter(self) -> None:
        """The grants of the last minute survive a crash, so an immediate resume cannot burst.
        The sidecar is written every few seconds; the session's copy only at checkpoints."""
        state = self.session.limiter
        try:
            state = json.loads(self._limiter_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
        if state:
            try:
                self.limiter.restore(state)
            except (TypeError, ValueError, KeyError):
                self.notice("warning", "the saved rate-limit state was unreadable; starting from an empty window")

    async def _save_limiter(self) -> None:
        text = json.dumps(self.limiter.snapshot())
        try:
            await anyio.to_thread.run_sync(atomic_write_text, self._limiter_path, text)
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
                        await anyio.to_thread.run_sync(write_report, self.report_path, self.session)
                except (OSError, SessionError) as exc:
                    self.notice("error", f"could not save the session or report: {exc}")

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
        in_flight = len(self._active)
        remaining = total - done - failed
        expected = self.planner.expected(None)
        model_rate = min(self.level.level * 60.0 / max(expected, 1.0), float(self.limiter.submit_per_minute()))
        return Progress(
            total=total, done=done, failed=failed, in_flight=in_flight,
            queued=max(0, remaining - in_flight), elapsed=now - self._started,
            videos_per_min=self.throughput.per_minute(now),
            eta_seconds=self.throughput.eta(now, remaining, model_rate_per_min=model_rate),
            buckets=self.limiter.usage(), concurrency=self.level.level,
            max_concurrency=self.level.maximum, submitting_paused=self.submitting_paused,
            stopping=self.stopping,
        )

    def summary(self) -> BatchFinished:
        c = self.counts()
        failures = Counter(v.category or "unknown" for v in self.session.videos if v.state is VideoState.FAILED)
        total = len(self.session.videos)
        return BatchFinished(
            total=total, done=c[VideoState.DONE], failed=c[VideoState.FAILED],
            remaining=total - c[VideoState.DONE] - c[VideoState.FAILED],
            possibly_paid=sum(1 for v in self.session.videos if v.possibly_paid),
            failures_by_category=tuple(sorted(failures.items())),
            report_path=str(self.report_path), output_dir=os.path.abspath(self.settings.output_dir),
            session_path=str(self.session.path), stopped=self.stopping,
        )
