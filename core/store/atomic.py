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
import re
import sys
import time
from pathlib import Path
from typing import Iterable

_WINDOWS = sys.platform == "win32"
PRIVATE = 0o600   # the session, its journal, lock, caches and the report: titles and request ids are the user's business


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


# Our temp files: ``.<target name>.<pid>.<monotonic ns>.tmp`` beside the target.
_TEMP = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)\.(?P<ns>\d+)\.tmp$")


def temp_path(path: Path | str) -> Path:
    """A fresh temp file name beside `path`, in the one naming `sweep_temp_files` knows."""
    path = Path(path)
    return path.parent / f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp"


def orphan_name(path: Path) -> Path:
    """A fresh ``<path>.orphan-<timestamp>`` beside `path` (never an existing one): where a file
    or folder a new session must not reuse is kept aside, never deleted."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate, n = path.with_name(f"{path.name}.orphan-{stamp}"), 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.orphan-{stamp}-{n}")
    return candidate


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True   # someone else's live process (or unknowable): leave it
    return True


def sweep_temp_files(directory: Path | str, targets: Iterable[str] | None = None, *, locked: bool = False,
                     min_age: float = 3600.0) -> list[Path]:
    """Remove temp files of our naming in `directory` that a crash (kill -9, power loss) left.

    Only names of the form ``.<target>.<pid>.<ns>.tmp`` are touched, and with `targets` only
    those of these target names. With ``locked=True`` the caller holds the lock that every
    writer of those targets holds (a session's flock), so none of them belongs to a live
    writer: all go. Otherwise a file goes only if the process in its name is dead here and the
    file is older than `min_age` seconds (a shared folder may hold another host's live writes).
    Returns what was removed; never raises."""
    wanted = set(targets) if targets is not None else None
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP.match(entry.name)
        if m is None or (wanted is not None and m.group("target") not in wanted):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            if not locked and (_pid_alive(int(m.group("pid"))) or now - entry.stat().st_mtime < min_age):
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def atomic_write_bytes(path: Path | str, data: bytes | Iterable[bytes], *, mode: int | None = None) -> None:
    """Replace `path` with `data` atomically and durably. `data` may be an iterable of chunks,
    written as they come (a 100,000-row report need not exist whole in memory).

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
    tmp = str(temp_path(path))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
    replaced = False
    try:
        try:
            if not _WINDOWS:
                os.fchmod(fd, mode)  # O_CREAT's mode is filtered by the umask; keep the old bits exactly
            for chunk in (data,) if isinstance(data, (bytes, bytearray, memoryview)) else data:
                _write_all(fd, chunk)
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
