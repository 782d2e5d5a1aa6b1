"""The on-disk format of a session (TOML, ``version = 1``) and reading it without the lock.

Layout of ``<name>.toml``::

    version = 1
    batch = "links.txt"           # batch file path or name
    created = 1764340000.0        # wall clock
    seq = 42                      # every journal record with seq <= this is folded in
    saved = 1764340100.0          # wall clock of this checkpoint
    [settings]                    # Settings.to_dict(); never an API key
    [limiter]                     # opaque limiter state
    [meta]                        # opaque extra state
    [[videos]]                    # Video fields; empty/default values omitted; state as text
    [[rejected]]                  # line, raw, reason, category

Beside it: ``<name>.toml.journal`` (JSON lines, see journal.py) and ``<name>.toml.lock``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import tomllib
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

import tomli_w

from ..model import Video, VideoState
from ..paths import SESSION_SUFFIX
from .journal import read_journal

VERSION = 1
# Never written even if someone adds such a field to Settings by mistake.
_SECRET_NAMES = frozenset({"api_key", "apikey", "key", "token", "secret", "password", "authorization"})


class NewerVersion(ValueError):
    """The file was written by a newer format version; it is not damaged."""


@dataclass
class RejectedLine:
    """A batch line that produced no video (bad input or a duplicate), kept for the report."""

    line: int
    raw: str
    reason: str
    category: str = "input"


def _default(f: Any) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return MISSING


_VIDEO_FIELDS: dict[str, Any] = {f.name: _default(f) for f in fields(Video)}
_REQUIRED = tuple(name for name, d in _VIDEO_FIELDS.items() if d is MISSING)
CHANGEABLE = frozenset(_VIDEO_FIELDS) - {"key"}


def journal_path(path: Path) -> Path:
    return path.with_name(path.name + ".journal")


def limiter_path(path: Path | str) -> Path:
    """The engine's sidecar with the rate limiter's recent grants (written every few seconds)."""
    return Path(f"{path}.limiter.json")


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


# -- values ----------------------------------------------------------------------------
def encode_value(name: str, value: Any) -> Any:
    """A Video field value as TOML/JSON stores it."""
    if isinstance(value, VideoState):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


def decode_value(name: str, value: Any) -> Any:
    """A stored value back to the Video field's type. Raises ValueError if it cannot be."""
    if name == "state":
        return VideoState(value)
    default = _VIDEO_FIELDS.get(name, MISSING)
    if default is MISSING or default is None:
        if name == "duration" and value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a number")
            return float(value)
        return value
    kind = type(default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is list:
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise ValueError(f"{name} must be a list of text")
        return list(value)
    if type(value) is not kind:
        raise ValueError(f"{name} must be {kind.__name__}, not {type(value).__name__}")
    return value


def video_to_row(video: Video) -> dict[str, Any]:
    """The [[videos]] entry: required fields always, the rest only when not at their default."""
    row: dict[str, Any] = {}
    for name, default in _VIDEO_FIELDS.items():
        value = getattr(video, name)
        if default is MISSING or (value != default and value is not None):
            row[name] = encode_value(name, value)
    return row


def row_to_video(row: Any) -> Video:
    """Raises ValueError naming the missing or bad field. Unknown fields are ignored (newer versions)."""
    if not isinstance(row, dict):
        raise ValueError("a [[videos]] entry is not a table")
    missing = [n for n in _REQUIRED if not isinstance(row.get(n), str)]
    if missing:
        raise ValueError(f"a [[videos]] entry lacks {', '.join(missing)}")
    kwargs = {n: decode_value(n, v) for n, v in row.items() if n in _VIDEO_FIELDS}
    return Video(**kwargs)


def apply_set(video: Video, changes: dict[str, Any]) -> None:
    """Apply one journal record's ``set`` (stored values). Unknown fields are skipped; bad values raise ValueError."""
    decoded = {n: decode_value(n, v) for n, v in changes.items() if n in CHANGEABLE}
    for n, v in decoded.items():
        setattr(video, n, v)


def clean_settings(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k.lower() not in _SECRET_NAMES and v is not None}


# -- whole file --------------------------------------------------------------------------
def dump_doc(header: dict[str, Any], rows: list[dict[str, Any]], rejected: list[RejectedLine]) -> dict[str, Any]:
    doc = dict(header)
    doc["videos"] = rows
    doc["rejected"] = [
        {"line": r.line, "raw": r.raw, "reason": r.reason, "category": r.category} for r in rejected
    ]
    return doc


def dump(header: dict[str, Any], rows: list[dict[str, Any]], rejected: list[RejectedLine]) -> bytes:
    """Serialise a snapshot. Raises TypeError if limiter/meta hold values TOML cannot store (e.g. None)."""
    return tomli_w.dumps(dump_doc(header, rows, rejected)).encode("utf-8")


# -- parse cache -------------------------------------------------------------------------
# Parsing TOML is the slow part of reopening a large session (about a second for 10,000
# videos); JSON of the same document parses in a few milliseconds. The TOML stays the one
# source of truth: the cache is used only when it was made from exactly these bytes.
def parse_cache_path(path: Path | str) -> Path:
    return Path(f"{path}.parsed.json")


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def write_parse_cache(path: Path | str, data: bytes, doc: dict[str, Any]) -> None:
    """Best effort, not durable: a lost or stale cache only means parsing the TOML again."""
    target = parse_cache_path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        tmp.write_text(json.dumps({"digest": _digest(data), "doc": doc}, allow_nan=False), encoding="utf-8")
        os.replace(tmp, target)
    except (OSError, TypeError, ValueError):
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def _load_doc(data: bytes, cache: Path | None) -> dict[str, Any]:
    if cache is not None:
        try:
            cached = json.loads(cache.read_text(encoding="utf-8"))
            if cached.get("digest") == _digest(data) and isinstance(cached.get("doc"), dict):
                return cached["doc"]
        except (OSError, ValueError, AttributeError):
            pass
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"it is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"it is not valid TOML ({exc})") from None
    return doc


@dataclass
class Parsed:
    batch: str
    created: float
    seq: int
    settings: dict[str, Any]
    limiter: dict[str, Any]
    meta: dict[str, Any]
    videos: list[Video]
    rejected: list[RejectedLine]


def parse(data: bytes, cache: Path | None = None) -> Parsed:
    """Parse and validate a session file (through its parse cache when that was made from these
    exact bytes). Raises ValueError saying what is wrong."""
    doc = _load_doc(data, cache)
    version = doc.get("version")
    if version != VERSION:
        if isinstance(version, int) and version > VERSION:
            raise NewerVersion(f"it was written by a newer bulk-transcribe (format version {version}); upgrade to resume it")
        raise ValueError(f"it has no known format version (version = {version!r})")
    try:
        videos = [row_to_video(r) for r in doc.get("videos", [])]
        rejected = [
            RejectedLine(int(r["line"]), str(r["raw"]), str(r["reason"]), str(r.get("category", "input")))
            for r in doc.get("rejected", [])
        ]
        seq, created = doc.get("seq", 0), doc.get("created", 0.0)
        if not isinstance(seq, int) or not isinstance(created, (int, float)):
            raise ValueError("seq or created has the wrong type")
        tables = [doc.get(n, {}) for n in ("settings", "limiter", "meta")]
        if not all(isinstance(t, dict) for t in tables):
            raise ValueError("settings, limiter and meta must be tables")
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"its content is not a valid session ({exc})") from None
    seen: set[str] = set()
    for v in videos:
        if v.key in seen:
            raise ValueError(f"the video {v.key} appears twice")
        seen.add(v.key)
    return Parsed(str(doc.get("batch", "")), float(created), seq, *tables, videos, rejected)


# -- listing ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SessionInfo:
    """One session for the "resume?" prompt. `error` is non-empty when the file is unreadable."""

    path: Path
    batch: str = ""
    created: float = 0.0
    total: int = 0
    done: int = 0
    failed: int = 0
    finished: bool = False
    rejected: int = 0
    in_doubt: int = 0            # possibly paid, answer never recorded
    error: str = ""

    @property
    def readable(self) -> bool:
        return not self.error


def peek(path: Path) -> SessionInfo:
    """Counts of one session, journal included, without taking its lock. Never raises."""
    try:
        parsed = parse(path.read_bytes(), parse_cache_path(path))
        journal = read_journal(journal_path(path))
        by_key = {v.key: v for v in parsed.videos}
        for rec in journal.records:
            if rec["seq"] <= parsed.seq:
                continue
            video = by_key.get(rec["key"])
            if video is None and rec.get("add"):
                video = by_key[rec["key"]] = row_to_video({**rec["set"], "key": rec["key"]})
                parsed.videos.append(video)
            elif video is not None:
                apply_set(video, rec["set"])
    except (OSError, ValueError) as exc:
        return SessionInfo(path, error=str(exc) or type(exc).__name__)
    states = [v.state for v in parsed.videos]
    return SessionInfo(
        path,
        batch=parsed.batch,
        created=parsed.created,
        total=len(states),
        done=states.count(VideoState.DONE),
        failed=states.count(VideoState.FAILED),
        finished=all(s.terminal for s in states),
        rejected=len(parsed.rejected),
        in_doubt=sum(1 for v in parsed.videos if v.possibly_paid and not v.state.terminal),
    )


def list_sessions(folder: Path | str) -> list[SessionInfo]:
    """Every ``*.toml`` session in `folder`, newest first, unreadable ones last (with `error` set).

    A missing folder lists as empty. Never raises for a bad file; it is reported, not skipped.
    """
    folder = Path(folder)
    try:
        paths = sorted(p for p in folder.iterdir() if p.name.endswith(SESSION_SUFFIX) and p.is_file())
    except (FileNotFoundError, NotADirectoryError):
        return []
    infos = [peek(p) for p in paths]
    return sorted(infos, key=lambda i: (not i.readable, -i.created, str(i.path)))


def corrupt_copy_name(path: Path) -> Path:
    """A fresh ``<name>.corrupt-<timestamp>`` beside `path` (never an existing file)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    return candidate
