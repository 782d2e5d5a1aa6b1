"""The app's side of the service: where its batches run when they must outlive the terminal.

A batch the app starts or resumes is prepared as before (the session is made, the plan shown),
then closed and handed to the service, which reopens it as a resume and runs it; the run screen
drives a `RemoteEngine` instead of an Engine. A batch the service runs already (started
elsewhere, or before this app) is attached to instead of opened. The demo, and tests that pass
their own engine, stay in the app's process.

`ServiceLink` knows the service and nothing of the app: the app holds one, passes what each
call needs, and does the showing (screens, toasts, exiting) itself.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from ..core.events import BatchFinished, EventSink, Notice
from ..core.launch import opening_notices
from ..core.sanitize import clean
from ..core.service import call
from ..core.service.spawn import ensure_service, ping, service_disabled
from ..core.store.session import Session
from .remote_engine import RemoteEngine


class ServiceLink:
    """The service as the app uses it; events of remote runs go to `sink`."""

    def __init__(self, sink: EventSink, *, wanted: bool) -> None:
        """`wanted`: False for the demo (its simulator lives in this process) and for a test's
        own engine; the environment may still turn the service off (`enabled`)."""
        self._sink = sink
        self._wanted = wanted

    @property
    def enabled(self) -> bool:
        """Batches run in the service, unless not `wanted` or BULK_TRANSCRIBE_NO_SERVICE=1."""
        return self._wanted and not service_disabled()

    def batches(self) -> list[dict[str, Any]]:
        """The batches the service runs now ([] when none runs). Asked from a thread: the call has
        its own event loop."""
        if not self.enabled:
            return []
        found: list[Any] = []

        def ask() -> None:
            if ping() is not None:
                try:
                    found.extend(call("list"))
                except Exception:   # a service going away: as if none ran
                    pass

        thread = threading.Thread(target=ask, daemon=True)
        thread.start()
        thread.join(10)
        return [b for b in found if b.get("state") in ("starting", "running")]

    def running(self, session_path: str | Path) -> str | None:
        """The name of the service's batch running `session_path`, if one does."""
        target = str(Path(session_path).resolve())
        for batch in self.batches():
            if batch.get("session") == target:
                return str(batch["name"])
        return None

    def attach(self, name: str) -> RemoteEngine:
        """The engine of a batch the service runs already (its recent events first)."""
        return RemoteEngine(self._sink, name=name)

    def hand_over(self, session: Session, *, api_key: str, resumed: bool, resubmit_in_doubt: bool,
                  notices: list[Notice] | tuple[Notice, ...]) -> RemoteEngine:
        """Close the prepared session here; the engine returned asks the service to run it (it
        reopens it as a resume). Raises SessionError when the close fails (nothing handed over)."""
        if not resumed:   # the lines the batch skipped, said here: the service sees a resume
            for notice in opening_notices(session, resumed=False):
                if notice.line:
                    self._sink(notice)
        path, settings = Path(session.path).resolve(), session.settings
        session.close()
        return RemoteEngine(self._sink, start={
            "session": str(path), "resume": True, "fresh": not resumed, "batch": None, "settings": settings.to_dict(),
            "api_key": api_key, "notices": [n.message for n in notices],
            "resubmit_in_doubt": resubmit_in_doubt})

    async def drive(self, engine: RemoteEngine) -> BatchFinished | None:
        """Follow the service's run of the batch (starting the service first when none runs).
        Raises RequestFailed or ServiceStartFailed when the service refuses it or cannot start;
        None, said in the log, when the service went away mid-run."""
        await asyncio.to_thread(ensure_service)
        result = await engine.run()
        if result is None:
            self._sink(Notice(time.time(), "error", f"lost the bulk-transcribe service ({engine.lost}): the "
                                                    "session holds every request id; reopen it to resume"))
        return result

    @staticmethod
    def is_remote(engine: Any) -> bool:
        return isinstance(engine, RemoteEngine)

    @staticmethod
    def detached_farewell(name: str) -> str:
        """What the terminal says after the app left a batch running in the service."""
        name = clean(name)
        return (f"detached: {name} keeps running in the bulk-transcribe service. "
                f"`bulk-transcribe` or `bulk-transcribe attach {name}` shows it again; "
                f"`bulk-transcribe stop {name}` stops it.")
