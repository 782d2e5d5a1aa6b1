"""A session's videos on disk (format version 2): pages of `PAGE_SIZE` videos, one JSON line each.

The folder ``<name>.toml.pages/`` beside the session's head file holds one file per page,
``p<index>-<gen>.jsonl`` (index 0 holds the first `PAGE_SIZE` videos, in batch order), and
``rejected-<gen>.jsonl`` for the batch lines that produced no video. A checkpoint writes only the
pages whose videos changed, each under a new generation number, and then the head (which names
every current page file with its size and digest) atomically: until that rename the old head
and its old pages are the session, after it the new ones are. Files no head names are a crash's
leftovers or a superseded generation, removed by the lock holder (`remove_unlisted`).

A line is the same row as a v1 ``[[videos]]`` entry (fields at their default are left out), so a
page reads as one video per line and a damaged page can still be scanned line by line (salvage).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .atomic import PRIVATE, atomic_write_bytes, ensure_dir, orphan_name

PAGE_SIZE = 1000
_OURS = re.compile(r"^(p\d{5}|rejected)-\d+\.jsonl$")


@dataclass(frozen=True)
class PageRef:
    """One page file as the head names it: what a reader checks before trusting it."""

    file: str
    count: int
    size: int
    digest: str

    def as_table(self) -> dict[str, Any]:
        return {"file": self.file, "count": self.count, "size": self.size, "digest": self.digest}


def pages_dir(path: Path | str) -> Path:
    return Path(f"{path}.pages")


def page_name(index: int, gen: int) -> str:
    return f"p{index:05d}-{gen}.jsonl"


def rejected_name(gen: int) -> str:
    return f"rejected-{gen}.jsonl"


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def encode_rows(rows: Iterable[dict[str, Any]]) -> bytes:
    """Raises TypeError/ValueError for a value JSON cannot store (NaN included)."""
    return b"".join(json.dumps(r, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8") + b"\n"
                    for r in rows)


def write_page(folder: Path, name: str, rows: list[dict[str, Any]]) -> PageRef:
    """Write one page file durably (fsynced, its directory entry too). Raises OSError, TypeError, ValueError."""
    data = encode_rows(rows)
    if not folder.is_dir():
        ensure_dir(folder)
        os.chmod(folder, 0o700)   # titles and request ids are the user's business, like the head's
    atomic_write_bytes(folder / name, data, mode=PRIVATE)
    return PageRef(name, len(rows), len(data), digest(data))


def read_page(folder: Path, ref: PageRef) -> list[dict[str, Any]]:
    """The rows of a page the head names. Raises OSError if it cannot be read, ValueError if it
    is missing or is not exactly the file the head names (size, digest, count, JSON)."""
    try:
        data = (folder / ref.file).read_bytes()
    except FileNotFoundError:
        raise ValueError(f"its page {ref.file} is missing") from None
    if len(data) != ref.size or digest(data) != ref.digest:
        raise ValueError(f"its page {ref.file} is not the one it names (size or digest differs)")
    try:   # one parse per page, not per line: the rows are JSON lines, so joined by commas they are an array
        rows = json.loads(b"[" + data.rstrip(b"\n").replace(b"\n", b",") + b"]") if data else []
    except (ValueError, RecursionError):
        raise ValueError(f"its page {ref.file} is not JSON lines") from None
    if len(rows) != ref.count or not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"its page {ref.file} does not hold {ref.count} rows")
    return rows


def scan_rows(data: bytes) -> list[dict[str, Any]]:
    """Every line of a (possibly damaged) page that is still a JSON object. Never raises."""
    out = []
    for line in data.splitlines():
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(row, dict):
            out.append(row)
    return out


def generation(name: str) -> int:
    """The generation number in a page file's name (-1 when it is not one of ours)."""
    if not _OURS.match(name):
        return -1
    return int(name.rsplit("-", 1)[1].split(".", 1)[0])


def remove_unlisted(folder: Path, keep: Iterable[str]) -> None:
    """Delete our page files that `keep` does not name. Call it holding the session's lock,
    after the head naming `keep` is durable. Never raises."""
    wanted = set(keep)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.name in wanted or not _OURS.match(entry.name):
            continue
        try:
            os.unlink(entry.path)
        except OSError:
            continue


def orphan_pages_name(path: Path | str) -> Path:
    """A fresh ``<name>.toml.pages.orphan-<timestamp>`` beside the session (never an existing one)."""
    return orphan_name(pages_dir(path))
