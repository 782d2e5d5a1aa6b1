"""One batch the service runs: its engine, its state, and what a face attaching late is shown.

The service keeps, per batch, the events a face needs to rebuild its view when it attaches
after the start: every lossless event (bounded: the last `HISTORY`), the latest `Progress`,
the latest `WorkerChanged` of each worker, and the `BatchFinished`. `replay()` gives them in
an order that rebuilds the same screen: history first, then the current snapshots.
"""

from __future__ import annotations

import time
from collections import deque
from enum import Enum
from pathlib import Path
from typing import Any, Callable

import anyio

from ..events import BatchFinished, Event, Progress, WorkerChanged

HISTORY = 5000   # lossless events kept per batch for faces that attach later (and `logs`)


class BatchState(str, Enum):
    STARTING = "starting"    # preparing the session, checking the key
    RUNNING = "running"
    FINISHED = "finished"    # ran out of work, or was stopped gracefully
    QUIT = "quit"            # cut short by a quit: saved, resumable
    BROKEN = "broken"        # the engine failed (its last notice says why): resumable


class Batch:
    def __init__(self, name: str, session_path: Path, publish: Callable[[str, Event], None]) -> None:
        self.name = name
        self.session_path = session_path
        self.state = BatchState.STARTING
        self.engine: Any = None
        self.share: Any = None
        self.started_wall = time.time()
        self.history: deque[Event] = deque(maxlen=HISTORY)
        self.progress: Progress | None = None
        self.workers: dict[int, WorkerChanged] = {}
        self.finished: BatchFinished | None = None
        self.scope = anyio.CancelScope()
        self.done = anyio.Event()
        self.quit_asked = False
        self._publish = publish

    @property
    def active(self) -> bool:
        return self.state in (BatchState.STARTING, BatchState.RUNNING)

    def emit(self, event: Event) -> None:
        """The engine's sink: keep what a late face needs, then push to the attached faces."""
        if isinstance(event, Progress):
            self.progress = event
        elif isinstance(event, WorkerChanged):
            self.workers[event.worker] = event
        else:
            if isinstance(event, BatchFinished):
                self.finished = event
            self.history.append(event)
        self._publish(self.name, event)

    def replay(self) -> list[Event]:
        """What a face attaching now is shown first (see the module docstring)."""
        out: list[Event] = [e for e in self.history if not isinstance(e, BatchFinished)]
        out.extend(self.workers[w] for w in sorted(self.workers))
        if self.progress is not None:
            out.append(self.progress)
        if self.finished is not None:
            out.append(self.finished)
        return out

    def describe(self) -> dict[str, Any]:
        """The row `ls` shows (JSON-ready)."""
        p = self.progress
        row: dict[str, Any] = {"name": self.name, "state": self.state.value, "session": str(self.session_path),
                               "started": self.started_wall}
        if p is not None:
            row.update(total=p.total, done=p.done, failed=p.failed, in_flight=p.in_flight, cost=p.cost,
                       paused=p.submitting_paused, stopping=p.stopping)
        if self.finished is not None:
            f = self.finished
            row.update(total=f.total, done=f.done, failed=f.failed, in_flight=0, cost=f.cost)
        return row
