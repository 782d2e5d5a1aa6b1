"""The session's write-ahead journal: JSON lines appended and fsynced in groups.

Each line is ``{"seq": n, "key": video_key, "set": {field: value}}``. Values are absolute,
so replaying a line twice is harmless; that is what makes a checkpoint safe at every step
(lines already folded into the TOML are simply skipped by seq on replay).

A crash in the middle of an append leaves a torn last line; `read_journal` ignores it and
`Journal.open` cuts it off so the next append starts on a clean line. A failed append is
cut back to where it started, so a later append never glues onto half a line.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .atomic import fsync_dir


@dataclass
class JournalRead:
    records: list[dict[str, Any]] = field(default_factory=list)
    good_size: int = 0          # bytes up to the end of the last well-formed line
    torn_tail: bool = False     # the file ended in a partial or unreadable line
    damaged_lines: list[int] = field(default_factory=list)  # unreadable lines followed by good ones


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        rec = json.loads(line)
    except (ValueError, RecursionError):   # UnicodeDecodeError is a ValueError
        return None
    if (
        isinstance(rec, dict)
        and isinstance(rec.get("seq"), int)
        and not isinstance(rec.get("seq"), bool)
        and isinstance(rec.get("key"), str)
        and isinstance(rec.get("set"), dict)
    ):
        return rec
    return None


def read_journal(path: Path) -> JournalRead:
    """Read every well-formed record in file order. A missing file reads as empty.

    An unreadable line at the end is a torn append and is skipped silently. An unreadable
    line *followed by* good ones cannot come from our own appends; it is skipped too, but
    reported in `damaged_lines` so the caller can keep a copy and warn.
    Raises OSError if the file exists but cannot be read.
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return JournalRead()
    out = JournalRead()
    pending_bad: list[int] = []
    pos = 0
    lineno = 0
    while pos < len(data):
        lineno += 1
        end = data.find(b"\n", pos)
        complete = end != -1
        line = data[pos : end if complete else len(data)]
        pos = end + 1 if complete else len(data)
        rec = _parse(line) if complete else None
        if rec is None:
            if line.strip(b" \t\r\x00"):
                pending_bad.append(lineno)
            continue
        out.records.append(rec)
        out.damaged_lines.extend(pending_bad)
        pending_bad = []
        out.good_size = pos
    out.torn_tail = out.good_size < len(data)
    return out


class Journal:
    """An open, append-only journal file. Synchronous: the session calls it from a worker thread."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def open(self, keep_bytes: int | None) -> None:
        """Open for appending, creating the file (and syncing its directory entry) if needed.

        `keep_bytes` cuts the file to that size first (a torn tail found by `read_journal`);
        ``None`` keeps it as is, ``0`` empties it. Raises OSError.
        """
        existed = self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        try:
            if keep_bytes is not None and os.fstat(fd).st_size != keep_bytes:
                os.ftruncate(fd, keep_bytes)
                os.fsync(fd)
            if not existed:
                fsync_dir(self.path.parent)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def append(self, records: list[dict[str, Any]]) -> None:
        """Append the records as lines and fsync once. Raises OSError; the file is then cut back."""
        fd = self._require()
        data = b"".join(
            json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n" for r in records
        )
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError:
            try:
                os.ftruncate(fd, start)
            except OSError:
                pass
            raise

    def truncate(self) -> None:
        """Empty the journal after its records were folded into the TOML. Raises OSError."""
        fd = self._require()
        os.ftruncate(fd, 0)
        os.fsync(fd)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def _require(self) -> int:
        if self._fd is None:
            raise OSError("the journal is not open")
        return self._fd
