"""What the service does for its faces: the methods of the protocol (a `server.Handler`).

    start   {batch?, session, resume, fresh?, settings, api_key, notices, resubmit_in_doubt, follow}
            -> {name, session}: prepare the session and check the key (errors: usage, busy),
            subscribe the caller when `follow`, then run the engine in the service. `fresh`
            with `resume`: the face has just created the session (the app's new batch): it runs
            as a new batch, and a refused key discards it, as in a run of the batch file
    list    {} -> [{name, state, session, total, done, failed, in_flight, cost, ...}]
    attach  {name, replay} -> {name, state, replayed}: the batch's recent events first (see
            batch.py), then its live events; a finished batch's replay ends with BatchFinished
    detach  {name} -> {}: no more events of that batch for this connection
    control {name, action} -> {...}: pause | resume | stop (graceful) | quit (cut short, saved)
            | retry | retry-permanent | resubmit-in-doubt | permanent-failures (-> {count, cost})
    shutdown {} -> {}: quit every batch (each saved, resumable), then the service exits

Reply error codes of its own: ``usage`` (the face's input or the session cannot be used; the
message says what to do), ``busy`` (that batch already runs here), ``no-such-batch``.

The API key arrives in `start` and goes to the batch's engine and its account's limiter
registry (as a digest); it is never written, logged, listed or sent back.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

import anyio
from anyio.abc import TaskGroup

from ..errors import SessionError
from ..events import Notice
from ..launch import KeyRefused, open_run
from ..prepare import prepare_session
from ..settings import Settings, SettingsError
from ..sources.batch import BatchError
from ..store.session import Session
from .accounts import Accounts
from .batch import Batch, BatchState
from .server import Connection, Request, RequestError

log = logging.getLogger(__name__)

USAGE, BUSY, NO_SUCH_BATCH = "usage", "busy", "no-such-batch"
ACTIONS = ("pause", "resume", "stop", "quit", "retry", "retry-permanent", "resubmit-in-doubt", "permanent-failures")

EngineHook = Callable[[Any], None]


class BatchService:
    """The handler. `tg` (the task group batches run in) and `publish` are set by the daemon."""

    def __init__(self, accounts: Accounts | None = None, *, engine_hook: EngineHook | None = None) -> None:
        self.accounts = accounts if accounts is not None else Accounts()
        self.engine_hook = engine_hook     # tests: time-scale an engine's planner
        self.batches: dict[str, Batch] = {}
        self.tg: TaskGroup | None = None
        self.publish: Callable[[str, Any], None] = lambda _name, _event: None

    @property
    def active(self) -> list[Batch]:
        return [b for b in self.batches.values() if b.active]

    async def handle(self, request: Request, connection: Connection) -> Any:
        method = getattr(self, "do_" + request.method.replace("-", "_"), None)
        if method is None:
            raise RequestError("unknown-method", f"the service has no method {request.method!r}")
        return await method(request.args, connection)

    # -- methods ------------------------------------------------------------------------
    async def do_start(self, args: dict[str, Any], conn: Connection) -> dict[str, Any]:
        try:
            session_path = Path(_text(args, "session"))
            settings = Settings.from_dict(args.get("settings") or {}).validate()
            # `--captions only` pays nothing and may come without a key (see launch.open_run).
            key = args.get("api_key") if settings.captions == "only" and args.get("api_key") == "" \
                else _text(args, "api_key")
        except (TypeError, ValueError, SettingsError) as exc:
            raise RequestError("bad-request", str(exc)) from None
        batch_path = args.get("batch")
        resume = bool(args.get("resume"))
        fresh = resume and bool(args.get("fresh"))
        if not resume and not isinstance(batch_path, str):
            raise RequestError("bad-request", "start needs a 'batch' file or 'resume'")
        name = session_path.stem
        known = self.batches.get(name)
        if known is not None and known.active:
            raise RequestError(BUSY, f"{name} is already running in the service: follow it with "
                                     f"`bulk-transcribe attach {name}`, stop it with `bulk-transcribe stop {name}`")
        batch = self.batches[name] = Batch(name, session_path, self.publish)
        if args.get("follow"):
            conn.subscribe(name)
        batch.share = self.accounts.share(settings, key)
        notices = tuple(Notice(0, "info", str(m)) for m in args.get("notices") or ())
        if batch.share.mismatch:
            notices += (Notice(0, "warning", batch.share.mismatch),)

        async def prepare() -> tuple[Session, bool]:
            if resume:
                session = await anyio.to_thread.run_sync(Session.open, session_path)
                session.settings = settings
                return session, not fresh
            return await prepare_session(batch_path, settings, session_path=session_path)

        try:
            batch.engine = await open_run(prepare, key, settings, batch.emit, notices=notices,
                                          resubmit_in_doubt=bool(args.get("resubmit_in_doubt")),
                                          limiter=batch.share)
        except (BatchError, SessionError, KeyRefused) as exc:
            batch.share.release()
            conn.unsubscribe(name)
            if self.batches.get(name) is batch:
                del self.batches[name]
            raise RequestError(USAGE, str(exc)) from None
        if self.engine_hook is not None:
            self.engine_hook(batch.engine)
        batch.state = BatchState.RUNNING
        assert self.tg is not None
        self.tg.start_soon(self._run, batch)
        return {"name": name, "session": str(session_path)}

    async def do_list(self, args: dict[str, Any], conn: Connection) -> list[dict[str, Any]]:
        return [b.describe() for b in sorted(self.batches.values(), key=lambda b: b.started_wall)]

    async def do_attach(self, args: dict[str, Any], conn: Connection) -> dict[str, Any]:
        batch = self._find(args)
        replayed = 0
        if args.get("replay", True):
            for event in batch.replay():   # queued before the reply, so they reach the face first
                conn.outbox.put_event(batch.name, event)
                replayed += 1
        if batch.active:
            conn.subscribe(batch.name)
        return {"name": batch.name, "state": batch.state.value, "replayed": replayed}

    async def do_detach(self, args: dict[str, Any], conn: Connection) -> dict[str, Any]:
        conn.unsubscribe(self._find(args).name)
        return {}

    async def do_control(self, args: dict[str, Any], conn: Connection) -> dict[str, Any]:
        batch = self._find(args)
        action = args.get("action")
        if action not in ACTIONS:
            raise RequestError("bad-request", f"action is one of {', '.join(ACTIONS)}")
        if not batch.active or batch.engine is None:
            raise RequestError(NO_SUCH_BATCH, f"{batch.name} is not running ({batch.state.value})")
        engine = batch.engine
        result: dict[str, Any] = {"name": batch.name}
        if action == "pause":
            engine.pause_submitting()
        elif action == "resume":
            engine.resume_submitting()
        elif action == "stop":
            engine.request_stop()
        elif action == "quit":
            self.quit(batch)
        elif action == "retry":
            result["queued"] = engine.retry_failed()
        elif action == "retry-permanent":
            result["queued"] = engine.retry_failed(permanent=True)
        elif action == "permanent-failures":
            result["count"], result["cost"] = engine.permanent_failures()
        else:
            result["queued"] = engine.resubmit_in_doubt()
        return result

    async def do_shutdown(self, args: dict[str, Any], conn: Connection) -> dict[str, Any]:
        self.shutdown_asked = True
        return {"batches": len(self.active)}

    shutdown_asked = False

    # -- running ------------------------------------------------------------------------
    def quit(self, batch: Batch) -> None:
        """Cut the batch short: the engine saves the session and the report, then stops."""
        batch.quit_asked = True
        batch.scope.cancel()

    async def quit_all(self) -> None:
        for batch in self.active:
            self.quit(batch)
        for batch in list(self.batches.values()):
            if batch.engine is not None and not batch.done.is_set():
                await batch.done.wait()

    async def _run(self, batch: Batch) -> None:
        engine = batch.engine
        try:
            with batch.scope:
                try:
                    await engine.run()
                except SessionError as exc:   # the final save failed: said plainly, never a traceback
                    batch.emit(Notice(0, "error", f"{exc} (the journal beside it still holds every request id)"))
                    batch.state = BatchState.BROKEN
                except Exception as exc:   # a bug: the batch is resumable, the service and others go on
                    log.exception("batch %s failed", batch.name)
                    batch.emit(Notice(0, "error", f"the service's run of this batch failed: {type(exc).__name__}: "
                                                  f"{exc}; its session is saved, run it again to resume"))
                    batch.state = BatchState.BROKEN
            if batch.finished is None:   # cut short: the summary the engine did not send
                batch.emit(engine.summary())
            if batch.state is BatchState.RUNNING:
                batch.state = BatchState.QUIT if batch.quit_asked else BatchState.FINISHED
        finally:
            batch.share.release()
            batch.engine = None   # the key and the session go with it
            batch.done.set()

    def _find(self, args: dict[str, Any]) -> Batch:
        name = args.get("name")
        if not isinstance(name, str) or not name:
            raise RequestError("bad-request", "name the batch ('name')")
        batch = self.batches.get(name)
        if batch is None:
            matches = [b for n, b in self.batches.items() if n.startswith(name)]
            if len(matches) == 1:
                return matches[0]
            known = ", ".join(sorted(self.batches)) or "none"
            raise RequestError(NO_SUCH_BATCH, f"no batch {name!r} in the service (batches: {known}); "
                                              "`bulk-transcribe ls` lists them")
        return batch


def _text(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"'{name}' must be a non-empty string")
    return value
