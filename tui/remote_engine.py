"""A batch the service runs, as the app's run screen sees an engine: `RunControls` over the socket.

`RemoteEngine.run()` hands the batch to the service (or attaches to one it already runs), feeds
the service's events to the app's sink as the in-process engine would, and returns the batch's
`BatchFinished`. The controls are sent as requests without blocking the screen; pause and stop
show at once (the next Progress confirms them). Cancelling `run()` (the app going away, the
terminal closed) only detaches: the batch goes on in the service. `quit()` cuts it short there
(saved, resumable) and waits for its summary.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from ..core.events import BatchFinished, Event, Progress, VideoChanged
from ..core.model import VideoState
from ..core.service import RequestFailed, ServiceDisconnected, connect


class RemoteEngine:
    def __init__(self, sink: Callable[[Event], None], *, start: dict[str, Any] | None = None,
                 name: str | None = None) -> None:
        """`start`: the service's `start` arguments (a batch or session to hand over); else
        `name`: a batch the service runs already, to attach to."""
        self._sink = sink
        self._start = start
        self.name = name or ""
        self._service: Any = None
        self._progress: Progress | None = None
        self._paused: bool | None = None     # what the user asked, until a Progress says it
        self._stopping = False
        self._failed: dict[str, VideoChanged] = {}
        self._permanent: tuple[int, float] = (0, 0.0)
        self._tasks: set[asyncio.Task] = set()
        self.finished: BatchFinished | None = None
        self.lost: str = ""                  # why the service went away, if it did

    # -- RunControls ----------------------------------------------------------------------
    @property
    def submitting_paused(self) -> bool:
        if self._paused is not None:
            return self._paused
        return bool(self._progress and self._progress.submitting_paused)

    @property
    def stopping(self) -> bool:
        return self._stopping or bool(self._progress and self._progress.stopping)

    def pause_submitting(self) -> None:
        self._paused = True
        self._send("pause")

    def resume_submitting(self) -> None:
        self._paused = False
        self._send("resume")

    def request_stop(self) -> None:
        self._stopping = True
        self._send("stop")

    def retry_failed(self, *, permanent: bool = False) -> int:
        count = len(self._failed) if permanent else max(0, len(self._failed) - self._permanent[0])
        self._send("retry-permanent" if permanent else "retry")
        return count

    def permanent_failures(self) -> tuple[int, float]:
        return self._permanent

    # -- the run ----------------------------------------------------------------------------
    async def run(self) -> BatchFinished | None:
        """Follow the batch to its end (starting it first if asked). RequestFailed if the service
        refuses it (the message says why); None if the service went away (`lost` says why)."""
        try:
            async with connect(client="tui") as service:
                self._service = service
                if self._start is not None:
                    started = await service.request("start", **self._start, follow=True)
                    self.name = started["name"]
                else:
                    info = await service.request("attach", name=self.name, replay=True)
                    self.name = info["name"]
                async for batch, event in service.events():
                    if batch != self.name:
                        continue
                    self._see(event)
                    self._sink(event)
                    if isinstance(event, BatchFinished):
                        self.finished = event
                        return event
        except ServiceDisconnected as exc:
            self.lost = exc.message
        finally:
            self._service = None
        return None

    async def quit(self) -> None:
        """Ask the service to cut the batch short (it saves the session and the report)."""
        if self._service is not None and self.name:
            try:
                await self._service.request("control", name=self.name, action="quit")
            except (RequestFailed, ServiceDisconnected):
                pass   # it ended meanwhile

    def summary(self) -> BatchFinished | None:
        return self.finished

    # -- inside -----------------------------------------------------------------------------
    def _see(self, event: Event) -> None:
        if isinstance(event, Progress):
            self._progress = event
            if self._paused is not None and event.submitting_paused == self._paused:
                self._paused = None
        elif isinstance(event, VideoChanged):
            if event.state is VideoState.FAILED:
                self._failed[event.key] = event
                self._send("permanent-failures")
            else:
                self._failed.pop(event.key, None)

    def _send(self, action: str) -> None:
        service, name = self._service, self.name
        if service is None or not name:
            return

        async def request() -> None:
            try:
                result = await service.request("control", name=name, action=action)
            except (RequestFailed, ServiceDisconnected):
                return
            if action == "permanent-failures":
                self._permanent = (int(result.get("count", 0)), float(result.get("cost", 0.0)))

        task = asyncio.get_running_loop().create_task(request())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
