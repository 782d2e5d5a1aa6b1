"""The run screen's view-model: folds the engine's events into what the screen shows.

Pure Python (no Textual, no Rich) so it can be tested by feeding events by hand and so
that folding 10,000 events costs nothing but a few dict writes. The screen reads it at a
bounded rate; nothing here knows about repainting. Time is always passed in (`now`), never
read from a clock, so what is rendered is a function of the events and the injected clock.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Callable

from ..core.durations import fmt_duration
from ..core.events import (
    Activity,
    BatchFinished,
    ConcurrencyChanged,
    ErrorLogged,
    Event,
    Notice,
    Progress,
    VideoChanged,
    WorkerChanged,
)
from ..core.model import VideoState
from ..core.sanitize import clean
from .text import fmt_bucket, run_eta


@dataclass(frozen=True, slots=True)
class WorkerLine:
    """One worker slot as the panel shows it; every field already a display string."""

    slot: str
    video: str
    doing: str
    progress: str
    elapsed: str
    active: bool


_COUNTDOWN = {Activity.WAITING_RATE, Activity.BACKING_OFF, Activity.WAITING_SLOT, Activity.PAUSED,
              Activity.CAPTIONS}   # captions: waiting for the caption site (pacing, a 429)
_STATUS = re.compile(r"^(\d{3})\b")


def describe_worker(w: WorkerChanged | None, slot: int, now: float, label_width: int = 200,
                    started: float | None = None, width: int | None = None) -> WorkerLine:
    """What a worker slot is doing and why, with countdowns computed against `now`.

    `started` is when the slot took its current video (elapsed counts from there); without
    it, from the event's `since`. `width` is the room the doing column has: the countdown
    always comes before the reason, and a reason that starts with an HTTP status shrinks to
    the status before anything is cut (the error log holds it whole)."""
    if w is None or w.activity is Activity.IDLE:
        return WorkerLine(f"{slot + 1}", "", Activity.IDLE.value, "", "", False)
    doing = w.activity.value
    detail = clean(w.detail, 60)
    if w.until is not None:
        left = max(0, math.ceil(w.until - now))
        if w.activity in _COUNTDOWN:
            doing += f" {left} s"
        else:
            # e.g. transcribing: the deadline is the next status check. A countdown frozen
            # into `detail` when the event was made would go stale, so recompute it here.
            doing += f", next check {left} s"
            if detail.startswith("next check"):
                detail = ""
    if detail:
        joint = " after {}" if w.activity is Activity.BACKING_OFF else " ({})"
        if width is not None and len(doing) + len(joint.format(detail)) > width and _STATUS.match(detail):
            detail = _STATUS.match(detail).group(1)   # "502 Bad Gateway" -> "502"
        doing += joint.format(detail)
    progress = f"{w.progress:.0f} %" if w.progress is not None else ""
    start = started if started is not None else w.since
    elapsed = fmt_duration(now - start) if start else ""
    if w.method and w.method != "deapi-url":   # the usual way goes unsaid; captions and uploads are shown
        doing += f" [{w.method}]"
    video = clean(w.label or w.video_key, label_width)
    return WorkerLine(f"{slot + 1}", video, doing, progress, elapsed, True)


@dataclass(frozen=True, slots=True)
class Totals:
    """The header's numbers; done + failed + in_flight + queued == total, always."""

    total: int
    done: int
    failed: int
    in_flight: int             # videos a worker is running (not those waiting for a slot)
    queued: int                # not started yet, or waiting for a slot
    videos_per_min: float | None   # None while too young to mean anything (right after a resume)
    eta_seconds: float | None
    elapsed: float


MAX_WORKER_ROWS = 100   # worker rows on the run screen at most (the last one folds the rest)
RATE_AFTER = 60.0   # seconds of a run before its rate is shown: jobs re-attached by a resume land at once


class RunView:
    """Everything the run screen shows, folded from events.

    Memory stays bounded whatever the batch size: one small record per worker slot, the
    last `error_limit` errors (with a running total), a fixed throughput history and one
    state per video key (a dict entry, no widgets).
    """

    def __init__(self, *, error_limit: int = 500, history: int = 40, bin_seconds: float = 15.0,
                 wall: Callable[[], float] = time.time) -> None:
        self.wall = wall   # the wall clock: daily limits reset at midnight UTC
        self.progress: Progress | None = None
        self.workers: dict[int, WorkerChanged] = {}
        self.errors: deque[ErrorLogged] = deque(maxlen=error_limit)
        self.errors_total = 0
        self.notice: Notice | None = None
        self.notices: deque[Notice] = deque(maxlen=50)
        self.notices_total = 0
        self.alert: Notice | None = None   # the last error notice (a halt): it stays on screen
        self.skipped: Counter[str] = Counter()   # batch lines that never became videos, by category
        self.concurrency: ConcurrencyChanged | None = None
        self.finished: BatchFinished | None = None
        self.video_states: dict[str, VideoState] = {}
        self.bin_seconds = bin_seconds
        self.history = history
        # (bin index, done count at the last Progress seen in that bin)
        self._bins: deque[tuple[int, int]] = deque(maxlen=history + 1)
        self._started: dict[int, tuple[str, float]] = {}   # slot -> (video key, when it took it)
        self._start = (0, 0, 0)   # (total, done, failed) of the session as the run began
        self.videos_changed = 0   # VideoChanged events seen: none means the run had nothing to do
        self.version = 0   # bumped on every fold; the screen repaints only when it moved

    # -- folding --------------------------------------------------------------------
    def apply(self, event: Event) -> None:
        self.version += 1
        if isinstance(event, WorkerChanged):
            self.workers[event.worker] = event
            # Every step of a video is a new event; elapsed is per video, so keep its start.
            held = self._started.get(event.worker)
            if not event.video_key:
                self._started.pop(event.worker, None)
            elif held is None or held[0] != event.video_key:
                self._started[event.worker] = (event.video_key, event.since)
        elif isinstance(event, VideoChanged):
            self.video_states[event.key] = event.state
            self.videos_changed += 1
        elif isinstance(event, ErrorLogged):
            self.errors.append(event)
            self.errors_total += 1
        elif isinstance(event, Progress):
            self.progress = event
            self._sample(event)
        elif isinstance(event, ConcurrencyChanged):
            self.concurrency = event
        elif isinstance(event, Notice):
            self.notice = event
            self.notices.append(event)
            self.notices_total += 1
            if event.level == "error":
                self.alert = event
            if event.line:   # a rejected or duplicate line: a row of the error log, counted for the summary
                self.skipped[event.category or "input"] += 1
                reason = event.message.split("): ", 1)[-1]
                self.errors.append(ErrorLogged(event.wall, f"line {event.line}", f"batch line {event.line}",
                                               event.category or "input", reason))
                self.errors_total += 1
        elif isinstance(event, BatchFinished):
            self.finished = event

    def apply_all(self, events) -> int:
        n = 0
        for event in events:
            self.apply(event)
            n += 1
        return n

    def _sample(self, p: Progress) -> None:
        index = int(p.elapsed // self.bin_seconds)
        if self._bins and self._bins[-1][0] == index:
            self._bins[-1] = (index, p.done)
        else:
            self._bins.append((index, p.done))

    # -- reading --------------------------------------------------------------------
    def begin(self, total: int, done: int, failed: int) -> None:
        """What the session holds as the run starts, so the first frame (before any Progress)
        already counts every video, not only those an event has named."""
        self._start = (total, done, failed)

    def totals(self) -> Totals:
        p = self.progress
        if p is not None:
            # The engine counts a video in flight from the moment a worker takes it; one still
            # waiting for a slot (the adaptive level is lower) is not running yet.
            waiting = sum(1 for w in self.workers.values() if w.activity is Activity.WAITING_SLOT)
            in_flight = max(p.in_flight - waiting, 0)
            queued = max(p.total - p.done - p.failed - in_flight, 0)
            rate = p.videos_per_min if p.elapsed >= RATE_AFTER else None
            return Totals(p.total, p.done, p.failed, in_flight, queued, rate, run_eta(p, self.wall()), p.elapsed)
        # Before the first Progress (e.g. just after a resume) count what the videos say.
        total, done, failed = self._start
        states = list(self.video_states.values())
        done = max(done, sum(s is VideoState.DONE for s in states))
        failed = max(failed, sum(s is VideoState.FAILED for s in states))
        total = max(total, len(states))
        in_flight = sum(1 for s in states if s not in (VideoState.DONE, VideoState.FAILED, VideoState.QUEUED))
        return Totals(total, done, failed, in_flight, max(total - done - failed - in_flight, 0), None, None, 0.0)

    def slots(self) -> int:
        """How many worker slots the run has used or may use now: stable for the whole run (a
        fixed level's rows from the start, auto's as they are first used), never one per video,
        nor auto's ceiling (300 idle rows)."""
        n = max(self.workers, default=-1) + 1
        if self.progress is not None:
            n = max(n, self.progress.concurrency)
        return n

    def worker_lines(self, now: float, doing_width: int | None = None) -> list[WorkerLine]:
        """One line per slot up to MAX_WORKER_ROWS; past that the rest of the slots fold into one
        "+ N more" line (hundreds in flight under auto: no screen shows them, and every row is
        synced at each repaint)."""
        slots = self.slots()
        shown = slots if slots <= MAX_WORKER_ROWS else MAX_WORKER_ROWS - 1
        lines = [describe_worker(self.workers.get(i), i, now, started=self._started.get(i, ("", None))[1],
                                 width=doing_width)
                 for i in range(shown)]
        if shown < slots:
            busy = sum(1 for i, w in self.workers.items() if i >= shown and w.activity is not Activity.IDLE)
            lines.append(WorkerLine("+", f"{slots - shown} more slots", f"{busy} of them busy", "", "", busy > 0))
        return lines

    def bucket_text(self) -> str:
        if self.progress is None:
            return ""
        # "per min" once, on the first bucket, so three buckets fit one 80-column line.
        return " · ".join(fmt_bucket(b, unit=i == 0) for i, b in enumerate(self.progress.buckets))

    def throughput(self) -> list[float]:
        """Videos per minute in each time bin, oldest first, left-padded with zeros to the
        full history so the chart reads as a time axis from its first minute on."""
        bins = list(self._bins)
        out: list[float] = []
        for (i0, d0), (i1, d1) in zip(bins, bins[1:]):
            span = (i1 - i0) * self.bin_seconds
            out.append(max(d1 - d0, 0) * 60.0 / span)
        return [0.0] * (self.history - len(out)) + out
