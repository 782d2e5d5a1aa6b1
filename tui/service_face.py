"""The app's side of the service: where its batches run when they must outlive the terminal.

`ServiceFace` is mixed into the app. A batch the app starts or resumes is prepared here as
before (the session is made, the plan shown), then closed and handed to the service, which
reopens it as a resume and runs it; the run screen drives a `RemoteEngine` instead of an
Engine. A batch the service runs already (started elsewhere, or before this app) is attached to
instead of opened. The demo, and tests that pass their own engine, stay in this process.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import anyio

from ..core.errors import SessionError
from ..core.events import BatchFinished, Notice
from ..core.launch import opening_notices
from ..core.sanitize import clean
from ..core.store.session import Session
from .run_view import RunView


class ServiceFace:
    """Mixed into BulkTranscribeApp (which provides options, sink, view, attach, notify, exit...)."""

    detached = False   # left the batch running in the service

    @property
    def uses_service(self) -> bool:
        """Batches run in the service (they outlive the terminal), except the demo's (its simulator
        lives in this process), a test's own engine, and with BULK_TRANSCRIBE_NO_SERVICE=1."""
        from ..core.service.spawn import service_disabled

        return not (self.options.demo or self.options.engine_factory is not None or service_disabled())

    def service_batches(self) -> list[dict[str, Any]]:
        """The batches the service runs now ([] when none runs). Asked from a thread: the call has
        its own event loop."""
        if not self.uses_service:
            return []
        from ..core.service.spawn import ping

        found: list[Any] = []

        def ask() -> None:
            if ping() is not None:
                from ..core.service import call
                try:
                    found.extend(call("list"))
                except Exception:   # a service going away: as if none ran
                    pass

        thread = threading.Thread(target=ask, daemon=True)
        thread.start()
        thread.join(10)
        return [b for b in found if b.get("state") in ("starting", "running")]

    def _running_in_service(self, session_path: str | Path) -> str | None:
        """The name of the service's batch running `session_path`, if one does."""
        target = str(Path(session_path).resolve())
        for batch in self.service_batches():
            if batch.get("session") == target:
                return str(batch["name"])
        return None

    def attach_remote(self, name: str, title: str | None = None) -> None:
        """Show a batch the service runs already, live (its recent events first)."""
        from .remote_engine import RemoteEngine

        self.view = RunView()
        self._session_began = None
        self.attach(RemoteEngine(self.sink, name=name), title or name)

    def _hand_to_service(self, session: Session, *, resumed: bool, resubmit_in_doubt: bool,
                         notices: list[Notice] | tuple[Notice, ...]) -> None:
        """Close the prepared session here and let the service run it (it reopens it as a resume)."""
        from .remote_engine import RemoteEngine

        if not resumed:   # the lines the batch skipped, said here: the service sees a resume
            for notice in opening_notices(session, resumed=False):
                if notice.line:
                    self.sink(notice)
        path, settings = Path(session.path).resolve(), session.settings
        try:
            session.close()
        except SessionError as exc:
            self.notify(str(exc), severity="error", timeout=15, markup=False)
            return
        engine = RemoteEngine(self.sink, start={
            "session": str(path), "resume": True, "fresh": not resumed, "batch": None, "settings": settings.to_dict(),
            "api_key": self.api_key or "", "notices": [n.message for n in notices],
            "resubmit_in_doubt": resubmit_in_doubt})
        batch = str(getattr(session, "batch", "") or "")
        self.attach(engine, Path(batch).name if batch else path.stem, keep_view=True)

    async def _drive_remote(self, engine: Any) -> BatchFinished | None:
        """Follow the service's run of the batch; say so when the service refuses it or goes away."""
        from ..core.service import RequestFailed
        from ..core.service.spawn import ServiceStartFailed, ensure_service
        try:
            await asyncio.to_thread(ensure_service)
            result = await engine.run()
        except (RequestFailed, ServiceStartFailed) as exc:
            self.notify(getattr(exc, "message", str(exc)), severity="error", timeout=15, markup=False)
            self.show_config()
            return None
        if result is None:
            self.sink(Notice(time.time(), "error", f"lost the bulk-transcribe service ({engine.lost}): the "
                                                   "session holds every request id; reopen it to resume"))
        return result

    @staticmethod
    def _is_remote(engine: Any) -> bool:
        from .remote_engine import RemoteEngine

        return isinstance(engine, RemoteEngine)

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

    def detached_farewell(self) -> str:
        name = clean(getattr(self.engine, "name", ""))
        return (f"detached: {name} keeps running in the bulk-transcribe service. "
                f"`bulk-transcribe` or `bulk-transcribe attach {name}` shows it again; "
                f"`bulk-transcribe stop {name}` stops it.")
