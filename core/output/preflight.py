"""Checks before paying: can the run write where it must, with room to spare?

A transcript is paid for before it is written, so a folder that refuses writes (read-only, a
path through a file, no permission) or a disk about to fill would turn every submit into money
lost. `folder_problem` is asked once before the first submit, for the output folder and the
session's folder.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

MIN_FREE_BYTES = 50 * 1024 * 1024   # below this much free space a run does not start submitting
PROBE_NAME = ".bulk-transcribe-write-probe"


def folder_problem(folder: str | Path, what: str, *, min_free: int = MIN_FREE_BYTES) -> str | None:
    """None when `folder` (created if missing) takes a new file and has `min_free` bytes free;
    else one sentence naming the folder, what is wrong and what to do. Never raises."""
    path = Path(folder).absolute()
    try:
        path.mkdir(parents=True, exist_ok=True)
        # pid and a random part: the service runs several batches (one folder, one pid) at once
        probe = path / f"{PROBE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"probe\n")
        finally:
            os.close(fd)
            probe.unlink(missing_ok=True)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return (f"the {what} {path} cannot be written ({reason}): make it writable or choose another "
                "folder (--output for transcripts); nothing was submitted")
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return None   # no answer about space is not a reason to stop; the write test passed
    if free < min_free:
        return (f"the {what} {path} has only {free / 1e6:.1f} MB free (at least {min_free / 1e6:.0f} MB "
                "needed): free some space or choose another folder; nothing was submitted")
    return None
