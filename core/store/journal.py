"""The session's write-ahead journal: JSON lines appended and fsynced in groups.

Each line is ``{"seq": n, "key": video_key, "set": {field: value}, "c": checksum}``; a video
added to a running session (a playlist expanded while the batch runs) is a line that also has
``"add": true``, with its whole row in ``set``. Values are absolute, so replaying a line twice is
harmless; that is what makes a checkpoint safe at every step (lines already folded into the
snapshot are simply skipped by seq on replay).

``c`` is a blake2b (8 bytes, hex) of the record's canonical JSON: the line's own bytes as
written without the ``c`` field (compact separators, keys in the order seq, key, set). A line
whose checksum does not match is skipped as damaged; lines without ``c`` (older versions)
are read as before.

A crash in the middle of an append leaves a torn last line, or (when the file system had
grown the file but not yet written its data) a tail of zero bytes; `read_journal` skips
either and says so (`JournalRead.problems`), and `Journal.open` cuts it off so the next
append starts on a clean line. A failed append is cut back to where it started, so a later
append never glues onto half a line.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .atomic import _WINDOWS, PRIVATE, fsync_dir

_CHECK = re.compile(rb',"c":"([0-9a-f]{16})"}$')


def checksum(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=8).hexdigest()


def encode_record(record: dict[str, Any]) -> bytes:
    """One journal line (with its trailing newline): the canonical JSON plus its checksum."""
    body = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return body[:-1] + b',"c":"' + checksum(body).encode("ascii") + b'"}\n'


@dataclass
class JournalRead:
    records: list[dict[str, Any]] = field(default_factory=list)
    good_size: int = 0          # bytes up to the end of the last well-formed line
    torn_tail: bool = False     # the file ended in bytes that are not a good line (a torn or zero-filled tail)
    zero_tail: bool = False     # ... and those bytes are all zeros
    tail_bytes: int = 0         # how many bytes follow the last good line
    damaged_lines: list[int] = field(default_factory=list)  # unreadable lines followed by good ones
    bad_checksums: list[int] = field(default_factory=list)  # well-formed lines whose checksum failed, followed by good ones
    zero_bytes: int = 0         # zero bytes skipped between good lines

    @property
    def damaged(self) -> bool:
        """Something other than a crash's torn or zero-filled tail: worth keeping a copy."""
        return bool(self.damaged_lines or self.bad_checksums or self.zero_bytes)

    def problems(self) -> str:
        """What was skipped, in one sentence ("" when nothing was)."""
        parts = []
        if self.damaged_lines:
            parts.append(f"unreadable lines {_lines(self.damaged_lines)}")
        if self.bad_checksums:
            parts.append(f"lines whose checksum did not match {_lines(self.bad_checksums)}")
        if self.zero_bytes:
            parts.append(f"{self.zero_bytes} zero bytes between lines")
        if self.zero_tail:
            parts.append(f"a zero-filled tail of {self.tail_bytes} bytes (an append the disk never completed)")
        elif self.torn_tail:
            parts.append(f"an incomplete tail of {self.tail_bytes} bytes (an append cut short by a crash)")
        return "; ".join(parts)


def _lines(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10])
    return shown + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")


_BAD, _BAD_CHECKSUM = object(), object()


def _parse(line: bytes) -> Any:
    """The record, or _BAD (not a record) or _BAD_CHECKSUM (a record whose checksum fails)."""
    try:
        rec = json.loads(line)
    except (ValueError, RecursionError):   # UnicodeDecodeError is a ValueError
        return _BAD
    if not (
        isinstance(rec, dict)
        and isinstance(rec.get("seq"), int)
        and not isinstance(rec.get("seq"), bool)
        and isinstance(rec.get("key"), str)
        and isinstance(rec.get("set"), dict)
    ):
        return _BAD
    if "c" in rec:
        m = _CHECK.search(line)
        if m is None or m.group(1).decode() != checksum(line[: m.start()] + b"}"):
            return _BAD_CHECKSUM
        del rec["c"]
    return rec


def read_journal(path: Path) -> JournalRead:
    """Read every well-formed record in file order. A missing file reads as empty.

    Bytes after the last good line are a torn append (a crash mid-write) or, when all zeros,
    an append the disk never completed: skipped (`torn_tail`, `zero_tail`). An unreadable line,
    a line whose checksum fails or a run of zero bytes *followed by* good lines cannot come from
    our own appends: skipped too, and reported (`damaged_lines`, `bad_checksums`, `zero_bytes`)
    so the caller can keep a copy. `JournalRead.problems` sums up everything skipped.
    Raises OSError if the file exists but cannot be read.
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return JournalRead()
    out = JournalRead()
    bad: list[int] = []
    bad_sums: list[int] = []
    zeros = 0
    pos = lineno = 0
    while pos < len(data):
        lineno += 1
        end = data.find(b"\n", pos)
        complete = end != -1
        raw = data[pos : end if complete else len(data)]
        pos = end + 1 if complete else len(data)
        line = raw.strip(b"\x00")
        zeros += len(raw) - len(line)
        rec = _parse(line) if complete and line.strip() else _BAD
        if rec is _BAD_CHECKSUM:
            bad_sums.append(lineno)
            continue
        if rec is _BAD:
            if line.strip():
                bad.append(lineno)
            continue
        out.records.append(rec)
        out.damaged_lines += bad
        out.bad_checksums += bad_sums
        out.zero_bytes += zeros
        bad, bad_sums, zeros = [], [], 0
        out.good_size = pos
    tail = data[out.good_size :]
    out.tail_bytes = len(tail)
    out.torn_tail = bool(tail)
    out.zero_tail = bool(tail) and not tail.strip(b"\x00\n")
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
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), PRIVATE)
        try:
            if not _WINDOWS:
                os.fchmod(fd, PRIVATE)   # a journal an older version made 0644
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
        data = b"".join(encode_record(r) for r in records)
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
