"""Error categories the user can act on, and the exceptions the engine deals in.

Every transport or API failure is mapped to a `Category` at the client boundary; the faces
render categories and messages, never tracebacks. Every exception of the project, and where
it lives (each message already says what to do)::

    Exception
    ├── DeapiError            here: a failed deAPI call or job, with its Category
    ├── SessionError          here: a session cannot be read, written or used
    │   └── SessionLocked     here: another process holds the session
    ├── KeyRefused            launch.py: deAPI refused the key before anything was paid (exit 2)
    ├── SourceFailure         sources/expand.py: a yt-dlp call failed (never leaves sources/)
    │   └── NoRoom            sources/download.py: the disk had no room, nothing was downloaded
    ├── CaptionFetchFailed    sources/captions.py: a caption file could not be fetched (its HTTP status)
    ├── DownloadStopped       sources/download.py: the run quit during a download
    ├── MediaError            media/chunks.py: a file cannot be cut into uploads
    ├── LockBusy              store/lockfile.py: the flock is held (store/access.py turns it into SessionLocked)
    ├── RuntimeDirError       service/paths.py: the service's folder is missing or unsafe
    ├── ProtocolError         service/protocol.py: the peer broke the service's protocol
    │   ├── LineTooLong       service/protocol.py: a message over the line limit
    │   └── IncompleteMessage service/protocol.py: the connection closed mid-message
    ├── RequestFailed         service/client.py: the service answered ok: false
    ├── RequestError          service/server.py: a handler's ok: false, with its code
    ├── ConnectionError
    │   ├── ServiceNotRunning     service/client.py: no service listens
    │   └── ServiceDisconnected   service/client.py: the connection ended (the service's reason)
    ├── PermissionError
    │   └── PeerRefused       service/peer.py: the peer at the socket is another user
    ├── RuntimeError
    │   ├── ServiceStartFailed    service/spawn.py: the service could not be started (its log's end)
    │   ├── ServiceRunning        service/listen.py: another service of this user runs
    │   └── PeerCheckUnavailable  service/peer.py: this platform cannot tell who is at a socket
    └── ValueError
        ├── SettingsError     settings.py: a setting is out of range or unknown
        ├── BatchError        sources/batch.py: the batch file as a whole cannot be read
        ├── UrlError          sources/urls.py: not a usable video URL (a bad line, not a bad file)
        ├── CaptionFormatError    sources/subtitles.py: not captions in the format it claims
        ├── NewerVersion      store/format.py: a session written by a newer version
        ├── EventDecodeError  service/codec.py: a dict that is no valid event
        │   └── UnknownEventKind  service/codec.py: an event kind of a newer peer (skipped)
        └── FormError         simulator/forms.py: the simulator could not read a request body

The faces add one of their own: `UsageError` (tui/options.py), a bad command line: exit 2.
(tests/test_architecture.py checks that every exception class of core/ and tui/ is in this map.)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class Category(str, Enum):
    AUTH = "auth"                      # 401/403: bad, missing or suspended key
    BALANCE = "balance"                # not enough credit (422 errors.balance, 402, or our own guard)
    BUDGET = "budget"                  # the next submit would go over --max-cost
    VALIDATION = "validation"          # 422/400/413: the request itself is wrong
    RATE_LIMITED = "rate-limited"      # 429
    SERVER = "server"                  # 5xx, HTML gateway pages, unreadable answers
    NETWORK = "network"                # connect/read errors and timeouts
    JOB_FAILED = "job-failed"          # the job ended in `error` on deAPI's side
    RESULT_EXPIRED = "result-expired"  # the pre-signed result link answered 403/404
    NOT_FOUND = "not-found"            # unknown request id (404 on a job)
    INPUT = "input"                    # a bad batch line or an unsupported URL
    SOURCE = "source"                  # expansion/metadata failures (yt-dlp)
    TIMEOUT = "wait-limit"             # our own per-video wait limit ran out (job kept)
    DISK = "disk"                      # could not write an output or the session
    IN_DOUBT = "in-doubt"              # a submit reached deAPI and its answer was lost: maybe paid
    RESULT = "result"                  # deAPI's result cannot give the outputs asked for
    INTERNAL = "internal"              # a bug: reported, never fatal to the batch
    NO_CAPTIONS = "no-captions"        # --captions only: the video has none in the wanted language
    CAPTIONS = "captions"              # --captions only: its captions could not be looked up or fetched


# Categories worth another attempt of the same call after a pause.
TRANSIENT = frozenset({Category.RATE_LIMITED, Category.SERVER, Category.NETWORK})


@dataclass(eq=False)
class DeapiError(Exception):
    """A failed call or job, already classified.

    `retryable` says whether the same step may be tried again; for JOB_FAILED it is
    deAPI's own `retryable` field. `retry_after` is seconds to wait (429 and some 503s).
    """

    category: Category
    message: str
    status: int | None = None
    retryable: bool = False
    retry_after: float | None = None
    request_id: str | None = None
    error_reason: str | None = None   # deAPI's error_reason on failed jobs
    rate_limit_type: str | None = None  # "minute" | "daily" from X-RateLimit-Type
    maybe_created: bool = False  # a submit whose answer was lost or unreadable: a job may exist (and be paid)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        bits = [self.category.value]
        if self.status is not None:
            bits.append(str(self.status))
        return f"[{' '.join(bits)}] {self.message}"


class SessionError(Exception):
    """The session cannot be read, written or used; the message says what happened and what to do.

    `category` is ``"disk"`` when an OSError (disk full, permissions, I/O error) caused it,
    ``"session"`` for a damaged or incompatible file, ``"locked"`` for SessionLocked.
    """

    def __init__(self, message: str, category: str = "session") -> None:
        super().__init__(message)
        self.category = category


class SessionLocked(SessionError):
    """Another process (or another open in this one) holds the session; `holder` says who."""

    def __init__(self, message: str, holder: Any) -> None:
        super().__init__(message, "locked")
        self.holder = holder
