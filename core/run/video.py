"""One video's walk: submit -> follow the job -> fetch the result -> write the files.

Every step that spends money or changes what a resume would do is recorded in the
session before the next step starts. Transient failures are retried here with full
jitter backoff; 429s pause the whole bucket (every worker) and are not counted as
attempts; permanent failures end the video at once and never the batch.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from ..deapi.client import JobStatus, to_job_error
from ..durations import for_words
from ..errors import Category, DeapiError
from ..events import Activity
from ..model import Method, Video, VideoState
from ..output.transcripts import write_outputs
from ..prices import estimate_price
from ..sources.platforms import job_options
from ..sources.urls import UrlError, normalize
from .backoff import backoff_delay
from .captions import take_captions
from .polling import JobClock, status_horizon

if TYPE_CHECKING:
    from .context import RunContext

SUBMIT_ANSWER_GRACE = 20.0   # after a quit, how long a submit on the wire may still take to answer
FETCH_TRIES = 4
REFETCH_EXPIRED = ("its transcript files were missing or empty, and deAPI no longer keeps the result (it "
                   "expired), so it cannot be fetched again for free; not resubmitted (a new submit is paid): "
                   "add the video to a new batch if you want it transcribed again")
STATUS_FIRST_MAX = 2.0       # seconds a submit waits at most for due status calls (shared limits)
UNREACHABLE_AFTER = 3        # submits in a row that never left before a run that reached deAPI says it is unreachable


FALLBACK_AFTER = 2   # SOURCE_DOWNLOAD_FAILED jobs before --upload-fallback downloads and uploads


async def process_video(ctx: "RunContext", slot: int, v: Video) -> str | None:
    """Walk `v` to done or failed (or leave it resumable when the run stops). Returns "upload"
    when the video must go the upload way instead (`--upload-fallback`), else None."""
    if await take_captions(ctx, slot, v):   # --captions first|only: free when it has them
        return None
    while True:
        if not v.request_id:
            if not await submit(ctx, slot, v):
                return
        job = await follow(ctx, slot, v)
        if job is None:
            return
        if job.status == "done":
            await finish(ctx, slot, v, job)
            return
        err = to_job_error(job)
        err.request_id = v.request_id
        if job.refunded is False:   # deAPI kept the charge: it counts before any resubmit
            await ctx.record(v, cost=v.cost + paid(ctx, v, job))
        if job.error_reason == "SOURCE_DOWNLOAD_FAILED":
            await ctx.record(v, download_failures=v.download_failures + 1)
            if (ctx.settings.upload_fallback and v.download_failures >= FALLBACK_AFTER
                    and host_of(v.url) == "youtube" and not ctx.brakes.stopping):
                # deAPI could not fetch it twice: download it here and upload it (its failed jobs are over).
                ctx.reporter.error_logged(v, err, will_retry=True)
                ctx.reporter.notice("info", f"{v.label}: deAPI could not download it twice; downloading it here "
                                            "to upload it (--upload-fallback)")
                await ctx.record(v, state=VideoState.QUEUED, request_id="", method=Method.DEAPI_UPLOAD.value,
                                 category=err.category.value, message=err.message, retryable=True)
                return "upload"
        if err.retryable and ctx.queue.attempts_left(v) > 0 and not ctx.brakes.stopping:
            ctx.reporter.error_logged(v, err, will_retry=True)
            # deAPI reported the job failed, so it is over: only now may the video be submitted again.
            await ctx.record(v, state=VideoState.QUEUED, request_id="", category=err.category.value,
                          message=err.message, retryable=True)
            await backoff(ctx, slot, v, ctx.settings.max_attempts - ctx.queue.attempts_left(v), err)
            continue
        ctx.reporter.error_logged(v, err, will_retry=False)
        await fail(ctx, v, err)
        return


async def fail(ctx: "RunContext", v: Video, err: DeapiError, *, keep_request: bool = True, **more) -> None:
    changes = dict(state=VideoState.FAILED, category=err.category.value, message=err.message,
                   retryable=err.retryable, finished_at=time.time(), **more)
    if not keep_request:
        changes["request_id"] = ""
    await ctx.record(v, **changes)


async def backoff(ctx: "RunContext", slot: int, v: Video, attempt: int, err: DeapiError) -> None:
    delay = backoff_delay(max(1, attempt))
    if err.retry_after:
        delay = max(delay, err.retry_after)
    until = ctx.clock() + delay
    outage = ctx.outage
    if err.category is Category.SERVER and outage.long:
        outage.retry_at(slot, until)   # the header's "next try in N s"
    detail = outage.words() if err.category is Category.SERVER and outage.long else _short(err)
    ctx.reporter.worker_changed(slot, Activity.BACKING_OFF, v, detail=detail, until=until)
    try:
        await anyio.sleep(delay)
    finally:
        outage.retried(slot)


def server_error(ctx: "RunContext", v: Video, err: DeapiError, *, log: bool = True) -> None:
    """A 5xx that will be retried: logged while the streak is short; once it is long (deAPI down
    for a while), counted in the outage instead, which the faces show as one statement."""
    short, became_long = ctx.outage.failed(err.status)
    if log and short:
        ctx.reporter.error_logged(v, err, will_retry=True)
    if became_long:
        ctx.reporter.notice("warning", f"deAPI answering {err.status or 'server errors'} again and again: backing "
                                       "off and retrying by itself; further tries are counted in the header, not "
                                       "logged one by one (the session is saved, so quitting is safe)")


def answered(ctx: "RunContext") -> None:
    """deAPI gave a good answer: it is reachable, and a server outage is over (said when it was
    a long one)."""
    ctx.unreachable = 0
    ctx.reached = True
    if ctx.outage.tries:
        ended = ctx.outage.answered()
        if ended is not None:
            lasted, tries = ended
            ctx.reporter.notice("info", f"deAPI answers again, after {for_words(lasted)} of server errors "
                                        f"({tries} tries)")


async def acquire(ctx: "RunContext", slot: int, v: Video, endpoint: str) -> None:
    def on_wait(seconds: float, reason: str) -> None:
        ctx.reporter.worker_changed(slot, Activity.WAITING_RATE, v, detail=reason, until=ctx.clock() + seconds)
        if "daily" in reason:
            ctx.reporter.notice_once(f"{endpoint}: {reason}; waiting (the session is saved: quitting and resuming later is safe)")

    await ctx.limiter.acquire(endpoint, on_wait)


def rate_limited(ctx: "RunContext", v: Video, endpoint: str, err: DeapiError) -> None:
    """A 429: pause the bucket for every worker; lower concurrency if they persist."""
    pause = ctx.limiter.on_429(endpoint, err.retry_after, err.rate_limit_type)
    ctx.pacing.on_trouble(f"a 429 from {endpoint}")
    err.message = f"{err.message} ({endpoint} paused {pause:.0f} s)"
    ctx.reporter.error_logged(v, err, will_retry=True)


# -- submit ----------------------------------------------------------------------------
def gave_up(v: Video, max_attempts: int, what: str = "") -> DeapiError:
    """The failure of a video (or of `what`, e.g. one chunk) whose submits are used up: its last
    error's category, retryable on a later run."""
    return DeapiError(Category(v.category) if v.category else Category.SERVER,
                      f"{what}gave up after {max_attempts} attempts: {v.message or 'no answer'}", retryable=True)


async def submit_turn(ctx: "RunContext", slot: int, v: Video) -> bool:
    """Wait for the rate limit's next submit; False when a stop came meanwhile (nothing was sent)."""
    return await ctx.brakes.unless_stopping(lambda: acquire(ctx, slot, v, "submit"))


async def submit(ctx: "RunContext", slot: int, v: Video) -> bool:
    """Get `v` a request id, durably. False when the video ended (failed, or in doubt) or must
    wait for another run.

    The money rule: a submit whose request may have reached deAPI and whose answer was lost is
    never sent again by this code; the video ends in doubt (possibly paid) for the user to decide.
    """
    s = ctx.settings
    if s.captions == "only":
        # Never reached through take_captions; a guard, since this is where money is spent.
        await fail(ctx, v, DeapiError(Category.CAPTIONS, "not submitted: --captions only never pays deAPI",
                                      retryable=True))
        return False
    if not fetchable(v.url):
        # deAPI fetches only the hosts it documents: refusing here costs no request.
        await fail(ctx, v, DeapiError(Category.INPUT, "deAPI fetches only YouTube, X, Twitch VOD, Kick and TikTok "
                                      "links; this one is elsewhere", retryable=False))
        return False
    while True:
        if ctx.brakes.stopping:
            if v.state is not VideoState.QUEUED:
                await ctx.record(v, state=VideoState.QUEUED)
            return False
        if ctx.queue.attempts_left(v) <= 0:
            await fail(ctx, v, gave_up(v, s.max_attempts))
            return False
        if ctx.brakes.paused:
            ctx.reporter.worker_changed(slot, Activity.PAUSED, v, detail="submitting paused")
            await ctx.brakes.wait_unpaused()
            continue
        probe = False
        if ctx.outage.long:
            if not await hold_submits(ctx, slot, v):
                continue   # deAPI still down (or a stop came): nothing was sent
            probe = True
        if ctx.budget.wants_quote(v):
            await quote(ctx, v)
        refusal = ctx.budget.refusal(v)
        if refusal:
            # Over the balance or --max-cost: no more submits, saying why; jobs in flight go on.
            category = Category.BUDGET if "max-cost" in refusal else Category.BALANCE
            ctx.brakes.halt(DeapiError(category, refusal))
            continue
        if ctx.limiter.shared and ctx.polls.waiting:
            # One bucket for both: a status call for a job about to end frees a slot and a
            # transcript, a submit only adds one more job to wait for. Status calls go first.
            ctx.reporter.worker_changed(slot, Activity.WAITING_RATE, v, detail="status checks first")
            with anyio.move_on_after(STATUS_FIRST_MAX):
                await ctx.polls.wait_idle()
        gate = ctx.pacing.submit_gate
        token = await gate.enter()
        try:
            if not await submit_turn(ctx, slot, v):
                continue   # a stop came while waiting for the rate limit: nothing was sent
            if ctx.outage.long and not probe:
                continue   # deAPI went down while this one waited its turn: held at the top
            ctx.reporter.worker_changed(slot, Activity.SUBMITTING, v)
            # Intent first: if we die before the answer is recorded, resume knows this
            # video is in doubt (possibly paid) instead of silently paying again.
            try:
                await ctx.record(v, state=VideoState.SUBMITTING, attempts=v.attempts + 1)
            except anyio.get_cancelled_exc_class():
                # Quit while the intent was reaching the disk: nothing was sent. Taken back in
                # memory, the engine's closing checkpoint saves it, so a resume does not flag
                # the video as possibly paid (a crash here still leaves the safe, flagged side).
                ctx.session.record_nowait(v, state=VideoState.QUEUED, attempts=v.attempts - 1)
                raise
            ctx.budget.reserve(v)
            started = ctx.clock()
            # Once on the wire, the answer is awaited and recorded even if the user quits meanwhile
            # (the engine cuts the wait SUBMIT_ANSWER_GRACE after a quit; then it is in doubt).
            with anyio.CancelScope(shield=True):
                request_id, err = await _send(ctx, v)
                if request_id:
                    await ctx.record(v, state=VideoState.SUBMITTED, request_id=request_id,
                                     submitted_at=time.time(), category="", message="",
                                     method=Method.DEAPI_URL.value)
                    ctx.pacing.observe_submit_latency(ctx.clock() - started, ctx.limiter.submit_per_minute())
                    ctx.pacing.on_success()
                    answered(ctx)
                    return True
                assert err is not None
                if err.maybe_created:
                    if err.category is Category.SERVER:   # a 502/504: counted in an outage too
                        server_error(ctx, v, err, log=False)
                    await in_doubt(ctx, v, err)
                    return False
        finally:
            gate.leave(token)
        await _submit_failed(ctx, slot, v, err)
        if v.state is VideoState.FAILED or ctx.brakes.halted is not None:
            return False


async def quote(ctx: "RunContext", v: Video) -> None:
    """deAPI's price for `v`, whose length is not known, so --max-cost is checked against what
    this job will cost rather than a typical length. A quote that cannot be had is said once;
    the typical length then stands in. Costs one price call, never a job."""
    o = job_options(host_of(v.url), ctx.settings)
    try:
        price = await ctx.client.price(model=o.model, include_ts=o.include_ts, source_url=v.url, lang=o.lang,
                                       ts_level=o.ts_level)
    except DeapiError as err:
        ctx.budget.quoted(v, None)
        ctx.reporter.notice_once(
            f"deAPI's price for a video of unknown length could not be read ({err.message}): --max-cost reckons "
            f"such videos at {ctx.budget.typical_minutes:.0f} min each", "warning")
        return
    ctx.budget.quoted(v, price)


async def _send(ctx: "RunContext", v: Video) -> tuple[str, DeapiError | None]:
    """One submit on the wire: (request id, None) or ("", the failure). Its wait is registered
    with the run, which cuts it short only after a quit (then the answer is lost: in doubt)."""
    o = job_options(host_of(v.url), ctx.settings)   # the options the plan priced (TikTok: Ct2)
    wire = anyio.CancelScope(shield=True)
    ctx.on_wire.add(wire)
    try:
        with wire:
            return await ctx.client.submit(v.url, model=o.model, include_ts=o.include_ts, lang=o.lang,
                                           ts_level=o.ts_level), None
    except DeapiError as exc:
        return "", exc
    finally:
        ctx.on_wire.discard(wire)
    # Only reached when the run cut the wait (a quit): the request went, its answer did not come.
    err = DeapiError(Category.NETWORK, f"no answer within {SUBMIT_ANSWER_GRACE:g} s of quitting", retryable=True)
    err.maybe_created = True
    return "", err


async def in_doubt(ctx: "RunContext", v: Video, err: DeapiError) -> None:
    """The submit may have made a (paid) job whose id we will never learn: record it, say so,
    and never send it again unless the user asks (`--resubmit-in-doubt`, or the app's question)."""
    why = DeapiError(
        Category.IN_DOUBT,
        f"possibly paid: the submit reached deAPI but its answer was lost ({err.message}); not sent again "
        "so as not to pay twice (resubmit it with --resubmit-in-doubt if you accept that risk)",
        status=err.status, retryable=False)
    await ctx.record(v, state=VideoState.FAILED, category=why.category.value, message=why.message,
                     possibly_paid=True, retryable=False, finished_at=time.time())
    ctx.reporter.error_logged(v, why, will_retry=False)


async def wait_for_deapi(ctx: "RunContext", slot: int, v: Video, err: DeapiError) -> None:
    """A submit that never left this machine: back off (longer each time in a row), saying that
    deAPI is unreachable when it is dead from the start (a wrong address, deAPI down: said at the
    first refusal, since a new account's 1 submit/min would take minutes to say it) or after
    UNREACHABLE_AFTER in a row once it had answered (a blip of one or two stays quiet)."""
    ctx.unreachable += 1
    delay = backoff_delay(min(ctx.unreachable, 8), cap=300.0)
    unreachable = ctx.unreachable >= UNREACHABLE_AFTER or not ctx.reached
    if unreachable:
        ctx.reporter.notice_once(f"deAPI unreachable ({err.message}): retrying by itself until it answers; "
                                 "the session is saved, so quitting is safe")
    ctx.reporter.error_logged(v, err, will_retry=True)
    ctx.reporter.worker_changed(slot, Activity.BACKING_OFF, v, detail="deAPI unreachable"
                                if unreachable else _short(err), until=ctx.clock() + delay)
    await ctx.brakes.unless_stopping(lambda: anyio.sleep(delay))


PROBE_CAP = 120.0   # seconds: the longest wait between two probes of a deAPI that is down


async def hold_submits(ctx: "RunContext", slot: int, v: Video) -> bool:
    """deAPI has answered server errors again and again (`outage.long`): hold this submit.

    One held worker at a time probes, after a growing back-off: the balance route first (free
    and unlimited); if it answers, True, and this worker sends its own submit as the next
    probe. The others wait for the outage to end (a poll or a probe answered). False: still
    down, or a stop came; the caller loops."""
    outage = ctx.outage
    if outage.probing:
        ctx.reporter.worker_changed(slot, Activity.BACKING_OFF, v, detail=outage.words(),
                                    until=outage.next_try())
        await ctx.brakes.unless_stopping(lambda: outage.wait_over(5.0))
        return False
    outage.probing = True
    try:
        outage.probes += 1
        delay = backoff_delay(min(outage.probes, 8), cap=PROBE_CAP)
        outage.retry_at(slot, ctx.clock() + delay)
        ctx.reporter.worker_changed(slot, Activity.BACKING_OFF, v, detail=outage.words(),
                                    until=ctx.clock() + delay)
        if not await ctx.brakes.unless_stopping(lambda: outage.wait_over(delay)):
            return False
        if not outage.long:
            return True   # over meanwhile (a poll answered)
        try:
            await ctx.client.balance()
        except DeapiError as err:
            if err.category is Category.SERVER:
                outage.failed(err.status)
            return False
        return True   # the balance answers: this submit is the next probe
    finally:
        outage.retried(slot)
        outage.probing = False


async def _submit_failed(ctx: "RunContext", slot: int, v: Video, err: DeapiError) -> None:
    """A submit that made no job (deAPI refused it, or it never left): retry, pause or end the video."""
    cat = err.category
    if cat is Category.RATE_LIMITED:
        # A 429 creates no job and is not an attempt.
        await ctx.record(v, state=VideoState.QUEUED, attempts=v.attempts - 1, durable=False)
        rate_limited(ctx, v, "submit", err)
        return
    if cat in (Category.AUTH, Category.BALANCE):
        await ctx.record(v, state=VideoState.QUEUED, attempts=v.attempts - 1)
        ctx.reporter.error_logged(v, err, will_retry=False)
        ctx.brakes.halt(err)
        return
    if cat is Category.NETWORK:
        # Never left (connection refused, DNS, TLS): nothing was sent, so it is no attempt.
        # A dead API must not use up every video's attempts: wait for it to answer again.
        await ctx.record(v, state=VideoState.QUEUED, attempts=v.attempts - 1, category=cat.value,
                         message=err.message, durable=False)
        await wait_for_deapi(ctx, slot, v, err)
        return
    if cat is Category.SERVER and err.retryable and (ctx.outage.long or ctx.queue.attempts_left(v) > 0):
        ctx.pacing.on_trouble(f"a {err.status or 'server'} error")
        server_error(ctx, v, err)
        # Once deAPI has been down for a while (and this answer made no job), it is not the
        # video's fault: no attempt, and the submit loop holds it until deAPI answers again.
        held = {"attempts": v.attempts - 1} if ctx.outage.long else {}
        await ctx.record(v, state=VideoState.QUEUED, category=cat.value, message=err.message, **held)
        if not held:
            attempt = ctx.settings.max_attempts - ctx.queue.attempts_left(v)
            await ctx.brakes.unless_stopping(lambda: backoff(ctx, slot, v, attempt, err))
        return
    if err.retryable and ctx.queue.attempts_left(v) > 0:
        ctx.reporter.error_logged(v, err, will_retry=True)
        attempt = ctx.settings.max_attempts - ctx.queue.attempts_left(v)
        await ctx.brakes.unless_stopping(lambda: backoff(ctx, slot, v, attempt, err))
        return
    ctx.reporter.error_logged(v, err, will_retry=False)
    await fail(ctx, v, err)


# -- follow ----------------------------------------------------------------------------
async def follow(ctx: "RunContext", slot: int, v: Video, request_id: str = "",
                 submitted_at: float | None = None) -> JobStatus | None:
    """Poll `v`'s job (or, for an upload's chunk, the job `request_id` submitted at wall time
    `submitted_at`) until it ends. None when the video ended otherwise or the run stops."""
    rid = request_id or v.request_id
    submitted_at = v.submitted_at if submitted_at is None else submitted_at
    since_submit = max(0.0, time.time() - submitted_at) if submitted_at else 0.0
    clock = JobClock(submitted=ctx.clock() - since_submit)
    ctx.pacing.job_started(v.duration)
    # Measured from when this run starts following: a job re-attached a day later gets a full wait.
    deadline = ctx.clock() + ctx.settings.wait_limit
    transient = 0
    progress: float | None = None
    ctx.following += 1
    try:
        while True:
            now = ctx.clock()
            delay = ctx.planner.next_delay(clock, now, duration=v.duration)
            if now >= deadline:
                err = DeapiError(Category.TIMEOUT,
                                 f"still not done after {ctx.settings.wait_limit / 60:.0f} min; the job is kept "
                                 "and a resume polls it again", retryable=True, request_id=rid)
                ctx.reporter.error_logged(v, err, will_retry=False)
                await fail(ctx, v, err)
                return None
            delay = min(delay, max(0.0, deadline - now))
            if clock.held:
                # Its first look waits for the scouts' progress (shared limits, fewer than three
                # jobs done): planned again as soon as the planner learns something.
                ctx.reporter.worker_changed(slot, Activity.TRANSCRIBING, v, progress=progress,
                                            detail="waiting for the first jobs' progress", until=now + delay)
                news = ctx.planner_news
                with anyio.move_on_after(delay):
                    await news.wait()
                continue
            ctx.reporter.worker_changed(slot, Activity.TRANSCRIBING, v, progress=progress,
                       detail=f"next check in {delay:.0f} s", until=now + delay)
            await anyio.sleep(delay)
            # The budget goes to the jobs due first (those predicted to finish), at its pace.
            # Under shared limits submits wait for due status calls (see `submit`), so the
            # gate need not leave the submits' share of the bucket: the limiter holds the rest.
            await ctx.polls.turn(now + delay, lambda: status_budget(ctx, submit_demand=0.0 if ctx.limiter.shared
                                                                      else None))
            await acquire(ctx, slot, v, "status")
            # Our own wait past the planned look (the gate, the limiter, a late wake-up): not
            # deAPI's time. Left in, it would read as slower jobs, aim the next looks later and
            # raise auto's level (Little's law) or lower it (queueing): more lag either way.
            held = max(0.0, ctx.clock() - (now + delay))
            ctx.reporter.worker_changed(slot, Activity.TRANSCRIBING, v, progress=progress, detail="checking")
            try:
                job = await ctx.client.job(rid)
            except DeapiError as err:
                err.request_id = rid
                if err.category is Category.RATE_LIMITED:
                    rate_limited(ctx, v, "status", err)
                    continue
                if err.category is Category.AUTH:
                    ctx.reporter.error_logged(v, err, will_retry=False)
                    ctx.brakes.halt(err)
                    return None   # stays submitted: a resume with a good key re-attaches
                if err.retryable:
                    transient += 1
                    ctx.pacing.on_trouble(f"a {err.status or err.category.value} error")
                    if err.category is Category.SERVER:
                        server_error(ctx, v, err)
                    else:
                        ctx.reporter.error_logged(v, err, will_retry=True)
                    await backoff(ctx, slot, v, transient, err)
                    continue
                ctx.reporter.error_logged(v, err, will_retry=False)
                await fail(ctx, v, err)
                return None
            transient = 0
            answered(ctx)
            clock.observe(ctx.clock(), job.progress)
            if not job.terminal and ctx.planner.forecast(clock, v.duration):
                ctx.planner_learned()
            progress = job.progress
            ctx.session.record_nowait(v, polls=v.polls + 1)
            if job.terminal:
                if job.status == "done":
                    took = max(ctx.clock() - clock.submitted - held, 1e-3)
                    ctx.planner.learn(took, v.duration, clock)
                    ctx.planner_learned()
                    ctx.pacing.job_done(took, v.duration, None if clock.blind else clock.polls)
                return job
            if v.state is not VideoState.TRANSCRIBING:
                await ctx.record(v, state=VideoState.TRANSCRIBING, durable=False)
    finally:
        ctx.following -= 1


def status_budget(ctx: "RunContext", *, submit_demand: float | None = None) -> float:
    """Status calls per minute to plan with; see `polling.status_horizon` for the day's share
    and `RateLimiter.status_budget_per_minute` for `submit_demand`."""
    lim = ctx.limiter
    horizon = status_horizon(
        status_left=lim.daily_remaining("status"), submits_left=lim.daily_remaining("submit"),
        queued=len(ctx.queue), in_flight=ctx.following,
        submit_per_minute=lim.submit_per_minute(), expected=ctx.planner.expected(None))
    return lim.status_budget_per_minute(submit_demand, horizon=horizon)


# -- fetch and write -------------------------------------------------------------------
async def fetch_transcript(ctx: "RunContext", slot: int, v: Video, job: JobStatus):
    """The transcript of a done job (`job.request_id`), with retries and fresh links for expired
    ones; None after failing the video (saying why)."""
    s = ctx.settings
    rid = job.request_id
    for attempt in range(1, FETCH_TRIES + 1):
        ctx.reporter.worker_changed(slot, Activity.DOWNLOADING, v)
        try:
            return await ctx.client.fetch_result(job, need_segments=bool({"srt", "vtt"} & set(s.formats)))
        except DeapiError as err:
            err.request_id = rid
            if attempt == FETCH_TRIES or not err.retryable:
                if v.key in ctx.queue.refetch and err.category is Category.RESULT_EXPIRED:
                    err = DeapiError(Category.RESULT_EXPIRED, REFETCH_EXPIRED, retryable=False, request_id=rid)
                ctx.reporter.error_logged(v, err, will_retry=False)
                await fail(ctx, v, err)
                return None
            ctx.reporter.error_logged(v, err, will_retry=True)
            if err.category is Category.RESULT_EXPIRED:
                # The link expired: the job itself holds a fresh one.
                try:
                    await acquire(ctx, slot, v, "status")
                    job = await ctx.client.job(rid)
                except DeapiError as again:
                    err = again
                else:
                    continue
            if err.category is Category.RATE_LIMITED:
                rate_limited(ctx, v, "status", err)
                continue
            await backoff(ctx, slot, v, attempt, err)
    return None


async def finish(ctx: "RunContext", slot: int, v: Video, job: JobStatus) -> None:
    s = ctx.settings
    await ctx.record(v, state=VideoState.DOWNLOADING, durable=False)
    transcript = await fetch_transcript(ctx, slot, v, job)
    if transcript is None:
        return
    ctx.reporter.worker_changed(slot, Activity.WRITING, v)
    try:
        outputs = await anyio.to_thread.run_sync(
            write_outputs, Path(s.output_dir), v, transcript, tuple(s.formats), s.template)
    except ValueError as exc:
        # deAPI's result cannot give what was asked (e.g. srt without segments): not the disk's fault.
        err = DeapiError(Category.RESULT, f"the result cannot be written as asked: {exc}", retryable=True,
                         request_id=v.request_id)
        ctx.reporter.error_logged(v, err, will_retry=False)
        await fail(ctx, v, err, cost=_cost(ctx, v, job))
        ctx.queue.counted.discard(v.key)
        return
    except OSError as exc:
        err = DeapiError(Category.DISK, f"could not write the transcript: {exc}", retryable=True,
                         request_id=v.request_id)
        ctx.reporter.error_logged(v, err, will_retry=False)
        await fail(ctx, v, err, cost=_cost(ctx, v, job))   # the request id stays: a resume fetches it again, unpaid
        ctx.queue.counted.discard(v.key)
        ctx.brakes.halt(err)   # every further video would be paid for and then lost the same way
        return
    cost = _cost(ctx, v, job)
    ctx.queue.refetch.discard(v.key)
    ctx.queue.counted.discard(v.key)
    await ctx.record(v, state=VideoState.DONE, outputs=outputs, finished_at=time.time(),
                     category="", message="", retryable=False, cost=cost)
    ctx.throughput.completed(ctx.clock())
    ctx.pacing.on_success()


def _cost(ctx: "RunContext", v: Video, job: JobStatus) -> float:
    """`v`'s cost once this job's result is in hand: a done video fetched again (its files were
    lost), or one whose files could not be written last time, was already counted as paid."""
    if v.key in ctx.queue.refetch or v.key in ctx.queue.counted:
        return v.cost
    return v.cost + paid(ctx, v, job)


def job_cost(job: JobStatus, v: Video) -> float:
    """What one finished job cost: deAPI's own price when it says, else the documented estimate."""
    if job.price is not None:
        return job.price
    return estimate_price(v.duration) or 0.0


def paid(ctx: "RunContext", v: Video, job: JobStatus) -> float:
    """The cost of `v`'s finished job, counted in the run's budget; returns it."""
    amount = job_cost(job, v)
    ctx.budget.paid(v, amount)
    return amount


def host_of(url: str) -> str:
    try:
        return normalize(url).host
    except UrlError:
        return "other"


def fetchable(url: str) -> bool:
    try:
        return normalize(url).supported
    except UrlError:
        return False


def _short(err: DeapiError) -> str:
    if err.status:
        return f"a {err.status}"
    return (err.error_reason or err.category.value).lower().replace("_", " ")
