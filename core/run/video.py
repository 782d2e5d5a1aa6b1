"""One video's walk: submit -> follow the job -> fetch the result -> write the files.

Every step that spends money or changes what a resume would do is recorded in the
session before the next step starts. Transient failures are retried here with full
jitter backoff; 429s pause the whole bucket (every worker) and are not counted as
attempts; permanent failures end the video at once and never the batch.
"""

from __future__ import annotations

import errno
import time
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from .backoff import backoff_delay
from ..deapi.client import JobStatus, to_job_error
from ..errors import Category, DeapiError
from ..events import Activity
from ..model import Video, VideoState
from ..output.transcripts import write_outputs
from .polling import JobClock, status_horizon
from ..sources.urls import UrlError, normalize

if TYPE_CHECKING:
    from .engine import Engine

SUBMIT_ANSWER_GRACE = 20.0   # on quit, how long a submit on the wire may take to answer
FETCH_TRIES = 4


async def process_video(eng: "Engine", slot: int, v: Video) -> None:
    """Walk `v` to done or failed (or leave it resumable when the run stops)."""
    while True:
        if not v.request_id:
            if not await submit(eng, slot, v):
                return
        job = await follow(eng, slot, v)
        if job is None:
            return
        if job.status == "done":
            await finish(eng, slot, v, job)
            return
        err = to_job_error(job)
        err.request_id = v.request_id
        if err.retryable and eng.attempts_left(v) > 0 and not eng.stopping:
            eng.log_error(v, err, will_retry=True)
            # The failed job is not charged; only now may the video be submitted again.
            await eng.set(v, state=VideoState.QUEUED, request_id="", category=err.category.value,
                          message=err.message, retryable=True)
            await backoff(eng, slot, v, eng.settings.max_attempts - eng.attempts_left(v), err)
            continue
        eng.log_error(v, err, will_retry=False)
        await fail(eng, v, err)
        return


async def fail(eng: "Engine", v: Video, err: DeapiError, *, keep_request: bool = True) -> None:
    changes = dict(state=VideoState.FAILED, category=err.category.value, message=err.message,
                   retryable=err.retryable, finished_at=time.time())
    if not keep_request:
        changes["request_id"] = ""
    await eng.set(v, **changes)


async def backoff(eng: "Engine", slot: int, v: Video, attempt: int, err: DeapiError) -> None:
    delay = backoff_delay(max(1, attempt))
    if err.retry_after:
        delay = max(delay, err.retry_after)
    eng.worker(slot, Activity.BACKING_OFF, v, detail=_short(err), until=eng.clock() + delay)
    await anyio.sleep(delay)


async def acquire(eng: "Engine", slot: int, v: Video, endpoint: str) -> None:
    def on_wait(seconds: float, reason: str) -> None:
        eng.worker(slot, Activity.WAITING_RATE, v, detail=reason, until=eng.clock() + seconds)
        if "daily" in reason:
            eng.notice_once(f"{endpoint}: {reason}; waiting (the session is saved: quitting and resuming later is safe)")

    await eng.limiter.acquire(endpoint, on_wait)


def rate_limited(eng: "Engine", v: Video, endpoint: str, err: DeapiError) -> None:
    """A 429: pause the bucket for every worker; lower concurrency if they persist."""
    pause = eng.limiter.on_429(endpoint, err.retry_after, err.rate_limit_type)
    eng.trouble(f"a 429 from {endpoint}")
    err.message = f"{err.message} ({endpoint} paused {pause:.0f} s)"
    eng.log_error(v, err, will_retry=True)


# -- submit ----------------------------------------------------------------------------
async def submit(eng: "Engine", slot: int, v: Video) -> bool:
    """Get `v` a request id, durably. False when the video ended (failed) or must wait for another run."""
    s = eng.settings
    if not fetchable(v.url):
        # deAPI fetches only the hosts it documents: refusing here costs no request.
        await fail(eng, v, DeapiError(Category.INPUT, "deAPI fetches only YouTube, X, Twitch VOD, Kick and TikTok "
                                      "links; this one is elsewhere", retryable=False))
        return False
    while True:
        if eng.stopping:
            if v.state is not VideoState.QUEUED:
                await eng.set(v, state=VideoState.QUEUED)
            return False
        if eng.attempts_left(v) <= 0:
            err = DeapiError(Category(v.category) if v.category else Category.SERVER,
                             f"gave up after {s.max_attempts} attempts: {v.message or 'no answer'}",
                             retryable=True)
            await fail(eng, v, err)
            return False
        if eng.submitting_paused:
            eng.worker(slot, Activity.PAUSED, v, detail="submitting paused")
            await eng.wait_unpaused()
            continue
        err: DeapiError | None = None
        async with eng.submit_gate:
            await acquire(eng, slot, v, "submit")
            if eng.stopping:
                continue
            eng.worker(slot, Activity.SUBMITTING, v)
            # Intent first: if we die before the answer is recorded, resume knows this
            # video is in doubt (possibly paid) instead of silently paying again.
            try:
                await eng.set(v, state=VideoState.SUBMITTING, attempts=v.attempts + 1)
            except anyio.get_cancelled_exc_class():
                # Quit while the intent was reaching the disk: nothing was sent. Taken back in
                # memory, the engine's closing checkpoint saves it, so a resume does not flag
                # the video as possibly paid (a crash here still leaves the safe, flagged side).
                eng.session.record_nowait(v, state=VideoState.QUEUED, attempts=v.attempts - 1)
                raise
            started = eng.clock()
            # Once on the wire, let the answer land even if the user quits meanwhile. The grace
            # bounds the wait for the answer only: an answer that landed is always recorded.
            with anyio.CancelScope(shield=True):
                request_id = ""
                with anyio.move_on_after(SUBMIT_ANSWER_GRACE):
                    try:
                        request_id = await eng.client.submit(
                            v.url, model=s.model, include_ts=s.timestamps, lang=s.lang,
                            ts_level="segment" if s.timestamps and s.model == "WhisperLargeV3Ct2" else None,
                        )
                    except DeapiError as exc:
                        err = exc
                if request_id:
                    await eng.set(v, state=VideoState.SUBMITTED, request_id=request_id,
                                  submitted_at=time.time(), category="", message="")
                    eng.observe_submit_latency(eng.clock() - started)
                    eng.success()
                    return True
            if err is None:   # the grace ran out with no answer: in doubt
                err = DeapiError(Category.NETWORK, "no answer to a submit", retryable=True)
        await _submit_failed(eng, slot, v, err)
        if v.state is VideoState.FAILED or eng.halted is not None:
            return False


async def _submit_failed(eng: "Engine", slot: int, v: Video, err: DeapiError) -> None:
    cat = err.category
    if cat is Category.RATE_LIMITED:
        # A 429 creates no job and is not an attempt.
        await eng.set(v, state=VideoState.QUEUED, attempts=v.attempts - 1, durable=False)
        rate_limited(eng, v, "submit", err)
        return
    if cat in (Category.AUTH, Category.BALANCE):
        await eng.set(v, state=VideoState.QUEUED, attempts=v.attempts - 1)
        eng.log_error(v, err, will_retry=False)
        eng.halt(err)
        return
    if err.maybe_created or cat is Category.NETWORK:
        # The request may have reached deAPI and created a job we will never hear of.
        await eng.set(v, state=VideoState.QUEUED, possibly_paid=True, category=cat.value, message=err.message)
    if err.retryable and eng.attempts_left(v) > 0:
        if cat is Category.SERVER:
            eng.trouble(f"a {err.status or 'server'} error")
            await eng.set(v, state=VideoState.QUEUED, category=cat.value, message=err.message)
        eng.log_error(v, err, will_retry=True)
        await backoff(eng, slot, v, eng.settings.max_attempts - eng.attempts_left(v), err)
        return
    eng.log_error(v, err, will_retry=False)
    await fail(eng, v, err)


# -- follow ----------------------------------------------------------------------------
async def follow(eng: "Engine", slot: int, v: Video) -> JobStatus | None:
    """Poll `v`'s job until it ends. None when the video ended otherwise or the run stops."""
    since_submit = max(0.0, time.time() - v.submitted_at) if v.submitted_at else 0.0
    clock = JobClock(submitted=eng.clock() - since_submit)
    # Measured from when this run starts following: a job re-attached a day later gets a full wait.
    deadline = eng.clock() + eng.settings.wait_limit
    transient = 0
    progress: float | None = None
    eng.follow_started()
    try:
        while True:
            now = eng.clock()
            delay = eng.planner.next_delay(
                clock, now, duration=v.duration, in_flight=eng.following,
                status_per_minute=status_budget(eng))
            if now >= deadline:
                err = DeapiError(Category.TIMEOUT,
                                 f"still not done after {eng.settings.wait_limit / 60:.0f} min; the job is kept "
                                 "and a resume polls it again", retryable=True, request_id=v.request_id)
                eng.log_error(v, err, will_retry=False)
                await fail(eng, v, err)
                return None
            delay = min(delay, max(0.0, deadline - now))
            eng.worker(slot, Activity.TRANSCRIBING, v, progress=progress,
                       detail=f"next check in {delay:.0f} s", until=now + delay)
            await anyio.sleep(delay)
            await acquire(eng, slot, v, "status")
            eng.worker(slot, Activity.TRANSCRIBING, v, progress=progress, detail="checking")
            try:
                job = await eng.client.job(v.request_id)
            except DeapiError as err:
                err.request_id = v.request_id
                if err.category is Category.RATE_LIMITED:
                    rate_limited(eng, v, "status", err)
                    continue
                if err.category is Category.AUTH:
                    eng.log_error(v, err, will_retry=False)
                    eng.halt(err)
                    return None   # stays submitted: a resume with a good key re-attaches
                if err.retryable:
                    transient += 1
                    eng.trouble(f"a {err.status or err.category.value} error")
                    eng.log_error(v, err, will_retry=True)
                    await backoff(eng, slot, v, transient, err)
                    continue
                eng.log_error(v, err, will_retry=False)
                await fail(eng, v, err)
                return None
            transient = 0
            clock.observe(eng.clock(), job.progress)
            progress = job.progress
            eng.session.record_nowait(v, polls=v.polls + 1)
            if job.terminal:
                if job.status == "done":
                    eng.planner.learn(eng.clock() - clock.submitted, v.duration, clock)
                return job
            if v.state is not VideoState.TRANSCRIBING:
                await eng.set(v, state=VideoState.TRANSCRIBING, durable=False)
    finally:
        eng.follow_ended()


def status_budget(eng: "Engine") -> float:
    """Status calls per minute to plan with; see `polling.status_horizon` for the day's share."""
    lim = eng.limiter
    horizon = status_horizon(
        status_left=lim.daily_remaining("status"), submits_left=lim.daily_remaining("submit"),
        queued=len(eng._queue), in_flight=eng.following,
        submit_per_minute=lim.submit_per_minute(), expected=eng.planner.expected(None))
    return lim.status_budget_per_minute(horizon=horizon)


# -- fetch and write -------------------------------------------------------------------
async def finish(eng: "Engine", slot: int, v: Video, job: JobStatus) -> None:
    await eng.set(v, state=VideoState.DOWNLOADING, durable=False)
    transcript = None
    for attempt in range(1, FETCH_TRIES + 1):
        eng.worker(slot, Activity.DOWNLOADING, v)
        try:
            transcript = await eng.client.fetch_result(job)
            break
        except DeapiError as err:
            err.request_id = v.request_id
            if attempt == FETCH_TRIES or not err.retryable:
                eng.log_error(v, err, will_retry=False)
                await fail(eng, v, err)
                return
            eng.log_error(v, err, will_retry=True)
            if err.category is Category.RESULT_EXPIRED:
                # The link expired: the job itself holds a fresh one.
                try:
                    await acquire(eng, slot, v, "status")
                    job = await eng.client.job(v.request_id)
                except DeapiError as again:
                    err = again
                else:
                    continue
            if err.category is Category.RATE_LIMITED:
                rate_limited(eng, v, "status", err)
                continue
            await backoff(eng, slot, v, attempt, err)
    assert transcript is not None
    eng.worker(slot, Activity.WRITING, v)
    s = eng.settings
    try:
        outputs = await anyio.to_thread.run_sync(
            write_outputs, Path(s.output_dir), v, transcript, tuple(s.formats), s.template)
    except (OSError, ValueError) as exc:
        full = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
        err = DeapiError(Category.DISK, f"could not write the transcript: {exc}", retryable=True,
                         request_id=v.request_id)
        eng.log_error(v, err, will_retry=False)
        await fail(eng, v, err)   # the request id stays: a resume fetches it again, unpaid
        if full:
            eng.halt(err)
        return
    await eng.set(v, state=VideoState.DONE, outputs=outputs, finished_at=time.time(),
                  category="", message="", retryable=False)
    eng.throughput.completed(eng.clock())
    eng.success()


def fetchable(url: str) -> bool:
    try:
        return normalize(url).supported
    except UrlError:
        return False


def _short(err: DeapiError) -> str:
    if err.status:
        return f"a {err.status}"
    return (err.error_reason or err.category.value).lower().replace("_", " ")
