"""Crash-safe whole-file writes: a reader sees the old file or the new one, never a mix.

The protocol: write a unique temp file in the target's directory, flush, fsync it,
``os.replace`` it over the target, then fsync the directory so the rename itself is
durable. If any step fails the temp file is removed and the old target is untouched.
A failed fsync is never retried (on Linux the error is reported once and the dirty
pages may then be dropped); the caller gets the OSError and may write again from memory
into a *new* temp file.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

_WINDOWS = sys.platform == "win32"


def _read_umask() -> int:
    # os.umask can only be read by setting it; do it once at import, before threads start.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new directory entry in `directory` durable (no-op on Windows).

    Raises OSError if the directory cannot be opened or synced.
    """
    if _WINDOWS:
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path | str) -> None:
    """Create the folder `path` and any missing parents, each made durable by an fsync of the
    folder that holds it (SQLite's rule: a new directory entry is on disk only once its parent
    is synced). An existing folder costs one stat. Raises OSError (e.g. a file is in the way)."""
    path = Path(path)
    if path.is_dir():
        return
    missing = []
    p = path
    while not p.is_dir():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d)
        except FileExistsError:
            if not d.is_dir():
                raise
            continue   # made by someone else meanwhile: theirs to sync
        fsync_dir(d.parent)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _replace(src: str, dst: Path) -> None:
    if not _WINDOWS:
        os.replace(src, dst)
        return
    # Antivirus and indexers briefly hold files open on Windows; give them a moment.
    delay = 0.01
    for attempt in range(10):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if attempt == 9:
                raise
            time.sleep(delay)
            delay *= 2


def atomic_write_bytes(path: Path | str, data: bytes, *, mode: int | None = None) -> None:
    """Replace `path` with `data` atomically and durably.

    The new file keeps the old file's permission bits, or gets ``0o666 & ~umask`` (or
    `mode`) when it is new. Raises OSError (ENOSPC, EACCES, EIO...) from any step; when
    it does, the previous content of `path` is intact and no temp file is left behind.
    If only the final directory fsync fails, the new content is in place but possibly
    not yet durable; the error is still raised.
    """
    path = Path(path)
    directory = path.parent
    if mode is None:
        try:
            mode = os.stat(path).st_mode & 0o777
        except FileNotFoundError:
            mode = 0o666 & ~_UMASK
    tmp = str(directory / f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
    replaced = False
    try:
        try:
            if not _WINDOWS:
                os.fchmod(fd, mode)  # O_CREAT's mode is filtered by the umask; keep the old bits exactly
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        _replace(tmp, path)
        replaced = True
    finally:
        if not replaced:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    fsync_dir(directory)


def atomic_write_text(path: Path | str, text: str, *, encoding: str = "utf-8", mode: int | None = None) -> None:
    """`atomic_write_bytes` for text; newlines are written exactly as given (no translation)."""
    atomic_write_bytes(path, text.encode(encoding), mode=mode)
