"""The engine's typed event stream: small frozen records of what happened.

Both faces (the headless printer and the Textual app) consume exactly these; neither
holds behaviour of its own. Events are named for what happened, not for what a UI
should do with it. Times are `time.monotonic()` unless the field name says `wall`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Callable, Union

from .model import VideoState


class Activity(str, Enum):
    IDLE = "idle"
    SUBMITTING = "submitting"
    WAITING_RATE = "waiting for the rate limit"
    WAITING_SLOT = "waiting for a slot"       # adaptive concurrency holds it back
    PAUSED = "paused"
    TRANSCRIBING = "transcribing"
    DOWNLOADING = "downloading"               # the result, from deAPI
    DOWNLOADING_AUDIO = "downloading audio"   # the media, with yt-dlp, to upload (detail: "43 % of 18 MB")
    SPLITTING = "splitting audio"             # into chunks under the upload cap
    UPLOADING = "uploading"                   # a source_file submit on the wire
    BACKING_OFF = "backing off"
    WRITING = "writing"
    CAPTIONS = "fetching captions"


@dataclass(frozen=True, slots=True)
class WorkerChanged:
    """A worker slot started doing something else.

    `detail` is the human reason ("429 from submit", "503 Service Unavailable"),
    `until` a monotonic deadline for countdowns (rate waits, backoff), `progress` 0-100.
    """

    worker: int
    activity: Activity
    video_key: str = ""
    label: str = ""
    detail: str = ""
    progress: float | None = None
    until: float | None = None
    since: float = 0.0
    method: str = ""            # the video's `Method` value, "" before it has one


@dataclass(frozen=True, slots=True)
class VideoChanged:
    key: str
    index: int
    state: VideoState
    label: str
    request_id: str = ""
    attempts: int = 0
    category: str = ""
    message: str = ""
    outputs: tuple[str, ...] = ()
    method: str = ""            # `model.Method` value: captions, captions-auto, deapi-url, deapi-upload


@dataclass(frozen=True, slots=True)
class ErrorLogged:
    """One failure worth showing in the error log (also retried ones: `will_retry`)."""

    wall: float
    key: str
    label: str
    category: str
    message: str
    status: int | None = None
    request_id: str = ""
    will_retry: bool = False


@dataclass(frozen=True, slots=True)
class BucketUsage:
    name: str                  # "submit", "status" or "account" (shared mode)
    used_60s: int
    per_minute: int
    used_today: int = 0
    per_day: int | None = None
    paused_for: float = 0.0    # seconds left of a Retry-After / daily pause
    source: str = ""           # where per_minute came from: "header", "preset" (plan) or "flag"


@dataclass(frozen=True, slots=True)
class ServerTrouble:
    """deAPI has answered only server errors (5xx) for a while (`run/outage.py`): its latest
    status (None: an unreadable answer), since when and how many tries, the soonest next try."""

    status: int | None
    since: float
    tries: int
    next_try: float | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """A periodic snapshot of the whole batch (a few per second at most)."""

    total: int
    done: int
    failed: int
    in_flight: int
    queued: int
    elapsed: float
    videos_per_min: float
    eta_seconds: float | None
    buckets: tuple[BucketUsage, ...]
    concurrency: int           # current adaptive level
    max_concurrency: int
    submitting_paused: bool = False
    stopping: bool = False
    cost: float = 0.0          # USD spent so far on this session's videos (deAPI's prices, else estimates)
    in_doubt: int = 0          # videos whose submit may have been paid but whose answer was lost
    sources_pending: int = 0   # playlists, channels and pages still being expanded
    lookups_pending: int = 0   # metadata lookups (titles, durations) still to do
    concurrency_reason: str = ""   # why the level is what it is ("auto: 300/min × 24 s"), auto only
    server_trouble: ServerTrouble | None = None   # a long run of 5xx answers, while it lasts


@dataclass(frozen=True, slots=True)
class ConcurrencyChanged:
    level: int
    reason: str


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the user should read that belongs to no single video
    (a daily limit reached, a bad batch line, the session saved)."""

    wall: float
    level: str   # "info" | "warning" | "error"
    message: str
    line: int = 0        # a notice about one line of the batch (skipped: rejected or a duplicate)
    category: str = ""   # and why, as the report says it ("input", "source", "duplicate")


@dataclass(frozen=True, slots=True)
class BatchFinished:
    total: int
    done: int
    failed: int
    remaining: int
    possibly_paid: int
    failures_by_category: tuple[tuple[str, int], ...]
    report_path: str
    output_dir: str
    session_path: str
    stopped: bool   # ended by a stop or quit, not by running out of work
    in_doubt: int = 0           # failed in doubt: possibly paid, not sent again (see `resubmit_in_doubt`)
    in_doubt_cost: float = 0.0  # USD those would cost if deAPI did charge them (estimate)
    cost: float = 0.0           # USD spent on this session's videos
    report_written: bool = True  # False when the report could not be written (report_path is then stale)
    halted: str = ""            # why submitting stopped for good (a refused key, no balance, a full disk) and what to do
    methods: tuple[tuple[str, int], ...] = ()   # done videos by `Method` value, e.g. (("captions", 3), ("deapi-url", 2))
    rejected: int = 0           # batch lines skipped as unusable (not a URL, a source that gave nothing): not transcribed
    duplicates: int = 0         # batch lines skipped as repeats of an earlier line (nothing lost)


Event = Union[WorkerChanged, VideoChanged, ErrorLogged, Progress, ConcurrencyChanged, Notice, BatchFinished]
EventSink = Callable[[Event], None]
