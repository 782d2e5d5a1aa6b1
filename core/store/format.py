"""The on-disk format of a session and reading it without the lock.

Version 2 (written since issue 15): ``<name>.toml`` is a small head, the videos live in pages
(see pages.py), so a checkpoint rewrites only what changed and reading the settings reads a few
hundred bytes::

    version = 2
    batch = "links.txt"           # batch file path or name
    created = 1764340000.0        # wall clock
    seq = 42                      # every journal record with seq <= this is folded in
    gen = 7                       # generation of the newest page files
    saved = 1764340100.0          # wall clock of this checkpoint
    [settings]                    # Settings.to_dict(); never an API key
    [limiter]                     # opaque limiter state
    [meta]                        # opaque extra state
    [counts]                      # videos per state at this checkpoint (for people; never read back)
    [rejected]                    # the page file of rejected lines: file, count, size, digest
    [[pages]]                     # one per page of videos, in order: file, count, size, digest

Version 1 (one file: the same header, then every ``[[videos]]`` and ``[[rejected]]`` entry, with a
JSON parse cache ``<name>.toml.parsed.json``) is still read, and `Session.open` migrates it.

Beside it: ``<name>.toml.pages/``, ``<name>.toml.journal`` (JSON lines, see journal.py) and
``<name>.toml.lock``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
import tomllib
from dataclasses import MISSING, dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any

import tomli_w

from ..model import Video, VideoState
from ..paths import SESSION_SUFFIX
from ..settings import Settings
from .atomic import temp_path
from .journal import read_journal
from .pages import PAGE_SIZE, PageRef, generation, pages_dir, read_page

VERSION = 2
VERSIONS = (1, 2)   # what this version reads
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
assert _REQUIRED == ("key", "url", "vid"), "row_to_video checks these three by name"
CHANGEABLE = frozenset(_VIDEO_FIELDS) - {"key"}
# Fields whose stored value is the field's value when its type is exactly this (no conversion):
# reading 100,000 rows at a resume is mostly these.
_PLAIN: dict[str, type] = {
    **{n: type(d) for n, d in _VIDEO_FIELDS.items() if type(d) in (str, int, float, bool)},
    **{n: str for n in _REQUIRED if n in ("key", "url", "vid")},
}

# Text fields whose values repeat across videos (a method, an error category or message, the
# playlist a video came from): one string per value, not one per video (json makes one each).
_SHARED_TEXT = frozenset({"method", "category", "message", "language", "channel", "upload_date", "source"})


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
    if isinstance(value, Enum):   # VideoState, Method
        return value.value
    if isinstance(value, tuple):
        return list(value)
    if name == "chunks" and isinstance(value, list):
        return [dict(x) if isinstance(x, dict) else x for x in value]   # the caller's tables stay its own
    return value


_STATES = {s.value: s for s in VideoState}


def decode_value(name: str, value: Any) -> Any:
    """A stored value back to the Video field's type. Raises ValueError if it cannot be."""
    if name == "state":
        if not isinstance(value, str):
            raise ValueError(f"state must be text, not {_kind(value)}")
        state = _STATES.get(value)
        return state if state is not None else VideoState(value)   # VideoState raises the ValueError
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
    if name == "chunks":
        if not isinstance(value, (list, tuple)) or not all(isinstance(x, dict) for x in value):
            raise ValueError(f"{name} must be a list of tables")
        return [dict(x) for x in value] if value else ()   # empty: the field's shared default
    if kind is tuple:   # outputs, captions: a list of text
        if not isinstance(value, (list, tuple)) or not all(isinstance(x, str) for x in value):
            raise ValueError(f"{name} must be a list of text")
        return list(value) if value else ()
    if type(value) is not kind:
        raise ValueError(f"{name} must be {kind.__name__}, not {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    return type(value).__name__


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def video_to_row(video: Video) -> dict[str, Any]:
    """The [[videos]] entry: required fields always, the rest only when not at their default."""
    row: dict[str, Any] = {}
    for name, default in _VIDEO_FIELDS.items():
        value = getattr(video, name)
        if default is MISSING or (value != default and value is not None and (value or default != ())):
            row[name] = encode_value(name, value)
    return row


def row_to_video(row: Any) -> Video:
    """Raises ValueError naming the missing or bad field. Unknown fields are ignored (newer versions)."""
    if not isinstance(row, dict):
        raise ValueError("a [[videos]] entry is not a table")
    if type(row.get("key")) is not str or type(row.get("url")) is not str or type(row.get("vid")) is not str:
        missing = [n for n in _REQUIRED if not isinstance(row.get(n), str)]
        if missing:
            raise ValueError(f"a [[videos]] entry lacks {', '.join(missing)}")
    kwargs = {}
    for n, v in row.items():   # a value already of its field's exact type needs no decoding (most of them)
        if type(v) is _PLAIN.get(n):
            kwargs[n] = sys.intern(v) if n in _SHARED_TEXT else v
        elif n == "state" and type(v) is str and v in _STATES:   # the other field every started video has
            kwargs[n] = _STATES[v]
        elif n in _VIDEO_FIELDS:
            kwargs[n] = decode_value(n, v)
    return Video(**kwargs)


def apply_set(video: Video, changes: dict[str, Any]) -> None:
    """Apply one journal record's ``set`` (stored values). Unknown fields are skipped; bad values raise ValueError."""
    decoded = {n: decode_value(n, v) for n, v in changes.items() if n in CHANGEABLE}
    for n, v in decoded.items():
        setattr(video, n, v)


def clean_settings(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k.lower() not in _SECRET_NAMES and v is not None}


_SETTINGS_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(Settings)}


def settings_table(table: Any) -> dict[str, Any]:
    """The ``[settings]`` table, checked against the types of `Settings`' fields, ready for
    `Settings.from_dict`. Unknown keys are dropped (a newer version's, or a removed setting);
    ranges are the settings' own business (`Settings.validate`). Raises ValueError naming the bad key."""
    if not isinstance(table, dict):
        raise ValueError(f"settings must be a table, not {_kind(table)}")
    out: dict[str, Any] = {}
    for name, value in table.items():
        if name not in _SETTINGS_DEFAULTS:
            continue
        default = _SETTINGS_DEFAULTS[name]
        if name == "concurrency" and value == "auto":   # Settings.to_dict's word for AUTO
            ok = True
        elif isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = _is_int(value)
        elif isinstance(default, float):
            ok = _is_number(value) and math.isfinite(value)
        elif isinstance(default, str):
            ok = isinstance(value, str)
        elif isinstance(default, tuple):
            ok = isinstance(value, list) and all(isinstance(x, str) for x in value)
        else:
            ok = True
        if not ok:
            raise ValueError(f"settings.{name} has the wrong type ({_kind(value)})")
        out[name] = value
    return out


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
    """Best effort, not durable: a lost, stale or damaged cache only means parsing the TOML again.

    Two lines: ``{"digest": <of the TOML bytes>, "check": <of line 2>}`` and the document as
    JSON. The check makes the cache self-verifying: it is never fsynced, and a cache damaged
    after it was written must not stand in for the TOML it was made from."""
    target = parse_cache_path(path)
    tmp = temp_path(target)
    try:
        body = json.dumps(doc, allow_nan=False, separators=(",", ":")).encode("utf-8")
        head = json.dumps({"digest": _digest(data), "check": _digest(body)}).encode("utf-8")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(head + b"\n" + body + b"\n")
        os.replace(tmp, target)
    except (OSError, TypeError, ValueError):
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def read_parse_cache(cache: Path) -> tuple[str, dict[str, Any]] | None:
    """(digest of the TOML it was made from, document) when the cache is intact, else None.
    Never raises."""
    try:
        raw = cache.read_bytes()
        head_bytes, _, body = raw.partition(b"\n")
        if body.endswith(b"\n"):
            body = body[:-1]
        head = json.loads(head_bytes)
        if not isinstance(head, dict) or head.get("check") != _digest(body):
            return None
        doc = json.loads(body)
    except (OSError, ValueError, RecursionError):
        return None
    return (head.get("digest"), doc) if isinstance(doc, dict) and isinstance(head.get("digest"), str) else None


def _cached_doc(data: bytes, cache: Path | None) -> dict[str, Any] | None:
    """The parse cache's document when it is intact and was made from exactly these bytes, else None."""
    got = read_parse_cache(cache) if cache is not None else None
    return got[1] if got is not None and got[0] == _digest(data) else None


def toml_doc(data: bytes) -> dict[str, Any]:
    """Parse TOML bytes. Raises ValueError saying why they are not a TOML document."""
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"it is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"it is not valid TOML ({exc})") from None
    except RecursionError:
        raise ValueError("it is not valid TOML (nested too deeply)") from None


def check_version(doc: dict[str, Any]) -> int:
    """The document's format version (one of VERSIONS). Raises NewerVersion for a newer format,
    ValueError for no known version."""
    version = doc.get("version")
    if not _is_int(version) or version not in VERSIONS:
        if _is_int(version) and version > VERSION:
            raise NewerVersion(f"it was written by a newer bulk-transcribe (format version {version}); upgrade to resume it")
        raise ValueError(f"it has no known format version (version = {version!r})")
    return version


def read_settings(data: bytes) -> dict[str, Any]:
    """The checked ``[settings]`` table of a session file's bytes (see `settings_table`).
    Raises NewerVersion, or ValueError saying what is wrong."""
    doc = toml_doc(data)
    check_version(doc)
    try:
        return settings_table(doc.get("settings", {}))
    except ValueError as exc:
        raise ValueError(f"its content is not a valid session ({exc})") from None


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
    version: int = 1
    gen: int = 0
    pages: list[PageRef] = field(default_factory=list)
    rejected_page: PageRef | None = None


def parse(data: bytes, cache: Path | None = None) -> Parsed:
    """Parse and validate a version 1 session file (through its parse cache when that was made
    from these exact bytes and holds a valid session; a damaged cache is ignored). Raises
    NewerVersion, or ValueError saying what is wrong (a version 2 head included: use `load`)."""
    cached = _cached_doc(data, cache)
    if cached is not None and cached.get("version") == 1:
        try:
            return _checked(cached)
        except ValueError:
            pass   # a damaged cache (it is never fsynced): the TOML decides
    return _checked(toml_doc(data))


def load(path: Path) -> Parsed:
    """Read and validate the session at `path`, either version (a version 2 head and the pages it
    names). Raises FileNotFoundError when there is none, OSError when a file cannot be read,
    NewerVersion, or ValueError saying what is damaged."""
    data = path.read_bytes()
    cached = _cached_doc(data, parse_cache_path(path))
    if cached is not None and cached.get("version") == 1:
        return parse(data, parse_cache_path(path))
    doc = toml_doc(data)
    if check_version(doc) == 1:
        return _checked(doc)
    head = parse_head(doc)
    folder = pages_dir(path)
    videos: list[Video] = []
    try:
        for ref in head.pages:
            videos += [row_to_video(r) for r in read_page(folder, ref)]
        if head.rejected_page is not None:
            head.rejected = rejected_from_rows(read_page(folder, head.rejected_page))
        _unique(videos)
    except (KeyError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
        raise ValueError(f"its content is not a valid session ({exc})") from None
    except ValueError as exc:
        raise ValueError(f"its content is not a valid session ({exc})") from None
    head.videos = videos
    return head


def _page_ref(table: Any) -> PageRef:
    if not isinstance(table, dict):
        raise ValueError("a page entry is not a table")
    name, count, size, dig = (table.get(k) for k in ("file", "count", "size", "digest"))
    if not isinstance(name, str) or generation(name) < 0 or "/" in name or "\\" in name:
        raise ValueError(f"a page entry names no page file ({name!r})")
    if not (_is_int(count) and _is_int(size) and 0 <= count <= PAGE_SIZE and size >= 0) or not isinstance(dig, str):
        raise ValueError(f"the page entry {name} needs whole-number count and size and a text digest")
    return PageRef(name, count, size, dig)


def parse_head(doc: dict[str, Any]) -> Parsed:
    """A version 2 head's fields, checked (videos and rejected lines still to be read from its
    pages). Raises ValueError saying what is wrong."""
    try:
        gen = doc.get("gen", 0)
        if not _is_int(gen) or gen < 0:
            raise ValueError(f"gen must be a whole number (got {gen!r})")
        batch, created, seq, settings, tables = _common_fields(doc)
        pages = [_page_ref(t) for t in _list_of_tables(doc, "pages")]
        rejected = _page_ref(doc["rejected"]) if "rejected" in doc else None
        if any(p.count != PAGE_SIZE for p in pages[:-1]):
            raise ValueError(f"every page but the last must hold {PAGE_SIZE} videos")
    except (KeyError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
        raise ValueError(f"its content is not a valid session ({exc})") from None
    except ValueError as exc:
        raise ValueError(f"its content is not a valid session ({exc})") from None
    return Parsed(batch, created, seq, settings, *tables, [], [], version=2, gen=gen, pages=pages,
                  rejected_page=rejected)


def dump_head(header: dict[str, Any], counts: dict[str, int], rejected: PageRef | None, pages: list[PageRef]) -> bytes:
    """Serialise a version 2 head. Raises TypeError if limiter/meta hold values TOML cannot store."""
    doc = dict(header)
    doc["counts"] = counts
    if rejected is not None:
        doc["rejected"] = rejected.as_table()
    doc["pages"] = [p.as_table() for p in pages]
    return tomli_w.dumps(doc).encode("utf-8")


def _unique(videos: list[Video]) -> None:
    seen: set[str] = set()
    for v in videos:
        if v.key in seen:
            raise ValueError(f"the video {v.key} appears twice")
        seen.add(v.key)


def _checked(doc: dict[str, Any]) -> Parsed:
    if check_version(doc) != 1:
        raise ValueError("it is a version 2 head, not a whole session")
    try:
        return _content(doc)
    except NewerVersion:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError) as exc:
        raise ValueError(f"its content is not a valid session ({exc})") from None


def _list_of_tables(doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = doc.get(name, [])
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise ValueError(f"{name} must be a list of tables ([[{name}]])")
    return value


def rejected_from_rows(rows: list[dict[str, Any]]) -> list[RejectedLine]:
    out = []
    for r in rows:
        line, raw, reason, category = r.get("line"), r.get("raw"), r.get("reason"), r.get("category", "input")
        if not _is_int(line) or not all(isinstance(x, str) for x in (raw, reason, category)):
            raise ValueError("a [[rejected]] entry needs a whole-number line and text raw, reason and category")
        out.append(RejectedLine(line, raw, reason, category))
    return out


def _common_fields(doc: dict[str, Any]) -> tuple[str, float, int, Settings, list[dict[str, Any]]]:
    """The fields both versions keep in the TOML, checked: (batch, created, seq, settings,
    [limiter, meta]). Raises ValueError saying what is wrong."""
    seq, created, batch = doc.get("seq", 0), doc.get("created", 0.0), doc.get("batch", "")
    if not _is_int(seq) or seq < 0:
        raise ValueError(f"seq must be a whole number (got {seq!r})")
    if not _is_number(created) or not isinstance(batch, str):
        raise ValueError("created must be a number and batch text")
    settings = settings_table(doc.get("settings", {}))
    tables = [doc.get(n, {}) for n in ("limiter", "meta")]
    if not all(isinstance(t, dict) for t in tables):
        raise ValueError("limiter and meta must be tables")
    return batch, float(created), seq, settings, tables


def _content(doc: dict[str, Any]) -> Parsed:
    videos = [row_to_video(r) for r in _list_of_tables(doc, "videos")]
    rejected = rejected_from_rows(_list_of_tables(doc, "rejected"))
    batch, created, seq, settings, tables = _common_fields(doc)
    _unique(videos)
    return Parsed(batch, created, seq, settings, *tables, videos, rejected)


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
        parsed = load(path)
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
    except Exception as exc:  # noqa: BLE001 - the resume prompt lists a bad file, it never crashes on one
        return SessionInfo(path, error=f"unreadable ({type(exc).__name__}: {exc})")
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
