"""The Textual app: screens around one engine, fed by one buffered event sink.

`build_app` is the only way in, for the command line and the tests alike. The engine calls
`app.sink(event)` as often as it likes; the sink only appends to a buffer. A timer drains the
buffer into the `RunView` and repaints at most `REPAINT_HZ` times a second, so a burst of
thousands of events costs one repaint, and a slow SSH link sees a bounded update rate.
How the app gets to a run (config, plan, saved sessions, the demo simulator) is in startup.py.
"""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path
from typing import Any, Callable

from textual.app import App
from textual.worker import Worker, WorkerState

from bulk_transcribe.core.events import BatchFinished, Event, Notice
from bulk_transcribe.core.settings import Settings

from .screens.modals import Confirm, confirm_quit
from .screens.run import RunScreen
from .screens.summary import SummaryScreen
from .startup import PlanFactory, SessionStartup
from bulk_transcribe.core.sanitize import clean

from .run_view import RunView

EngineFactory = Callable[..., Any]
REPAINT_HZ = 4


class BulkTranscribeApp(SessionStartup, App[int]):
    CSS_PATH = ["app.tcss", "config.tcss", "plan.tcss", "run.tcss"]
    TITLE = "bulk-transcribe"
    ENABLE_COMMAND_PALETTE = False

    def __init__(
        self,
        *,
        settings: Settings,
        api_key: str | None,
        key_source: str,
        batch_path: str | None = None,
        session_path: str | None = None,
        start: bool = False,
        demo: bool = False,
        sim: Any = None,
        engine_factory: EngineFactory | None = None,
        plan_factory: PlanFactory | None = None,
        clock: Callable[[], float] = time.monotonic,
        testing: bool = False,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.api_key = api_key
        self.key_source = key_source
        self.batch_path = batch_path or ""
        self.session_path = session_path
        self.start_now = start
        self.demo = demo
        self.sim = sim               # a running simulator handle (demo); the caller stops it
        self._own_sim: Any = None    # one this app started, stopped on exit
        self.engine_factory = engine_factory
        self.plan_factory = plan_factory
        self.clock = clock
        self.testing = testing
        if testing:
            self.animation_level = "none"
        self.view = RunView()
        self._inbox: deque[Event] = deque()
        self.engine: Any = None
        self.run_title = ""
        self._engine_worker: Worker | None = None
        self._summary_shown = False
        self._notices_seen = 0

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
            if notice.level in ("warning", "error"):
                self.notify(clean(notice.message, 300), severity=notice.level, timeout=8, markup=False)

    # -- starting ---------------------------------------------------------------------
    def on_mount(self) -> None:
        self.set_interval(1 / REPAINT_HZ, self.repaint_now)
        self.open_first_screen()

    # -- running ----------------------------------------------------------------------
    def launch(self, session: Any) -> None:
        """Build the engine for `session` and watch it on the run screen."""
        factory = self.engine_factory
        if factory is None:
            from bulk_transcribe.core.run.engine import Engine as factory
        if not self.api_key:
            self.notify("No API key: set DEAPI_API_KEY or enter one on the config screen.", severity="error")
            session.close()
            if len(self.screen_stack) <= 1:
                self.show_config()
            return
        engine = factory(session, api_key=self.api_key, sink=self.sink)
        batch = str(getattr(session, "batch", "") or "")
        self.attach(engine, Path(batch).name if batch else Path(str(getattr(session, "path", "batch"))).stem)

    def attach(self, engine: Any, title: str) -> RunScreen:
        """Show the run screen for `engine` and drive `engine.run()` in a worker."""
        self.engine, self.run_title = engine, title
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

    async def _drive(self, engine: Any) -> BatchFinished:
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
        self.switch_screen(SummaryScreen(result, self.run_title, self.view.totals().elapsed or None))

    def request_quit(self) -> None:
        """q on the run screen: ask while work runs; either way the session is saved."""
        if not self.running:
            self.exit(self.exit_code())
            return
        if isinstance(self.screen, Confirm):
            return   # already asking
        in_flight = self.view.totals().in_flight

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
        self.exit(self.exit_code())

    def exit_code(self) -> int:
        """The CLI's codes: 0 when every video is done (or nothing was run), 1 when some
        failed or are unfinished."""
        if self.engine is None:
            return 0
        f = self.view.finished
        return 0 if f is not None and not f.failed and not f.remaining else 1

    async def action_quit(self) -> None:
        """Every quit key (q, ctrl+q) goes through the same question while work runs."""
        self.request_quit()

    def on_unmount(self) -> None:
        sim, self._own_sim = self._own_sim, None
        if sim is not None:
            sim.stop()


def build_app(**options: Any) -> BulkTranscribeApp:
    """The app as the command line and the tests run it.

    - `session_path` of an existing session resumes it; otherwise it is where a new one goes.
    - `start` with `batch_path` skips the config screen.
    - `demo` needs no key; `sim` is the running simulator the caller started (and stops). With
      `demo` and no `sim`, the app starts the demo simulator itself and stops it on exit.
    - `engine_factory(session, api_key=..., sink=...)` builds the engine (default core.engine.Engine).
    - `plan_factory(batch_path, settings, api_key=..., on_progress=...)` builds the plan shown
      before a new batch starts (default core.plan.build_plan).
    - `clock` is what countdowns and elapsed times are computed against; `testing` turns off
      animations and cursor blink so snapshots are identical on every run.
    """
    return BulkTranscribeApp(**options)   # the App's own signature names and types every option


def run_app(**kwargs: Any) -> int:
    """Build the app with `build_app(**kwargs)`, run it, return the command's exit code."""
    app = build_app(**kwargs)
    code = app.run()
    return code if isinstance(code, int) else app.exit_code()
