"""The batch's vocabulary: a video and the states it moves through."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Sequence


class VideoState(str, Enum):
    QUEUED = "queued"
    SUBMITTING = "submitting"      # a submit is on the wire: the video is "in doubt" until it answers
    SUBMITTED = "submitted"        # request id known and on disk
    TRANSCRIBING = "transcribing"  # deAPI reports pending/processing
    DOWNLOADING = "downloading"    # fetching the result
    DONE = "done"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (VideoState.DONE, VideoState.FAILED)


class Method(str, Enum):
    """How a video's transcript came (or is coming): recorded per video in the session, the
    outputs, the report's `method` column and the events. Only the deAPI ones are paid."""

    CAPTIONS = "captions"            # the video's own subtitles, uploaded by its creator (free)
    CAPTIONS_AUTO = "captions-auto"  # the site's automatic captions (free, lower quality)
    DEAPI_URL = "deapi-url"          # deAPI fetched the video from its link (paid)
    DEAPI_UPLOAD = "deapi-upload"    # downloaded here and uploaded to deAPI as a file (paid)

    @property
    def paid(self) -> bool:
        return self in (Method.DEAPI_URL, Method.DEAPI_UPLOAD)


METHODS = tuple(m.value for m in Method)


@dataclass(slots=True)   # slots: a 100,000-video session holds 100,000 of these (no __dict__ each)
class Video:
    """One distinct video of a batch, as the engine and the session file know it.

    `key` is the dedupe key (e.g. ``youtube:dQw4w9WgXcQ``), `vid` the short id used in names.
    """

    key: str
    url: str
    vid: str
    line: int = 0                    # first input line it came from (1-based; 0 = expanded)
    source: str = ""                 # the input line it was expanded from, when different
    title: str = ""
    duration: float | None = None    # seconds, when known
    channel: str = ""
    upload_date: str = ""
    state: VideoState = VideoState.QUEUED
    request_id: str = ""
    attempts: int = 0                # submits sent (paid or possibly paid)
    polls: int = 0
    category: str = ""               # last error category, "" if none
    message: str = ""                # last error message
    retryable: bool = False          # whether the last failure may be retried on resume
    possibly_paid: bool = False      # a submit was sent whose answer was never recorded
    cost: float = 0.0                # USD known spent on this video's jobs (deAPI's price, else the estimate)
    # The three list fields default to the one shared empty tuple, not a new empty list each (a
    # 100,000-video session would hold 300,000 of them); a value set is a list, always replaced
    # whole (never appended to in place).
    outputs: Sequence[str] = ()
    method: str = ""                 # a `Method` value: how its transcript came ("" = not started)
    language: str = ""               # the video's original language, when the site says (yt-dlp's `language`)
    captions: Sequence[str] = ()   # its caption tracks (sources/captions.py's compact form)
    captions_known: bool = False     # whether `captions` comes from a lookup (an empty list then means none)
    submitted_at: float = 0.0        # wall clock (time.time()) of the accepted submit
    finished_at: float = 0.0
    download_failures: int = 0       # deAPI jobs that ended SOURCE_DOWNLOAD_FAILED (--upload-fallback)
    # An upload's pieces (one when it fits the cap), each a table: i, offset, seconds, size,
    # request_id, state (queued|submitting|submitted|done|failed), attempts, cost. See run/upload.py.
    chunks: Sequence[dict] = ()

    @property
    def label(self) -> str:
        return self.title or self.vid
