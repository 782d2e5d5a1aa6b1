"""What each subcommand does: headless runs, the demo, the plan, and opening the app.

The headless runs drive the same Engine the app drives; the printer is only a sink.
Ctrl-C, SIGTERM or SIGHUP once: stop, save the session and the report, say how to resume,
exit 130, 143 or 129 (signals.py). Twice: exit at once (the journal already holds every
request id, so nothing is lost either way).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import shutil
import signal
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable

import anyio

from ..core.config import changes_notice, load_settings, resolve_api_key, resume_settings
from ..core.errors import SessionError
from ..core.events import Notice
from ..core.launch import KeyRefused, open_run
from ..core.paths import session_path_for
from ..core.plan import build_plan
from ..core.prepare import prepare_session
from ..core.sanitize import json_text
from ..core.service.spawn import ENV_NO_SERVICE, service_disabled
from ..core.settings import Settings
from ..core.simulator.demo import demo_batch_path, demo_session_path, demo_settings, is_demo_session, wire_demo
from ..core.sources.batch import BatchError, read_batch, read_batch_text
from ..core.store.session import Session
from . import signals
from .headless import HeadlessPrinter
from .options import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    mouse_wanted,
    need_key,
    need_terminal,
    overrides,
)
from .remote import run_in_service
from .text import format_plan_table, plan_rows_json


def _exit_code(finished) -> int:
    if finished is None or finished.failed or finished.remaining or finished.rejected:
        return EXIT_FAILED
    return EXIT_OK


def drive(prepare: Callable[[], Awaitable[tuple[Session, bool]]], key: str, settings: Settings, *,
          json_lines: bool, on_ready: Callable[[Session], None] | None = None, resubmit_in_doubt: bool = False,
          notices: tuple[Notice, ...] = ()) -> int:
    """Prepare a session, run the engine on it headless, handle signals; returns the exit code.
    `notices` are said once the session is ready (e.g. the settings a resume changed).

    Ctrl-C, SIGTERM and SIGHUP stop the run as a quit does (the session saved, a submit on the
    wire answered first) and exit with 128 + the signal's number (see signals.py)."""
    printer = HeadlessPrinter(json_lines=json_lines)
    state: dict[str, Any] = {"signal": None, "finished": None, "engine": None, "session": None, "usage": None}

    async def run() -> None:
        # The session (and its lock) first: a second process on a busy session is refused at once,
        # without waiting for deAPI; the key and the balance are checked after (core/launch.py).
        try:
            engine = await open_run(prepare, key, settings, printer, notices=notices,
                                    resubmit_in_doubt=resubmit_in_doubt)
        except (BatchError, SessionError, KeyRefused) as exc:
            raise UsageError(str(exc)) from exc
        state["session"] = engine.session
        state["engine"] = engine
        if on_ready:
            on_ready(engine.session)
        try:
            state["finished"] = await engine.run()
        except SessionError as exc:   # the final save failed: say so plainly, never a traceback
            printer(Notice(0, "error", f"{exc} (the journal beside it still holds every request id)"))

    async def watch(run_scope: anyio.CancelScope) -> None:
        with anyio.open_signal_receiver(*signals.STOPPING) as received:
            async for signum in received:
                if state["signal"] is not None:
                    os._exit(signals.exit_code(state["signal"]))   # a second one: at once
                state["signal"] = signum
                signals.leave_dead_terminal()   # SIGHUP: nobody to tell, but the save goes on
                again = "Ctrl-C" if signum == signal.SIGINT else "the same signal"
                printer(Notice(0, "warning", f"interrupted by {signals.name(signum)}: saving the session "
                                             f"({again} again to quit at once)"))
                run_scope.cancel()

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            run_scope = anyio.CancelScope()
            tg.start_soon(watch, run_scope)
            with run_scope:
                try:
                    await run()
                except UsageError as exc:   # raised after the task group, not inside an exception group
                    state["usage"] = exc
            if state["signal"] is not None:
                say_interrupted(printer, state["signal"], state["engine"], state["session"])
            tg.cancel_scope.cancel()

    anyio.run(main)
    if state["usage"] is not None:
        raise state["usage"]
    if state["signal"] is not None:
        return signals.exit_code(state["signal"])
    return _exit_code(state["finished"])


def say_interrupted(printer: HeadlessPrinter, signum: int, engine: Any, session: Session | None) -> None:
    """After a signal stopped the run: the summary (when the engine ran), then one line that
    says the run was interrupted, that the session is saved and how to carry on."""
    code = signals.exit_code(signum)
    if engine is None:
        where = f" {session.path}" if session is not None else ""
        printer(Notice(0, "warning", f"interrupted by {signals.name(signum)} before the run began: nothing was "
                                     f"submitted; run the same command again to start{where} (exit {code})"))
        return
    printer(dataclasses.replace(engine.summary(), stopped=True))   # "Stopped", not "Finished"
    path = shlex.quote(str(session.path)) if session is not None else "SESSION"
    printer(Notice(0, "warning", f"interrupted by {signals.name(signum)}: the session is saved; resume with: "
                                 f"bulk-transcribe resume {path} --headless (exit {code})"))


def check_batch(batch_path: str) -> None:
    """Refuse, before anything is asked of deAPI, a batch that is missing, a folder or not text
    (the message names the line with the NUL or undecodable byte). Raises UsageError."""
    try:
        read_batch_text(batch_path)   # bytes only: the URLs are parsed once, by whoever runs the batch
    except BatchError as exc:
        raise UsageError(str(exc)) from exc


def require_urls(batch_path: str) -> None:
    """Refuse a batch file with no URL lines at all (only comments or blank lines): exit 2 saying
    so, instead of a run or plan of nothing that exits 0 without a word."""
    try:
        batch = read_batch(batch_path)
    except BatchError as exc:
        raise UsageError(str(exc)) from exc
    if not batch.lines:
        raise UsageError(f"the batch {batch_path} holds no URLs: add one URL per line (lines starting with # "
                         "are comments), then run it again")


def run_headless(args: argparse.Namespace) -> int:
    check_batch(args.batch)   # a folder, binary data, a NUL byte: said with its line, before deAPI is asked anything
    session_file = Path(args.session) if args.session else session_path_for(args.batch)
    if not session_file.exists():   # an emptied batch with a session still resumes that session's videos
        require_urls(args.batch)
    if session_file.exists():   # the same batch again: a resume, with the session's own settings
        settings, notices = _open_session_settings(str(session_file), args)
    else:
        settings, notices = load_settings(overrides(args)), ()
    key, _ = need_key(settings)
    if not service_disabled():   # the batch runs in the service, so it outlives this terminal
        return run_in_service(settings=settings, key=key, session_path=session_file, batch=args.batch,
                              json_lines=args.json, detach=getattr(args, "detach", False),
                              resubmit_in_doubt=args.resubmit_in_doubt, notices=notices)
    if getattr(args, "detach", False):
        raise UsageError(f"--detach needs the service, and {ENV_NO_SERVICE} is set: unset it, or run in the foreground")
    return drive(lambda: prepare_session(args.batch, settings, session_path=args.session), key, settings,
                 json_lines=args.json, resubmit_in_doubt=args.resubmit_in_doubt, notices=notices)


def _open_session_settings(path: str, args: argparse.Namespace) -> tuple[Settings, tuple[Notice, ...]]:
    """A saved session's settings with this command line's overrides on top, and the notice
    that says what they changed. Refused (SettingsError) when the session names another API
    host than the one in force, unless the flag names it (the demo's own simulator excepted)."""
    try:
        peek = Session.peek_settings(path)
    except SessionError as exc:
        raise UsageError(str(exc)) from exc
    settings, changes = resume_settings(peek, overrides(args), check_host=not is_demo_session(path))
    return settings, changes_notice(changes)


def resume_headless(args: argparse.Namespace) -> int:
    if not Path(args.session_file).is_file():
        raise UsageError(f"no session file at {args.session_file}")
    settings, notices = _open_session_settings(args.session_file, args)
    sim = None
    if is_demo_session(args.session_file):
        sim, settings, key = wire_demo(settings)
    else:
        key, _ = need_key(settings)
        if not service_disabled():
            return run_in_service(settings=settings, key=key, session_path=Path(args.session_file), batch=None,
                                  json_lines=args.json, detach=getattr(args, "detach", False),
                                  resubmit_in_doubt=args.resubmit_in_doubt, notices=notices)

    async def prepare() -> tuple[Session, bool]:
        session = Session.open(args.session_file)
        session.settings = settings
        return session, True

    try:
        return drive(prepare, key, settings, json_lines=args.json, resubmit_in_doubt=args.resubmit_in_doubt,
                     notices=notices)
    finally:
        if sim:
            sim.stop()


def run_demo(args: argparse.Namespace) -> int:
    if not args.headless:
        need_terminal("`bulk-transcribe demo --headless`")
    sim, base, key = wire_demo(demo_settings(""), fresh=args.fresh)
    try:
        settings = load_settings(overrides(args), base=base)
        session_path = Path(args.session) if args.session else demo_session_path()
        if args.fresh and session_path.exists():
            for p in session_path.parent.glob(session_path.name + "*"):
                p.unlink()
        if not args.headless:
            from .app import run_app  # Textual: loaded only by the commands that open the app
            return run_app(settings=settings, api_key=key, key_source="demo",
                           batch_path=str(demo_batch_path()), session_path=str(session_path), start=True,
                           demo=True, sim=sim, mouse=mouse_wanted(args))
        return drive(lambda: prepare_session(demo_batch_path(), settings, session_path=session_path),
                     key, settings, json_lines=args.json)
    finally:
        sim.stop()


def run_plan(args: argparse.Namespace) -> int:
    settings = load_settings(overrides(args))
    key, _ = resolve_api_key()
    require_urls(args.batch)   # missing, a folder, not text, no URLs: exit 2 before deAPI is asked the balance
    try:
        plan = anyio.run(lambda: build_plan(args.batch, settings, api_key=key))
    except BatchError as exc:
        raise UsageError(str(exc)) from exc
    if args.json:
        for row in plan_rows_json(plan):
            print(json_text(row))
    else:
        print(format_plan_table(plan, width=_terminal_width()))
    return EXIT_OK


def _terminal_width() -> int:
    """The terminal's width for a table on stdout (80 when it is a file or a pipe), within 60-200."""
    columns = shutil.get_terminal_size((80, 24)).columns if sys.stdout.isatty() else 80
    return min(max(columns, 60), 200)


def open_app(args: argparse.Namespace, resume: str | None = None) -> int:
    if not resume and getattr(args, "batch", None):
        check_batch(args.batch)   # a bad batch is said first, before the app opens (and asks deAPI the balance)
    need_terminal(f"`bulk-transcribe resume {resume} --headless`" if resume else "`bulk-transcribe run BATCH`")
    from .app import run_app  # Textual: loaded only by the commands that open the app

    key, where = resolve_api_key()
    if resume:
        settings, _ = _open_session_settings(resume, args)   # checked here: a bad flag exits 2 before the app
    else:
        settings = load_settings(overrides(args))
    # The app merges the flags into any session it resumes (and says what they changed).
    given = {k: v for k, v in overrides(args).items() if v is not None}
    return run_app(settings=settings, api_key=key, key_source=where, batch_path=getattr(args, "batch", None),
                   session_path=resume or getattr(args, "session", None), start=getattr(args, "start", False) or bool(resume),
                   demo=False, sim=None, overrides=given, mouse=mouse_wanted(args))
