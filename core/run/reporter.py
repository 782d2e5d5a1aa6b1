"""The engine's voice: every event a run emits goes out through one `Reporter`.

It turns what happened to a video or a worker slot into the typed events of `events.py`
and hands them to the sink the face gave. A face's bug must never stop a batch, so an
exception from the sink is swallowed here, once, for every event.
"""

from __future__ import annotations

import time
from typing import Callable, Mapping

from ..errors import DeapiError
from ..events import Activity, ErrorLogged, Event, EventSink, Notice, VideoChanged, WorkerChanged
from ..model import Video


class Reporter:
    """Emits events to `sink`. `index` maps a video key to its row in the session."""

    def __init__(self, sink: EventSink, *, clock: Callable[[], float], index: Mapping[str, int]) -> None:
        self._sink = sink
        self._clock = clock
        self.index = index
        self._said: set[str] = set()

    def emit(self, event: Event) -> None:
        try:
            self._sink(event)
        except Exception:  # a face's bug must never stop the batch
            pass

    def notice(self, level: str, message: str) -> None:
        self.emit(Notice(time.time(), level, message))

    def notice_once(self, message: str, level: str = "warning") -> None:
        """A notice worth saying once per run, however many workers run into it."""
        if message not in self._said:
            self._said.add(message)
            self.notice(level, message)

    def worker_changed(self, slot: int, activity: Activity, v: Video | None = None, *, detail: str = "",
                       progress: float | None = None, until: float | None = None) -> None:
        """Worker `slot` now does `activity` (for `v`); `until` is a monotonic deadline for countdowns."""
        self.emit(WorkerChanged(slot, activity, v.key if v else "", v.label if v else "", detail,
                                progress, until, self._clock(), v.method if v else ""))

    def video_changed(self, v: Video) -> None:
        self.emit(VideoChanged(v.key, self.index.get(v.key, -1), v.state, v.label, v.request_id,
                               v.attempts, v.category, v.message, tuple(v.outputs), v.method))

    def error_logged(self, v: Video, err: DeapiError, *, will_retry: bool) -> None:
        self.emit(ErrorLogged(time.time(), v.key, v.label, err.category.value, err.message, err.status,
                              err.request_id or v.request_id, will_retry))
