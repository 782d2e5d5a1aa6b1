"""How the app gets to a run: the first screen, new batches through the plan, saved sessions.

A mixin of `BulkTranscribeApp` rather than a separate object, because the screens and the tests
reach these steps on the app itself (`app.start_new`, `app.resume_session`, a test replacing
`app.show_plan`), and every step ends in the app's own `launch`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Callable

from bulk_transcribe.core.settings import Settings

from .screens.config import ConfigScreen, StartRequest
from .screens.modals import KeyPrompt
from .screens.plan import PlanScreen
from .screens.resume import ResumeScreen

PlanFactory = Callable[..., Any]   # core.plan.build_plan's signature


class SessionStartup:
    """Mixed into the App, which provides the screen stack, `notify`, `run_worker` and these:"""

    settings: Settings
    api_key: str | None
    key_source: str
    batch_path: str
    session_path: str | None
    start_now: bool
    demo: bool
    sim: Any
    _own_sim: Any
    plan_factory: PlanFactory | None
    launch: Callable[[Any], None]   # build the engine for a session and show its run

    def open_first_screen(self) -> None:
        """On mount: start the batch (--start), resume the session given, offer the
        unfinished sessions, or show the config screen."""
        if self.demo and self.sim is None:
            self._start_simulator()
        if self.start_now and self.batch_path:
            # prepare_session resumes the batch's session when it exists (new lines are added).
            self.start_new(StartRequest(self.settings, self.batch_path, self.api_key, self.key_source,
                                        save_key=False, remember=False), ask=False)
        elif self.session_path and Path(self.session_path).exists():
            # `resume SESSION`: the command line already merged its overrides into the settings.
            self.resume_session(self.session_path, settings=self.settings)
        elif not self.batch_path and not self.demo and (unfinished := self.unfinished_sessions()):
            self.push_screen(ResumeScreen(unfinished))
        else:
            self.show_config()

    def _start_simulator(self) -> None:
        """Demo without a simulator from the caller: start one and stop it on exit."""
        from bulk_transcribe.core.simulator.demo import start_demo_sim

        self.sim = self._own_sim = start_demo_sim()
        self.settings = self.settings.with_(api_base=self.sim.base_url)
        if not self.api_key:
            self.api_key, self.key_source = "demo-key", "demo"

    def unfinished_sessions(self) -> list[Any]:
        """Sessions in the data folder with videos not yet done or failed (unreadable ones too,
        so the user sees them). Never raises."""
        from bulk_transcribe.core.paths import sessions_dir
        from bulk_transcribe.core.store.session import list_sessions

        return [s for s in list_sessions(sessions_dir()) if not s.finished]

    def show_config(self) -> None:
        screen = ConfigScreen(settings=self.settings, api_key=self.api_key, key_source=self.key_source,
                              batch_path=self.batch_path, key_required=not self.demo)
        if self.screen_stack and len(self.screen_stack) > 1:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def start_new(self, request: StartRequest, *, ask: bool = True) -> None:
        """From the config screen (or --start): remember settings if asked; then, for a batch
        whose session already exists, resume it (new lines are added); for a new batch, show
        the plan first. With `ask=False` (--start) the plan starts by itself unless its
        estimate exceeds the balance."""
        self.api_key, self.key_source = request.api_key, request.key_source
        self.settings = request.settings
        # The demo's settings point at a loopback simulator: never make them the user's defaults.
        if (request.remember or request.save_key) and not self.demo:
            from bulk_transcribe.core.config import save_settings

            try:
                save_settings(request.settings, request.api_key if request.save_key else None)
            except OSError as exc:
                self.notify(f"Settings not saved: {exc}", severity="warning", markup=False)
        if self._session_file(request.batch_path).exists():
            self.run_worker(self._prepare_and_run(request), group="prepare", exclusive=True, exit_on_error=False)
        else:
            self.show_plan(request, auto_start=not ask)

    def _session_file(self, batch_path: str) -> Path:
        from bulk_transcribe.core.paths import session_path_for

        return Path(self.session_path) if self.session_path else session_path_for(batch_path)

    # -- the plan before spending -------------------------------------------------------
    def show_plan(self, request: StartRequest, *, auto_start: bool = False) -> PlanScreen:
        """Build the batch's plan on a plan screen over the current one; start from it."""
        factory = self.plan_factory
        if factory is None:
            from bulk_transcribe.core.plan import build_plan as factory

        def build(on_progress: Callable[[str], None]) -> Any:
            return factory(request.batch_path, request.settings, api_key=request.api_key, on_progress=on_progress)

        screen = PlanScreen(build, title=Path(request.batch_path).name, auto_start=auto_start,
                            on_start=lambda plan: self.start_planned(request, plan), on_back=self.plan_back)
        self.push_screen(screen)
        return screen

    def plan_back(self) -> None:
        """Escape on the plan: back to the config screen under it (or a new one after --start)."""
        if len(self.screen_stack) > 2:
            self.pop_screen()
        else:
            self.show_config()

    def start_planned(self, request: StartRequest, plan: Any) -> None:
        """Create the session from the plan the user saw (no second expansion) and run it."""
        self.run_worker(self._create_and_run(request, plan), group="prepare", exclusive=True,
                        exit_on_error=False)

    async def _create_and_run(self, request: StartRequest, plan: Any) -> None:
        from bulk_transcribe.core.prepare import create_session_from_plan
        from bulk_transcribe.core.errors import SessionError

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
        self.launch(session)

    async def _prepare_and_run(self, request: StartRequest) -> None:
        from bulk_transcribe.core.sources.batch import BatchError
        from bulk_transcribe.core.prepare import prepare_session
        from bulk_transcribe.core.errors import SessionError

        screen = self.screen if isinstance(self.screen, ConfigScreen) else None
        say = screen.preparing if screen is not None else (lambda _message: None)
        say("Reading the batch…")
        try:
            session, _resumed = await prepare_session(
                request.batch_path, request.settings, session_path=self.session_path or None, on_progress=say)
        except (BatchError, SessionError) as exc:   # SessionLocked too: a message for the user
            self.notify(str(exc), severity="error", timeout=15, markup=False)
            if screen is None:
                self.show_config()
            return
        finally:
            say(None)
        self.launch(session)

    # -- saved sessions -----------------------------------------------------------------
    def resume_session(self, path: str | Path, settings: Settings | None = None) -> None:
        """Open a saved session (its own settings, unless `settings` overrides them) and run it.
        Without a key (and not a demo session), ask for one for this run first."""
        from bulk_transcribe.core.errors import SessionError
        from bulk_transcribe.core.store.session import Session

        if not self.api_key and not self._is_demo(Path(path)):
            self._ask_key_then_resume(Path(path), settings)
            return
        try:
            session = Session.open(Path(path))
        except SessionError as exc:   # SessionLocked is one: another process runs it
            self.notify(str(exc), severity="error", timeout=10, markup=False)
            if not self.screen_stack or len(self.screen_stack) <= 1:
                self.show_config()
            return
        if settings is not None:
            session.settings = settings
        self._point_demo_at_simulator(Path(path), session)
        self.launch(session)

    def _ask_key_then_resume(self, path: Path, settings: Settings | None) -> None:
        """The key prompt; with a key, resume (the key is for this run only, never saved)."""

        def answered(key: str | None) -> None:
            if key:
                from .widgets.key_input import ENTERED

                self.api_key, self.key_source = key, ENTERED
                self.resume_session(path, settings)
            elif len(self.screen_stack) <= 1:
                self.show_config()

        self.push_screen(KeyPrompt(path.stem), answered)

    @staticmethod
    def _is_demo(path: Path) -> bool:
        try:
            from bulk_transcribe.core.simulator.demo import is_demo_session
        except ImportError:
            return False
        return is_demo_session(path)

    def _point_demo_at_simulator(self, path: Path, session: Any) -> None:
        """A demo session reopened (e.g. from the resume prompt) talks to the demo simulator,
        started here if the caller did not pass one; its saved address died with the old one."""
        try:
            from bulk_transcribe.core.simulator.demo import is_demo_session, start_demo_sim
        except ImportError:
            return
        if not is_demo_session(path):
            return
        if self.sim is None:
            self.sim = self._own_sim = start_demo_sim()
        session.settings = session.settings.with_(api_base=self.sim.base_url)
        if not self.api_key:
            self.api_key, self.key_source = "demo-key", "demo"

    def discard_session(self, path: str | Path) -> bool:
        """Discard a session through core (its file and journal; the lock file and transcripts
        stay). Says why when it cannot (another process runs it). Returns whether it went."""
        from bulk_transcribe.core.errors import SessionError
        from bulk_transcribe.core.store.session import discard_session

        try:
            discard_session(path)
        except SessionError as exc:
            self.notify(f"Not discarded: {exc}", severity="error", timeout=10, markup=False)
            return False
        return True
