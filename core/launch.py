"""How a run is wired, for every face: a prepared session -> what the user is told -> the engine.

`prepare.py` turns a batch (or a plan, or a saved session) into a `Session`; this module is
the one step after it that every face shares. `open_run` (headless, the service) opens the
session, checks the key and reads the balance, then `begin_run` (the app's own runs call it
directly, with the balance it read): the balance, the face's notices, the over-balance
warning, the opening notices (problems found while preparing, rejected and duplicate lines,
where the session is), then the engine built on the session. The faces only start it and
render its events.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from typing import Any, Awaitable, Callable

import anyio

from .deapi.client import DeapiClient
from .errors import Category, DeapiError
from .events import EventSink, Notice
from .model import VideoState
from .plan import estimate_video
from .run.engine import Engine
from .store.session import Session, discard_session

EngineFactory = Callable[..., Any]   # Engine's signature: (session, *, api_key, sink)
events_log = logging.getLogger("bulk_transcribe.events")   # the faces' --verbose / --log turn it on


def logged(sink: EventSink) -> EventSink:
    """`sink`, with each event also written to the debug log when one is on (else `sink` itself)."""
    if not events_log.isEnabledFor(logging.DEBUG):
        return sink
    def tee(event: Any) -> None:   # ASCII-only JSON: a title's escape sequences never replay from the file
        events_log.debug("%s %s", type(event).__name__, json.dumps(dataclasses.asdict(event), default=str))
        sink(event)

    return tee


def opening_notices(session: Session, *, resumed: bool) -> list[Notice]:
    """What a face says before the first event: warnings found while opening or preparing, the
    rejected and duplicate lines of a new session, and which session runs with what done."""
    now = time.time()
    out = [Notice(now, "warning", w) for w in session.warnings]
    if not resumed:
        for r in session.rejected:
            level = "info" if r.category == "duplicate" else "warning"
            out.append(Notice(now, level, f"line {r.line} skipped ({r.category}): {r.reason}", line=r.line,
                              category=r.category))
    doubtful = sum(1 for v in session.videos if v.category == Category.IN_DOUBT.value and v.state is VideoState.FAILED)
    if doubtful:
        out.append(Notice(now, "warning", f"{doubtful} video(s) in doubt: an earlier submit may have been paid "
                                          "(its answer was lost); they are not sent again unless you ask "
                                          "(--resubmit-in-doubt)"))
    done = sum(1 for v in session.videos if v.state is VideoState.DONE)
    verb = "resuming" if resumed else "starting"
    out.append(Notice(now, "info", f"{verb} {session.path}: {done} of {len(session.videos)} done"))
    return out


def start_engine(session: Session, *, api_key: str, sink: EventSink, resumed: bool,
                 factory: EngineFactory | None = None, resubmit_in_doubt: bool = False,
                 balance: float | None = None, limiter: Any = None) -> Any:
    """Tell the face what it needs to know about `session`, then build its engine (not yet run).
    `resubmit_in_doubt` is the user's yes to paying again for videos in doubt (this run only);
    `balance` (USD, when the face read it) is guarded by the run's budget; `limiter` (the service's
    share of an account-wide limiter) replaces the engine's own. With a debug log on (`logged`),
    every event is written to it too."""
    sink = logged(sink)
    events_log.debug("session %s, settings %s", session.path, session.settings)
    for notice in opening_notices(session, resumed=resumed):
        sink(notice)
    if factory is not None:
        return factory(session, api_key=api_key, sink=sink)
    return Engine(session, api_key=api_key, sink=sink, resubmit_in_doubt=resubmit_in_doubt, balance=balance,
                  limiter=limiter)


class KeyRefused(Exception):
    """deAPI refused the key before anything was paid: a configuration error (exit 2)."""


async def check_key(settings: Any, api_key: str) -> float | None:
    """Check the key before anything is paid: KeyRefused on a 401. Returns the balance, or None
    when it could not be read for a passing reason (the run reports a real problem itself)."""
    async with DeapiClient(settings.api_base, api_key, timeout=15.0) as client:
        try:
            return await client.balance()
        except DeapiError as err:
            if err.category is Category.AUTH:
                raise KeyRefused(f"deAPI refused the key ({err.message}): check DEAPI_API_KEY") from err
            return None


def over_balance_notice(session: Any, balance: float) -> Notice | None:
    """A warning when the known durations alone would cost more than the balance (deAPI then
    refuses jobs, the engine stops submitting cleanly, and a resume after a top-up carries on)."""
    todo = [v for v in session.videos if not v.state.terminal]
    # Only a known duration has an estimate; skipping the others first keeps a resume of 100,000
    # videos of unknown length (--no-metadata) from parsing 100,000 URLs before its first request.
    estimate = sum(estimate_video(v.url, v.duration) or 0.0 for v in todo if v.duration is not None)
    if estimate <= balance:
        return None
    return Notice(0, "warning", f"estimated ${estimate:.2f} for {len(todo)} videos exceeds the balance "
                                f"${balance:.2f}: the run stops submitting when deAPI refuses; "
                                "`bulk-transcribe plan` shows the details")


async def open_run(prepare: Callable[[], Awaitable[tuple[Session, bool]]], api_key: str, settings: Any,
                   sink: EventSink, *, notices: tuple[Notice, ...] = (), resubmit_in_doubt: bool = False,
                   factory: EngineFactory | None = None, limiter: Any = None) -> Any:
    """Everything a face does before a run, in the order that protects the user: the session (and
    its lock) first, so a busy session is refused at once; then the key and the balance; then the
    notices; then the engine (returned, not yet run). Raises what `prepare` raises (BatchError,
    SessionError) and KeyRefused; a refused key leaves no new session behind."""
    session, resumed = await prepare()
    try:
        # `--captions only` without a key: nothing is paid, so deAPI is not asked anything.
        balance = await check_key(settings, api_key) if api_key or settings.captions != "only" else None
    except KeyRefused:
        await anyio.to_thread.run_sync(session.close)
        if not resumed:   # the next run starts afresh
            await anyio.to_thread.run_sync(discard_session, session.path)
        raise
    return begin_run(session, api_key=api_key, sink=sink, resumed=resumed, balance=balance, notices=notices,
                     factory=factory, resubmit_in_doubt=resubmit_in_doubt, limiter=limiter)


def begin_run(session: Session, *, api_key: str, sink: EventSink, resumed: bool, balance: float | None,
              notices: tuple[Notice, ...] | list[Notice] = (), factory: EngineFactory | None = None,
              resubmit_in_doubt: bool = False, limiter: Any = None) -> Any:
    """The step every face takes once its session is ready and the balance read (None: not
    known): the balance, the face's own `notices`, a warning when the known durations cost more
    than the balance, then `start_engine` (its opening notices, the engine; returned, not run)."""
    if balance is not None:
        sink(Notice(0, "info", f"deAPI balance: ${balance:.2f}"))
    for notice in notices:
        sink(notice)
    if balance is not None and (warning := over_balance_notice(session, balance)) is not None:
        sink(warning)
    return start_engine(session, api_key=api_key, sink=sink, resumed=resumed, factory=factory,
                        resubmit_in_doubt=resubmit_in_doubt, balance=balance, limiter=limiter)


async def read_balance(settings: Any, api_key: str) -> float | None:
    """The account's balance in USD for the run's spending guard, or None when it cannot be read
    now: `check_key`, with a refused key left for the run to report (it halts at its first submit)."""
    try:
        return await check_key(settings, api_key)
    except KeyRefused:
        return None
