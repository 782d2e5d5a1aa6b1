"""The headless face: the engine's events as readable lines on stderr, or JSON lines on stdout.

Readable mode prints a line per video that ends, per error and notice, and a summary line
at most every `every` seconds; JSON mode prints one object per event (progress at most
once a second), each with its wall-clock `time` (ISO 8601 UTC). Neither holds behaviour: both only render what the engine emitted.
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
import time
from enum import Enum
from typing import IO

from ..core.durations import fmt_duration
from ..core.events import (
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
from ..core.sanitize import clean, json_text
from .text import finding_text, fmt_bucket, methods_text, outage_text, run_eta


class HeadlessPrinter:
    def __init__(self, *, json_lines: bool = False, out: IO[str] | None = None, err: IO[str] | None = None,
                 every: float = 10.0, clock=time.monotonic) -> None:
        self.json_lines = json_lines
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.every = every
        self.clock = clock
        self._last_summary = -1e9
        self._last_json_progress = -1e9
        self.finished: BatchFinished | None = None
        self._gone: set[IO[str]] = set()

    def __call__(self, event: Event) -> None:
        if self.json_lines:
            self._json(event)
        else:
            self._text(event)

    # -- JSON lines --------------------------------------------------------------------
    def _json(self, event: Event) -> None:
        if isinstance(event, WorkerChanged):
            return
        if isinstance(event, Progress):
            now = self.clock()
            if now - self._last_json_progress < 1.0:
                return
            self._last_json_progress = now
        if isinstance(event, BatchFinished):
            self.finished = event
        record = {"event": type(event).__name__, "time": _utc_now(), **_plain(dataclasses.asdict(event))}
        self._write(self.out, json_text(record) + "\n")   # only printable ASCII: titles and messages escaped

    def _write(self, stream: IO[str], text: str) -> None:
        """Write and flush; a stream that has gone (a closed pipe, a hung-up terminal) is dropped
        quietly, so the run goes on (and saves) with nobody reading."""
        if stream in self._gone:
            return
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):
            self._gone.add(stream)

    # -- readable lines ----------------------------------------------------------------
    def _line(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self._write(self.err, f"{stamp} {text}\n")

    def _text(self, event: Event) -> None:
        if isinstance(event, VideoChanged):
            if event.state is VideoState.DONE:
                out = f" -> {clean(event.outputs[0])}" if event.outputs else ""
                how = f" ({clean(event.method)})" if event.method and event.method != "deapi-url" else ""
                self._line(f"done    {clean(event.label)}{how}{out}")
            elif event.state is VideoState.FAILED:
                self._line(f"FAILED  {clean(event.label)}: [{clean(event.category)}] {clean(event.message)}")
        elif isinstance(event, ErrorLogged):
            if event.will_retry:
                status = f" {event.status}" if event.status else ""
                self._line(f"retry   {clean(event.label)}: [{clean(event.category)}{status}] {clean(event.message)}")
        elif isinstance(event, Notice):
            self._line(f"{clean(event.level):<7} {clean(event.message)}")
        elif isinstance(event, ConcurrencyChanged):
            self._line(f"info    concurrency {clean(event.reason)}")
        elif isinstance(event, Progress):
            now = self.clock()
            if now - self._last_summary >= self.every:
                self._last_summary = now
                self._line(progress_line(event, now))
        elif isinstance(event, BatchFinished):
            self.finished = event
            self._write(self.err, summary_text(event) + "\n")


def progress_line(p: Progress, now: float | None = None) -> str:
    """One progress line; `now` (monotonic, the engine's clock) times a server outage in it."""
    eta = fmt_duration(eta) if (eta := run_eta(p, time.time())) is not None else "?"   # daily limits included
    buckets = "  ".join(fmt_bucket(b) for b in p.buckets)
    if p.concurrency_reason:
        level = f"  level {p.concurrency} ({p.concurrency_reason})"
    else:
        level = f"  level {p.concurrency}/{p.max_concurrency}" if p.concurrency != p.max_concurrency else ""
    finding = f"  ({finding})" if (finding := finding_text(p)) else ""
    outage = outage_text(p, time.monotonic() if now is None else now)
    outage = f"  {outage}" if outage else ""
    return (f"{p.done + p.failed}/{p.total}  done {p.done}  failed {p.failed}  in flight {p.in_flight}  "
            f"{p.videos_per_min:.1f}/min  ETA {eta}  {buckets}{level}{finding}{outage}")


def summary_text(f: BatchFinished) -> str:
    """The closing lines. Paths and categories come from files and the session: cleaned, and a
    path in a suggested command is quoted for the shell."""
    session = clean(f.session_path)
    lines = [
        "",
        f"{'Stopped' if f.stopped else 'Finished'}: {f.done} done, {f.failed} failed, {f.remaining} not finished "
        f"(of {f.total})",
    ]
    for category, n in f.failures_by_category:
        lines.append(f"  failed, {clean(category)}: {n}")
    if f.rejected:   # lines of the batch that never became videos: the run did not do all it was given
        lines.append(f"  skipped lines: {f.rejected} (not a URL, or a source that listed nothing; "
                     "each is named above and in the report): fix them and run the batch again")
    if f.duplicates:
        lines.append(f"  duplicate lines skipped: {f.duplicates}")
    if f.halted:   # why submitting stopped (a refused key, no balance, an unwritable folder...)
        lines.append(f"  submitting stopped: {clean(f.halted)}")
    if how := methods_text(f.methods):
        lines.append(f"  done by: {how}")
    if f.cost:
        lines.append(f"  spent about ${f.cost:.4f}")
    if f.in_doubt:
        lines.append(f"  {f.in_doubt} video(s) in doubt: their submit reached deAPI but the answer was lost, so "
                     f"deAPI may have charged them (about ${f.in_doubt_cost:.4f}); they were not sent again")
        lines.append(f"  to pay for them again: bulk-transcribe resume {shlex.quote(session)} --headless --resubmit-in-doubt")
    lines.append(f"Transcripts: {clean(f.output_dir)}")
    if f.report_written:
        lines.append(f"Report:      {clean(f.report_path)}")
    else:
        lines.append("Report:      not written (see the error above)")
    lines.append(f"Session:     {session}")
    if f.remaining or (f.failed > f.in_doubt):
        lines.append(f"Resume with: bulk-transcribe resume {shlex.quote(session)} --headless")
    return "\n".join(lines)


def _utc_now() -> str:
    """The wall clock in ISO 8601 UTC to the millisecond (`2026-12-02T07:20:01.123Z`): every JSON
    event carries one, so a log of them says when each thing happened."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


def _plain(value):
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
