"""Who may touch a session, and how its failures read: the errors, the single-writer lock,
a damaged file kept aside, and discarding a session (its lock held while deleting)."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from ..errors import SessionError, SessionLocked
from .atomic import sweep_temp_files
from .format import corrupt_copy_name, journal_path, limiter_path, lock_path, parse_cache_path
from .lockfile import FileLock, LockBusy
from .pages import pages_dir


def disk_error(action: str, path: Path, exc: BaseException) -> SessionError:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        hint = "The disk is full: free some space, then resume the batch."
    else:
        hint = "Check that the folder is writable and the disk is healthy, then resume the batch."
    return SessionError(f"Could not {action} {path} ({exc}). {hint} Finished work recorded so far is safe.", "disk")


def damaged_error(path: Path, reason: str) -> SessionError:
    """The one message for a damaged session file, whatever the damage: a copy is kept aside
    (``<name>.corrupt-<timestamp>``), the file itself is left as it is, and the user learns how
    to start over without paying twice."""
    kept = keep_copy(path)
    return SessionError(
        f"The session file {path} is damaged: {reason}. It was left as it is and {kept}. "
        f"To run the batch again, move {path} away (only that file) and run it: the new session "
        "re-attaches to the jobs already paid for (their request ids are read from the kept copy "
        "and the journal beside it) and adopts the transcripts already in the output folder, so "
        "nothing done is paid for again."
    )


def take_lock(path: Path) -> FileLock:
    lock = FileLock(lock_path(path))
    try:
        lock.acquire()
    except LockBusy as busy:
        h = busy.holder
        if h.pid == os.getpid():
            msg = f"The session {path} is already open in this process."
        else:
            msg = (f"The session {path} is in use by another bulk-transcribe ({h.describe()}). "
                   "Let that one finish or stop it first; if it has ended, the lock is freed automatically.")
        raise SessionLocked(msg, h) from None
    except OSError as exc:
        raise disk_error("lock", lock.path, exc) from exc
    return lock


def sweep_debris(path: Path) -> list[Path]:
    """Remove the temp files a crash left beside the session `path` (its head, parse cache and
    limiter sidecar) and in its pages folder. Call it holding the session's lock: every writer of those files holds it,
    so no such temp file belongs to a live process. Never raises."""
    targets = {path.name, parse_cache_path(path).name, limiter_path(path).name}
    removed = sweep_temp_files(path.parent, targets, locked=True)
    if pages_dir(path).is_dir():   # the folder is the session's own: every temp file of ours in it is debris
        removed += sweep_temp_files(pages_dir(path), locked=True)
    return removed


def keep_copy(path: Path) -> str:
    aside = corrupt_copy_name(path)
    try:
        shutil.copy2(path, aside)
    except OSError as exc:
        return f"no copy could be kept ({exc})"
    return f"a copy was kept at {aside}"


def discard_session(path: Path | str) -> None:
    """Delete a session's head, pages folder and journal, holding its lock while doing so.

    The ``.lock`` sidecar stays (see lockfile.py: deleting it would let two processes lock two
    different inodes); transcripts and reports are not touched. A missing session is not an error.
    Raises SessionLocked if another process (or another open in this one) holds the session,
    SessionError (category ``disk``) if the files cannot be removed.
    """
    path = Path(path)
    lock = take_lock(path)
    try:
        for doomed in (path, journal_path(path), limiter_path(path), parse_cache_path(path)):
            try:
                doomed.unlink(missing_ok=True)
            except OSError as exc:
                raise disk_error("delete", doomed, exc) from exc
        try:
            if pages_dir(path).is_dir():
                shutil.rmtree(pages_dir(path))
        except OSError as exc:
            raise disk_error("delete", pages_dir(path), exc) from exc
    finally:
        lock.release()
