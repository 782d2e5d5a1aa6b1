"""The Textual app: screens around one engine, fed by one buffered event sink.

`build_app` is the only way in, for the command line and the tests alike. The engine calls
`app.sink(event)` as often as it likes; the sink only appends to a buffer. A timer drains the
buffer into the `RunView` and repaints at most `REPAINT_HZ` times a second, so a burst of
thousands of events costs one repaint, and a slow SSH link sees a bounded update rate.

Screens post messages (`messages.py`) and the app handles them: starting a batch (through
the plan when it is new), resuming or discarding a saved session, quitting. How a session is
made is core's (`prepare.py`), and how a run is wired too (`launch.py`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable

import anyio
from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from ..core.config import anchor_paths, changes_notice, resume_settings, save_settings
from ..core.errors import SessionError
from ..core.events import BatchFinished, Event, Notice
from ..core.launch import EngineFactory, begin_run, read_balance
from ..core.paths import session_path_for, sessions_dir
from ..core.plan import Plan, build_plan
from ..core.prepare import create_session_from_plan, prepare_session
from ..core.run.controls import RunControls
from ..core.sanitize import clean
from ..core.service import RequestFailed
from ..core.service.spawn import ServiceStartFailed
from ..core.settings import Settings, SettingsError
from ..core.simulator.demo import is_demo_session, wire_demo
from ..core.sources.batch import BatchError
from ..core.store.format import peek
from ..core.store.session import Session, discard_session, list_sessions
from . import signals
from .headless import summary_text
from .messages import (
    DiscardRequested,
    NewBatchRequested,
    PlanAccepted,
    PlanDismissed,
    QuitRequested,
    ResubmitInDoubtRequested,
    ResumeRequested,
    RunSteered,
    StartNowRequested,
    StartRequest,
    StartRequested,
)
from .run_view import RunView
from .screens.config import ConfigScreen
from .screens.modals import Confirm, HelpScreen, KeyPrompt, QuitChoice, confirm_quit
from .screens.plan import PlanScreen
from .screens.resume import ResumeScreen
from .screens.run import RunScreen
from .screens.summary import SummaryScreen
from .service_face import ServiceLink
from .widgets.key_input import ENTERED

PlanFactory = Callable[..., Awaitable[Plan]]   # core.plan.build_plan's signature
REPAINT_HZ = 4


@dataclass
class AppOptions:
    """Everything the app is started with (see `build_app`)."""

    settings: Settings = field(default_factory=Settings)
    api_key: str | None = None
    key_source: str = ""
    batch_path: str | None = None
    session_path: str | None = None
    start: bool = False
    demo: bool = False
    sim: Any = None
    engine_factory: EngineFactory | None = None
    plan_factory: PlanFactory | None = None
    clock: Callable[[], float] = time.monotonic
    testing: bool = False
    # The settings the command line gave expressly: they override a resumed session's own.
    overrides: dict[str, Any] = field(default_factory=dict)
    mouse: bool = False   # mouse tracking (off: keyboard only, nothing sent over SSH when the mouse moves)


class BulkTranscribeApp(App[int]):
    CSS_PATH = ["app.tcss", "config.tcss", "plan.tcss", "run.tcss"]
    TITLE = "bulk-transcribe"
    # The palette (ctrl+p) lists the screen's own actions (`get_system_commands`).
    ENABLE_COMMAND_PALETTE = True
    # `?` works on every screen, also while a field has focus (f1 too); ctrl+q is in the footer.
    BINDINGS = [
        Binding("question_mark,f1", "help", "help", key_display="?", priority=True),
        Binding("ctrl+q", "quit", "quit", key_display="^q", priority=True),
        Binding("ctrl+c", "help_quit", show=False, system=True),
        # Textual reads ctrl+z as a key (the terminal's own suspend is off in its raw mode): suspend
        # the process as a shell's job control expects; `fg` brings the app back.
        Binding("ctrl+z", "suspend_process", show=False, priority=True),
    ]

    def __init__(self, options: AppOptions) -> None:
        super().__init__()
        self.options = options
        self.settings = options.settings
        self.api_key, self.key_source = options.api_key, options.key_source
        self.batch_path = options.batch_path or ""
        self.session_path = options.session_path
        self.sim = options.sim             # a running simulator handle (demo); the caller stops it
        self._own_sim: Any = None          # one this app started, stopped on exit
        self.clock = options.clock
        self.testing = options.testing
        if options.testing:
            self.animation_level = "none"
        self.view = RunView()
        self._inbox: deque[Event] = deque()
        self.engine: RunControls | None = None
        self.run_title = ""
        self._engine_worker: Worker | None = None
        self._summary_shown = False
        self._notices_seen = 0
        self._planned: StartRequest | None = None   # the request behind the plan on screen
        self._quit_summary: BatchFinished | None = None   # the engine's summary when quit mid-run
        self._session_began: float | None = None   # wall time a resumed session was created
        self.stopped_by: int | None = None   # the signal (SIGTERM, SIGHUP) that stopped the app
        # Where batches run so they outlive the terminal; not the demo's (its simulator lives in
        # this process) nor a test's own engine.
        self.service = ServiceLink(self.sink, wanted=not (options.demo or options.engine_factory is not None))
        self.detached = False   # left the batch running in the service

    # -- the one sink -----------------------------------------------------------------
    def sink(self, event: Event) -> None:
        """Called by the engine for every event. Appending to a deque is all it does, so it
        is cheap and safe to call from any thread; the repaint timer does the rest."""
        self._inbox.append(event)

    def drain(self) -> int:
        """Fold every buffered event into the view; returns how many there were."""
        n = 0
        while self._inbox:
            self.view.apply(self._inbox.popleft())
            n += 1
        return n

    def repaint_now(self) -> None:
        """Drain and repaint immediately (the timer calls this; tests call it to settle)."""
        self.drain()
        self._toast_new_notices()
        for screen in self.screen_stack:
            if isinstance(screen, RunScreen):
                screen.repaint(self.view, self.clock())
        if self.view.finished is not None and not self._summary_shown and self._run_screen() is not None:
            self._show_summary(self.view.finished)

    def _toast_new_notices(self) -> None:
        """Warnings and errors from the engine (a daily limit, a refused key) also pop up;
        info notices only go to the notice line."""
        view = self.view
        new = min(view.notices_total - self._notices_seen, len(view.notices))
        self._notices_seen = view.notices_total
        for notice in list(view.notices)[len(view.notices) - new:] if new > 0 else ():
            if notice.level in ("warning", "error") and not notice.line:   # skipped lines go to the log
                self.notify(clean(notice.message, 300), severity=notice.level, timeout=8, markup=False)

    # -- the first screen ---------------------------------------------------------------
    def on_mount(self) -> None:
        self.set_interval(1 / REPAINT_HZ, self.repaint_now)
        if not self.is_headless:   # a real terminal (the tests' Pilot has none, and its own loop)
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(signum, self.stop_signalled, signum)
            signals.guard_job_control()
        if self.options.demo and self.sim is None:
            self._wire_demo()
        if self.options.start and self.batch_path:
            # prepare_session resumes the batch's session when it exists (new lines are added).
            self.start_new(StartRequest(self.settings, self.batch_path, self.api_key, self.key_source,
                                        save_key=False, remember=False, overrides=self.options.overrides), ask=False)
        elif self.session_path and Path(self.session_path).exists():
            self.resume_session(self.session_path)   # `resume SESSION`: its settings, the flags on top
        elif not self.batch_path and not self.options.demo and (unfinished := self.unfinished_sessions()):
            self.push_screen(ResumeScreen(unfinished))
        else:
            self.show_config()

    def _wire_demo(self, session: Session | None = None) -> None:
        """Point the app (or a reopened demo `session`) at the demo simulator, started here
        if the caller did not pass one."""
        settings = self._at_demo_sim(session.settings if session else self.settings)
        if session is not None:
            session.settings = settings
        else:
            self.settings = settings

    def _at_demo_sim(self, settings: Settings) -> Settings:
        """`settings` pointed at the demo simulator (started here when none runs yet); the demo's
        key when the app has none."""
        started = self.sim is None
        self.sim, settings, key = wire_demo(settings, self.sim)
        if started:
            self._own_sim = self.sim
        if not self.api_key:
            self.api_key, self.key_source = key, "demo"
        return settings

    def unfinished_sessions(self) -> list[Any]:
        """Sessions in the data folder with videos not yet done or failed (unreadable ones too,
        so the user sees them), and those the service runs wherever they are. Never raises."""
        found = [s for s in list_sessions(sessions_dir()) if not s.finished]
        listed = {str(Path(s.path).resolve()) for s in found}
        for batch in self.service.batches():
            if batch.get("session") not in listed:
                try:
                    found.insert(0, peek(Path(batch["session"])))
                except Exception:
                    pass
        return found

    def show_config(self) -> None:
        screen = ConfigScreen(settings=self.settings, api_key=self.api_key, key_source=self.key_source,
                              batch_path=self.batch_path, key_required=not self.options.demo)
        if self.screen_stack and len(self.screen_stack) > 1:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    # -- what the screens ask for -------------------------------------------------------
    @on(StartRequested)
    def _start_requested(self, message: StartRequested) -> None:
        self.start_new(message.request)

    @on(PlanAccepted)
    def _plan_accepted(self, message: PlanAccepted) -> None:
        if self._planned is not None:
            self.start_planned(self._planned, message.plan)

    @on(StartNowRequested)
    def _start_now(self) -> None:
        if self._planned is None:
            return
        if isinstance(self.screen, PlanScreen) and len(self.screen_stack) > 2:
            self.pop_screen()
        self.run_worker(self._prepare_and_run(self._planned), group="prepare", exclusive=True, exit_on_error=False)

    @on(PlanDismissed)
    def _plan_dismissed(self) -> None:
        """Escape on the plan: back to the config screen under it (or a new one after --start)."""
        if len(self.screen_stack) > 2:
            self.pop_screen()
        else:
            self.show_config()

    @on(ResumeRequested)
    def _resume_requested(self, message: ResumeRequested) -> None:
        self.resume_session(message.path)

    @on(DiscardRequested)
    def _discard_requested(self, message: DiscardRequested) -> None:
        if self.discard_session(message.path) and isinstance(self.screen, ResumeScreen):
            self.screen.session_discarded(message.path)

    @on(ResubmitInDoubtRequested)
    def _resubmit_in_doubt(self, message: ResubmitInDoubtRequested) -> None:
        self.resume_session(message.path, resubmit_in_doubt=True)

    @on(NewBatchRequested)
    def _new_batch_requested(self) -> None:
        self.show_config()

    @on(QuitRequested)
    def _quit_requested(self) -> None:
        self.request_quit()

    @on(RunSteered)
    def _run_steered(self) -> None:
        self.repaint_now()

    # -- new batches --------------------------------------------------------------------
    def start_new(self, request: StartRequest, *, ask: bool = True) -> None:
        """Remember settings if asked; then, for a batch whose session already exists, resume it
        (new lines are added); for a new batch, show the plan first. With `ask=False` (--start)
        the batch starts at once: expansion and lookups run beside the submits, and the run's
        spending guard watches the balance instead of the plan."""
        self.api_key, self.key_source = request.api_key, request.key_source
        self.settings = request.settings
        # The demo's settings point at a loopback simulator: never make them the user's defaults.
        if (request.remember or request.save_key) and not self.options.demo:
            try:
                # Only what the user typed or chose on the screen: never the environment's values.
                save_settings((request.overrides or {}) if request.remember else {},
                              request.api_key if request.save_key else None)
            except (OSError, SettingsError) as exc:
                self.notify(f"Settings not saved: {exc}", severity="warning", markup=False)
        # Folders typed on the screen are relative to here: the session stores them absolute.
        request = dataclasses.replace(request, settings=anchor_paths(request.settings))
        self.settings = request.settings
        if self.service.enabled and (name := self.service.running(self._session_file(request.batch_path))):
            self.attach_remote(name, Path(request.batch_path).name)   # it runs already: show it
            return
        if not ask or self._session_file(request.batch_path).exists():
            self.run_worker(self._prepare_and_run(request), group="prepare", exclusive=True, exit_on_error=False)
        else:
            self.show_plan(request, auto_start=not ask)

    def _session_file(self, batch_path: str) -> Path:
        return Path(self.session_path) if self.session_path else session_path_for(batch_path)

    def show_plan(self, request: StartRequest, *, auto_start: bool = False) -> PlanScreen:
        """Build the batch's plan on a plan screen over the current one."""
        factory = self.options.plan_factory or build_plan

        def build(on_progress: Callable[[str], None]) -> Awaitable[Plan]:
            return factory(request.batch_path, request.settings, api_key=request.api_key, on_progress=on_progress)

        self._planned = request
        screen = PlanScreen(build, title=Path(request.batch_path).name, auto_start=auto_start,
                            output_dir=request.settings.output_dir)
        self.push_screen(screen)
        return screen

    def start_planned(self, request: StartRequest, plan: Plan) -> None:
        """Create the session from the plan the user saw (no second expansion) and run it."""
        self.run_worker(self._create_and_run(request, plan), group="prepare", exclusive=True,
                        exit_on_error=False)

    async def _create_and_run(self, request: StartRequest, plan: Plan) -> None:
        try:
            session = await asyncio.to_thread(create_session_from_plan, plan, request.batch_path,
                                              request.settings, session_path=self.session_path or None)
        except SessionError as exc:   # SessionLocked, or a session made meanwhile: say so, stay
            self.notify(str(exc), severity="error", timeout=15, markup=False)
            if isinstance(self.screen, PlanScreen):
                self.screen.started = False
            return
        if isinstance(self.screen, PlanScreen) and len(self.screen_stack) > 2:
            self.pop_screen()   # the run replaces the config screen under the plan
        self.launch(session, resumed=False, balance=await self._balance())

    def _resumed_settings(self, saved: Settings, given: dict[str, Any] | None = None, *,
                          demo: bool = False) -> tuple[Settings, list[Notice]]:
        """A session's own settings with what the user set expressly on top (the command line's
        flags, then `given`: the fields changed on the config screen), and the notice that says
        what changed. Raises SettingsError (also for a session saved against another API host,
        except a `demo` one)."""
        settings, changes = resume_settings(saved, {**self.options.overrides, **(given or {})},
                                            check_host=not (demo or self.options.demo),
                                            host=self.settings.api_base)
        return settings, list(changes_notice(changes, at=time.time()))

    async def _prepare_and_run(self, request: StartRequest) -> None:
        screen = self.screen if isinstance(self.screen, ConfigScreen) else None
        say = screen.preparing if screen is not None else (lambda _message: None)
        say("Reading the batch…")
        try:
            # A batch with a session runs with the session's settings, not the form's defaults;
            # a new one (--start) with the form's.
            settings, notices = request.settings, []
            if self._session_file(request.batch_path).exists():
                saved = await asyncio.to_thread(Session.peek_settings, self._session_file(request.batch_path))
                demo = is_demo_session(self._session_file(request.batch_path))
                settings, notices = self._resumed_settings(saved, request.overrides, demo=demo)
                if demo:   # `demo` again: its saved address died with the old simulator
                    settings = self._at_demo_sim(settings)
            session, resumed = await prepare_session(
                request.batch_path, settings, session_path=self.session_path or None, on_progress=say)
        except (BatchError, SessionError, SettingsError) as exc:   # SessionLocked too: a message for the user
            self.notify(str(exc), severity="error", timeout=15, markup=False)
            if screen is None:
                self.show_config()
            return
        finally:
            say(None)
        self.settings = settings
        self.launch(session, resumed=resumed, notices=notices, balance=await self._balance())

    async def _balance(self) -> float | None:
        if not self.api_key or self.options.engine_factory is not None:
            return None   # no key: launch says so; a test's engine talks to no deAPI
        return await read_balance(self.settings, self.api_key)

    # -- saved sessions -----------------------------------------------------------------
    def resume_session(self, path: str | Path, *, resubmit_in_doubt: bool = False) -> None:
        """Open a saved session and run it with its own settings (the command line's flags on
        top, said on the run screen). Without a key (and not a demo session), ask for one for
        this run first."""
        path = Path(path)
        demo = is_demo_session(path)
        if self.service.enabled and not demo and (name := self.service.running(path)):
            self.attach_remote(name)   # the service runs it: no key needed, nothing opened here
            return
        if not self.api_key and not demo:
            self._ask_key_then_resume(path, resubmit_in_doubt)
            return
        try:
            session = Session.open(path)
        except SessionError as exc:   # SessionLocked is one: another process runs it
            self.notify(str(exc), severity="error", timeout=10, markup=False)
            if not self.screen_stack or len(self.screen_stack) <= 1:
                self.show_config()
            return
        try:
            session.settings, notices = self._resumed_settings(session.settings, demo=demo)
        except SettingsError as exc:
            session.close()
            self.notify(str(exc), severity="error", timeout=10, markup=False)
            if len(self.screen_stack) <= 1:
                self.show_config()
            return
        if demo:   # its saved address died with the old simulator
            self._wire_demo(session)
        self.launch(session, resumed=True, resubmit_in_doubt=resubmit_in_doubt, notices=notices)

    def _ask_key_then_resume(self, path: Path, resubmit_in_doubt: bool) -> None:
        """The key prompt; with a key, resume (the key is for this run only, never saved)."""

        def answered(key: str | None) -> None:
            if key:
                self.api_key, self.key_source = key, ENTERED
                self.resume_session(path, resubmit_in_doubt=resubmit_in_doubt)
            elif len(self.screen_stack) <= 1:
                self.show_config()

        self.push_screen(KeyPrompt(path.stem), answered)

    def discard_session(self, path: str | Path) -> bool:
        """Discard a session through core (its file and journal; the lock file and transcripts
        stay). Says why when it cannot (another process runs it). Returns whether it went."""
        try:
            discard_session(path)
        except SessionError as exc:
            self.notify(f"Not discarded: {exc}", severity="error", timeout=10, markup=False)
            return False
        return True

    # -- running ----------------------------------------------------------------------
    def attach_remote(self, name: str, title: str | None = None) -> None:
        """Show a batch the service runs already, live (its recent events first)."""
        self.view = RunView()
        self._session_began = None
        self.attach(self.service.attach(name), title or name)

    def _hand_to_service(self, session: Session, *, resumed: bool, resubmit_in_doubt: bool,
                         notices: list[Notice] | tuple[Notice, ...]) -> None:
        """Close the prepared session here and let the service run it, on the run screen."""
        try:
            engine = self.service.hand_over(session, api_key=self.api_key or "", resumed=resumed,
                                            resubmit_in_doubt=resubmit_in_doubt, notices=notices)
        except SessionError as exc:
            self.notify(str(exc), severity="error", timeout=15, markup=False)
            return
        batch = str(getattr(session, "batch", "") or "")
        self.attach(engine, Path(batch).name if batch else Path(session.path).resolve().stem, keep_view=True)

    def launch(self, session: Session, *, resumed: bool = True, resubmit_in_doubt: bool = False,
               balance: float | None = None, notices: list[Notice] | tuple[Notice, ...] = ()) -> None:
        """Build the engine for `session` (core's `begin_run`: the balance, `notices`, then the
        session's own) and watch it on the run screen; or hand the session to the service."""
        if not self.api_key and getattr(session.settings, "captions", "off") != "only":   # only: pays nothing
            self.notify("No API key: set DEAPI_API_KEY or enter one on the config screen.", severity="error")
            session.close()
            if len(self.screen_stack) <= 1:
                self.show_config()
            return
        self.view = RunView()
        states = [v.state.value for v in getattr(session, "videos", ())]
        self.view.begin(len(states), states.count("done"), states.count("failed"))
        # A resumed session began before this run: the summary's time says which it counts.
        created = getattr(session, "created", 0.0)
        self._session_began = created if resumed and created else None
        if self.service.enabled and not is_demo_session(session.path):
            self._hand_to_service(session, resumed=resumed, resubmit_in_doubt=resubmit_in_doubt, notices=notices)
            return
        engine = begin_run(session, api_key=self.api_key or "", sink=self.sink, resumed=resumed, balance=balance,
                           notices=notices, factory=self.options.engine_factory, resubmit_in_doubt=resubmit_in_doubt)
        batch = str(getattr(session, "batch", "") or "")
        self.attach(engine, Path(batch).name if batch else Path(str(getattr(session, "path", "batch"))).stem,
                    keep_view=True)

    def attach(self, engine: RunControls, title: str, *, keep_view: bool = False) -> RunScreen:
        """Show the run screen for `engine` and drive `engine.run()` in a worker."""
        self.engine, self.run_title = engine, title
        if not keep_view:
            self.view = RunView()
        self._summary_shown = False
        self._notices_seen = 0
        screen = RunScreen(engine, title)
        if len(self.screen_stack) > 1:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)
        self._engine_worker = self.run_worker(self._drive(engine), name="engine", group="engine",
                                              exclusive=True, exit_on_error=False)
        return screen

    async def _drive(self, engine: Any) -> BatchFinished | None:
        if self.service.is_remote(engine):
            try:
                return await self.service.drive(engine)
            except (RequestFailed, ServiceStartFailed) as exc:   # refused, or no service could start
                self.notify(getattr(exc, "message", str(exc)), severity="error", timeout=15, markup=False)
                self.show_config()
                return None
        result = await engine.run()
        if self.view.finished is None:
            self.sink(result)
        return result

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            # A bug in the engine or in preparing a session: say so, keep the app alive.
            error = event.worker.error
            self.sink(Notice(time.time(), "error", f"{event.worker.group} failed: {error!r}"))
            self.notify(f"{type(error).__name__}: {error}", severity="error", timeout=15, markup=False)
            if len(self.screen_stack) <= 1:
                self.show_config()   # never leave a blank screen behind

    # -- ending -----------------------------------------------------------------------
    def stop_signalled(self, signum: int) -> None:
        """SIGTERM or SIGHUP: quit as `q` then yes would (the engine saves the session; a submit on
        the wire gets its answer first), and Textual's exit restores the terminal. A terminal that
        has hung up is swapped for /dev/null first, or the exit would block writing to it. A second
        signal exits at once, restoring the terminal's modes as it goes."""
        if self.stopped_by is not None:
            signals.restore_terminal_now(getattr(self._driver, "attrs_before", None))
            os._exit(signals.exit_code(self.stopped_by))
        self.stopped_by = signum
        if signals.leave_dead_terminal():
            self._revive_output()
        if self.running and self.service.is_remote(self.engine):
            self.detached = True   # the service runs the batch: leave it running, as the detach answer does
            self.exit(self.exit_code())
        elif self.running:
            self.run_worker(self._quit_now(), group="quit", exclusive=True)
        else:
            self.exit(self.exit_code())

    @property
    def running(self) -> bool:
        w = self._engine_worker
        return w is not None and w.state in (WorkerState.PENDING, WorkerState.RUNNING)

    def _run_screen(self) -> RunScreen | None:
        return next((s for s in self.screen_stack if isinstance(s, RunScreen)), None)

    def _show_summary(self, result: BatchFinished) -> None:
        self._summary_shown = True
        while len(self.screen_stack) > 2 and not isinstance(self.screen, RunScreen):
            self.pop_screen()   # close a help or quit dialog left open over the run screen
        self.switch_screen(SummaryScreen(result, self.run_title, self.view.totals().elapsed or None,
                                         skipped=dict(self.view.skipped), began=self._session_began,
                                         idle=self.view.videos_changed == 0 and not result.remaining))

    def request_quit(self) -> None:
        """q on the run screen: ask while work runs; either way the session is saved."""
        if not self.running:
            self.exit(self.exit_code())
            return
        if isinstance(self.screen, (Confirm, QuitChoice)):
            return   # already asking
        in_flight = self.view.totals().in_flight
        if self.service.is_remote(self.engine):
            def chosen(answer: str | None) -> None:
                if answer == "detach":
                    self.detached = True
                    self.exit(0)   # the connection closes; the batch goes on in the service
                elif answer == "stop":
                    self.run_worker(self._stop_remote(), group="quit", exclusive=True)

            self.push_screen(QuitChoice(getattr(self.engine, "name", ""), in_flight), chosen)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._quit_now(), group="quit", exclusive=True)

        self.push_screen(confirm_quit(in_flight), answered)

    async def _quit_now(self) -> None:
        """Cancel the engine (it saves the session, shielded, as it unwinds) and exit."""
        worker = self._engine_worker
        if worker is not None:
            worker.cancel()
            try:
                await worker.wait()
            except Exception:   # WorkerCancelled / WorkerFailed: the engine has unwound either way
                pass
        summary = getattr(self.engine, "summary", None)   # the real Engine's: where things are now
        if self.view.finished is None and callable(summary):
            try:
                self._quit_summary = summary()
            except Exception:   # never let the goodbye fail the quit
                self._quit_summary = None
        self.exit(self.exit_code())

    async def _stop_remote(self) -> None:
        """Stop on the quit question: the service cuts the batch short and saves it; its summary
        comes back as the batch's last event, then the app leaves."""
        engine: Any = self.engine
        await engine.quit()
        worker = self._engine_worker
        if worker is not None:
            with anyio.move_on_after(60):
                try:
                    await worker.wait()
                except Exception:
                    pass
        self._quit_summary = engine.summary()
        self.exit(self.exit_code())

    def farewell(self) -> str | None:
        """What the terminal shows once the app has gone: the headless summary (counts, where the
        transcripts, report and session are, how to resume), or None when nothing ran."""
        if self.detached:
            return self.service.detached_farewell(getattr(self.engine, "name", ""))
        result = self.view.finished or self._quit_summary
        if self.engine is None or result is None:
            return None
        if self.stopped_by is not None and result is self._quit_summary:
            result = dataclasses.replace(result, stopped=True)   # a signal stopped it: not "Finished"
        return summary_text(result).lstrip("\n")

    def _revive_output(self) -> None:
        """After the terminal hung up: if Textual's output thread died writing to it (EIO), start
        a new one on the /dev/null now in its place, or the exit would block on its full queue."""
        writer = getattr(self._driver, "_writer_thread", None)
        if writer is None or writer.is_alive():
            return
        from textual.drivers._writer_thread import WriterThread

        fresh = WriterThread(sys.__stderr__)
        fresh.start()
        self._driver._writer_thread = fresh

    def exit_code(self) -> int:
        """The CLI's codes: 0 when every video is done (or nothing was run), 1 when some
        failed or are unfinished, 128 + the signal's number when a signal stopped the app."""
        if self.stopped_by is not None:
            return signals.exit_code(self.stopped_by)
        if self.engine is None:
            return 0
        f = self.view.finished
        return 0 if f is not None and not f.failed and not f.remaining else 1

    async def action_quit(self) -> None:
        """Every quit key (q, ctrl+q) goes through the same question while work runs."""
        self.request_quit()

    def action_help(self) -> None:
        """`?` on any screen: its keys, then the app's. On the help itself, close it."""
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        screen = self.screen
        self.push_screen(HelpScreen(getattr(screen, "HELP", ()), getattr(screen, "HELP_TITLE", "Keys")))

    def action_help_quit(self) -> None:
        """Ctrl+C (Textual's own words name only ctrl+q): say how quitting works here."""
        self.notify("Ctrl+C does not quit the app. Press q, or ctrl+q from anywhere: it asks while work runs, "
                    "and the session is saved either way.", title="Quit?", markup=False)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette: the actions of the screen on top (its keys, by name), help, quit."""
        seen: set[str] = set()
        for binding in getattr(screen, "BINDINGS", ()):
            if not isinstance(binding, Binding) or not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            key = binding.key_display or binding.key.split(",")[0]
            what = f"{binding.tooltip} (key {key})" if binding.tooltip else f"key {key}"
            yield SystemCommand(binding.description.capitalize(), what,
                                lambda action=binding.action: self.call_later(screen.run_action, action))
        yield SystemCommand("Help", "the keys of this screen (key ?)", self.action_help)
        yield SystemCommand("Quit", "asks while work runs; the session is saved (key ctrl+q)", self.request_quit)

    def on_unmount(self) -> None:
        sim, self._own_sim = self._own_sim, None
        if sim is not None:
            sim.stop()


def build_app(options: AppOptions | None = None, **changes: Any) -> BulkTranscribeApp:
    """The app as the command line and the tests run it: `AppOptions`' fields as keywords.

    - `session_path` of an existing session resumes it; otherwise it is where a new one goes.
    - `start` with `batch_path` skips the config screen.
    - `demo` needs no key; `sim` is the running simulator the caller started (and stops). With
      `demo` and no `sim`, the app starts the demo simulator itself and stops it on exit.
    - `engine_factory(session, api_key=..., sink=...)` builds the engine (default core's Engine).
    - `plan_factory(batch_path, settings, api_key=..., on_progress=...)` builds the plan shown
      before a new batch starts (default core.plan.build_plan).
    - `clock` is what countdowns and elapsed times are computed against; `testing` turns off
      animations and cursor blink so snapshots are identical on every run.
    """
    options = options or AppOptions()
    for name, value in changes.items():
        if not hasattr(options, name):
            raise TypeError(f"build_app() got an unknown option {name!r}")
        setattr(options, name, value)
    return BulkTranscribeApp(options)


def run_app(**kwargs: Any) -> int:
    """Build the app with `build_app(**kwargs)`, run it, return the command's exit code."""
    app = build_app(**kwargs)
    code = app.run(mouse=app.options.mouse)
    goodbye = app.farewell()
    if app.stopped_by is not None:
        why = f"interrupted by {signals.name(app.stopped_by)}: "
        goodbye = (goodbye + "\n" if goodbye else "") + why + (
            "the session is saved (exit {})".format(app.exit_code()) if app.engine is not None
            else "nothing was running (exit {})".format(app.exit_code()))
    if goodbye:
        try:
            print(goodbye, file=sys.stderr, flush=True)
        except (OSError, ValueError):   # the terminal has gone (SIGHUP): the session is saved all the same
            pass
    return code if isinstance(code, int) else app.exit_code()
