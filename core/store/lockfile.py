"""One writer per session: an OS lock on a sidecar file that is never renamed or deleted.

The session file itself is never locked, because ``os.replace`` swaps its inode at every
checkpoint. The sidecar is never deleted either: deleting it would let two contenders lock
two different inodes. ``flock`` is bound to the open file description, so closing some
other descriptor of the file does not drop it (unlike POSIX record locks), and the kernel
releases it when the holder dies, even by ``kill -9``: there are no stale locks.
The holder writes its pid, host and start time into the file for the contender's message.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if sys.platform == "win32":  # pragma: no cover - exercised only on Windows
    import msvcrt
else:
    import fcntl

# On Windows the locked byte sits far beyond the text so the holder info stays readable.
_WIN_LOCK_OFFSET = 1 << 30


@dataclass(frozen=True)
class LockHolder:
    pid: int | None
    host: str
    started: float | None

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started)) if self.started else "an unknown time"
        pid = self.pid if self.pid is not None else "unknown"
        return f"pid {pid} on host {self.host or 'unknown'}, started {when}"


class LockBusy(Exception):
    """Another open file description (another process, or another open in this one) holds the lock."""

    def __init__(self, path: Path, holder: LockHolder) -> None:
        super().__init__(f"{path} is held by {holder.describe()}")
        self.path = path
        self.holder = holder


def read_holder(path: Path) -> LockHolder:
    """Best-effort read of what the holder wrote; never raises."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8") or "{}")
        return LockHolder(int(data["pid"]), str(data.get("host", "")), float(data.get("started", 0)) or None)
    except (OSError, ValueError, KeyError, TypeError):
        return LockHolder(None, "", None)


class FileLock:
    """An exclusive, non-blocking lock on `path` (created if missing, never deleted)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise LockBusy at once (no waiting). OSError if the file cannot be opened."""
        if self._fd is not None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if sys.platform == "win32":  # pragma: no cover
                os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            else:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise LockBusy(self.path, read_holder(self.path)) from None
        self._fd = fd
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        try:
            if sys.platform != "win32":
                os.fchmod(fd, 0o600)   # a lock file an older version made 0644
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, json.dumps(info).encode())
        except OSError:
            pass  # the info is only for messages; the lock itself is what matters

    def release(self) -> None:
        """Drop the lock (idempotent). The file stays, so the next holder locks the same inode."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if sys.platform == "win32":  # pragma: no cover
                os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        except OSError:
            pass
        finally:
            os.close(fd)  # closing the last descriptor of the description drops a flock
