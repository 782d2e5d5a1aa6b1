"""Damaged files never give a traceback: property tests feed every reader mutated sessions.

Each example builds a real session (videos in several states, rejected lines, limiter and
meta tables, a journal left by a crash, a parse cache, a limiter sidecar), damages one of its
files and runs every reader on it: `Session.open` and `Session.peek_settings` may raise only
SessionError (a damaged file: the one "damaged" message and a kept ``.corrupt-*`` copy; a newer
format: "newer"), `peek` / `list_sessions` never raise (they report), `read_journal`,
`load_limiter_state` and `salvage` never raise.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import anyio
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulk_transcribe.core.errors import SessionError
from bulk_transcribe.core.model import Video, VideoState
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.store.format import journal_path, limiter_path, list_sessions, parse_cache_path, peek, toml_doc
from bulk_transcribe.core.store.journal import read_journal
from bulk_transcribe.core.store.limiter_state import load_limiter_state
from bulk_transcribe.core.store.salvage import salvage
from bulk_transcribe.core.store.session import RejectedLine, Session

from .v1_session import write_v1

# DAMAGE_EXAMPLES=2000 for a long hunt; the default keeps the fast suite fast.
PROPERTY = settings(max_examples=int(os.environ.get("DAMAGE_EXAMPLES", "80")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _build(folder: Path) -> Path:
    """A realistic session left by a crash: TOML + parse cache + a journal with records."""
    path = folder / "s.toml"
    vs = [Video(key=f"youtube:v{i:09d}", url=f"https://youtu.be/v{i:09d}", vid=f"v{i:09d}", line=i + 1,
                title=f"title {i}", duration=60.0 + i) for i in range(4)]
    vs[1].state, vs[1].request_id, vs[1].outputs = VideoState.DONE, "req-1", ["out/a.txt"]
    vs[2].state, vs[2].category, vs[2].message = VideoState.FAILED, "server", "502"
    s = Session.create(path, batch="links.txt", settings=Settings(concurrency=7, formats=("txt", "md")), videos=vs,
                       rejected=[RejectedLine(9, "bad", "unsupported URL")])
    s.limiter["buckets"] = {"submit": {"grants": [1.5, 2.5]}}
    s.meta["note"] = "x"
    s.close()
    s = Session.open(path)

    async def later():
        await s.record(s.videos[0], state=VideoState.SUBMITTED, request_id="req-0", attempts=1)
        await s.record(s.videos[3], state=VideoState.SUBMITTING)

    anyio.run(later)
    s._journal.close()   # a kill: no final checkpoint
    s._lock.release()
    s._closed = True
    limiter_path(path).write_text(json.dumps({"mode": "shared", "buckets": {}}))
    return path


_TEMPLATES: dict[int, dict[str, bytes]] = {}


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and not p.name.endswith(".lock")}


def _template(version: int) -> dict[str, bytes]:
    """The template session's files by relative path: version 2 as written now, version 1 the
    same state as the old single TOML (and its parse cache), the journal and sidecar the same."""
    if version not in _TEMPLATES:
        with tempfile.TemporaryDirectory() as build:
            path = _build(Path(build))
            _TEMPLATES[2] = _files(Path(build))
            s = Session.open(path)
            write_v1(path, s)
            s._journal.close()
            s._lock.release()
            s._closed = True
            (Path(build) / "s.toml.journal").write_bytes(_TEMPLATES[2]["s.toml.journal"])
            shutil.rmtree(Path(build) / "s.toml.pages")
            _TEMPLATES[1] = _files(Path(build))
    return _TEMPLATES[version]


def _fresh(version: int = 2) -> tuple[Path, tempfile.TemporaryDirectory]:
    """A new folder holding a copy of the template session (built once: examples stay fast)."""
    tmp = tempfile.TemporaryDirectory()
    folder = Path(tmp.name)
    for name, data in _template(version).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder / "s.toml", tmp


def _doc(path: Path) -> dict[str, Any]:
    return toml_doc(path.read_bytes())


def _paths(doc: dict[str, Any]) -> list[tuple]:
    """Every table and field of a session document, as key paths."""
    out: list[tuple] = []
    for k, v in doc.items():
        out.append((k,))
        if isinstance(v, dict):
            out += [(k, sub) for sub in v]
        elif isinstance(v, list):
            for i, row in enumerate(v):
                out.append((k, i))
                if isinstance(row, dict):
                    out += [(k, i, sub) for sub in row]
    return out


def _set(doc: dict[str, Any], path: tuple, value: Any) -> None:
    target = doc
    for step in path[:-1]:
        target = target[step]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value


_DELETE = object()
_scalars = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(), st.booleans(), st.text(max_size=8),
    st.datetimes(min_value=datetime.datetime(1970, 1, 2), max_value=datetime.datetime(2100, 1, 1)),
)
TOML_VALUES = st.one_of(
    _scalars, st.just(_DELETE), st.lists(_scalars, max_size=3),
    st.dictionaries(st.text(min_size=1, max_size=5), _scalars, max_size=3),
    st.lists(st.dictionaries(st.text(min_size=1, max_size=5), _scalars, max_size=2), max_size=2),
)

JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                           max_leaves=8)


def _check_every_reader(path: Path) -> None:
    """The contract of each reader on whatever is at `path` now."""
    folder = path.parent
    for reader in (lambda: Session.peek_settings(path), lambda: Session.open(path).close()):
        before = set(folder.glob("*.corrupt-*"))
        try:
            reader()
        except SessionError as exc:
            message = str(exc)
            assert type(exc) is SessionError, message
            if "newer bulk-transcribe" not in message:
                assert "is damaged" in message and str(path) in message and "move" in message, message
                assert set(folder.glob("*.corrupt-*")) - before, "a damaged file is always kept aside"
    info = peek(path)
    assert info.readable or info.error
    assert isinstance(list_sessions(folder), list)
    read_journal(journal_path(path))
    assert isinstance(load_limiter_state(path, {}), dict)
    assert isinstance(salvage(path), dict)


# -- the session file ----------------------------------------------------------------------
@PROPERTY
@given(data=st.data())
def test_valid_toml_with_a_wrong_type_anywhere(data):
    path, tmp = _fresh(data.draw(st.sampled_from([1, 2]), label="version"))
    with tmp:
        doc = _doc(path)
        where = data.draw(st.sampled_from(_paths(doc)), label="where")
        value = data.draw(TOML_VALUES, label="value")
        mutated = copy.deepcopy(doc)
        _set(mutated, where, value)
        try:
            text = tomli_w.dumps(mutated)
        except (TypeError, ValueError):
            return   # not expressible as TOML (e.g. a bare value where a table was)
        path.write_text(text, encoding="utf-8")
        _check_every_reader(path)


def test_settings_that_is_not_a_table_is_a_damaged_session_not_a_traceback(tmp_path):
    """The issue's case: ``settings = 5`` is valid TOML."""
    path, tmp = _fresh()
    with tmp:
        doc = _doc(path)
        doc["settings"] = 5
        path.write_text(tomli_w.dumps(doc), encoding="utf-8")
        for reader in (Session.peek_settings, Session.open):
            expected = r"is damaged: its content is not a valid session \(settings must be a table, not int\)"
            with pytest.raises(SessionError, match=expected):
                reader(path)
        assert len(list(path.parent.glob("s.toml.corrupt-*"))) >= 1
        _check_every_reader(path)


@PROPERTY
@given(data=st.data())
def test_truncated_or_overwritten_session_file(data):
    path, tmp = _fresh(data.draw(st.sampled_from([1, 2]), label="version"))
    with tmp:
        original = path.read_bytes()
        how = data.draw(st.sampled_from(["truncate", "random", "flip"]), label="how")
        if how == "truncate":
            damaged = original[: data.draw(st.integers(0, len(original)), label="at")]
        elif how == "random":
            damaged = data.draw(st.binary(max_size=400), label="bytes")
        else:
            damaged = bytearray(original)
            for _ in range(data.draw(st.integers(1, 6), label="flips")):
                damaged[data.draw(st.integers(0, len(original) - 1))] = data.draw(st.integers(0, 255))
            damaged = bytes(damaged)
        path.write_bytes(damaged)
        _check_every_reader(path)


@PROPERTY
@given(data=st.data())
def test_damaged_or_missing_page(data):
    """A page (or the rejected lines' file) that is not exactly what the head names is a damaged
    session like any other; reading the settings does not read pages, so it still works."""
    path, tmp = _fresh(2)
    with tmp:
        page = data.draw(st.sampled_from(sorted((path.parent / "s.toml.pages").iterdir())), label="page")
        original = page.read_bytes()
        how = data.draw(st.sampled_from(["truncate", "random", "flip", "delete", "append"]), label="how")
        if how == "delete":
            page.unlink()
        elif how == "truncate":
            page.write_bytes(original[: data.draw(st.integers(0, len(original) - 1), label="at")])
        elif how == "random":
            page.write_bytes(data.draw(st.binary(max_size=400), label="bytes"))
        elif how == "append":
            page.write_bytes(original + b'{"key":"youtube:extra","url":"u","vid":"x"}\n')
        else:
            damaged = bytearray(original)
            at = data.draw(st.integers(0, len(original) - 1))
            damaged[at] = (damaged[at] + data.draw(st.integers(1, 255))) % 256
            page.write_bytes(bytes(damaged))
        assert Session.peek_settings(path).concurrency == 7
        with pytest.raises(SessionError, match="is damaged"):
            Session.open(path)
        _check_every_reader(path)


def _cache_parts(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    head, _, body = parse_cache_path(path).read_bytes().partition(b"\n")
    return json.loads(head), json.loads(body)


def _reference(tmp: tempfile.TemporaryDirectory) -> Session:
    """The same session without its parse cache: what the TOML alone says."""
    folder = Path(tmp.name) / "ref"
    folder.mkdir()
    for name, content in _template(1).items():
        if not name.endswith(".parsed.json"):
            (folder / name).write_bytes(content)
    return Session.open(folder / "s.toml")


@PROPERTY
@given(data=st.data())
def test_a_damaged_parse_cache_never_changes_the_outcome(data):
    """The cache (of a version 1 file) is never fsynced, so it may be damaged after it was
    written: it checks itself, and a cache that fails its check is ignored (the TOML decides)."""
    path, tmp = _fresh(1)
    with tmp:
        head, doc = _cache_parts(path)
        how = data.draw(st.sampled_from(["value", "cut", "bytes"]), label="how")
        if how == "value":
            _set(doc, data.draw(st.sampled_from(_paths(doc)), label="where"), data.draw(JSON_VALUES, label="value"))
            raw = json.dumps(head).encode() + b"\n" + json.dumps(doc).encode() + b"\n"
        elif how == "cut":
            whole = parse_cache_path(path).read_bytes()
            raw = whole[: data.draw(st.integers(0, len(whole) - 2), label="at")]
        else:
            raw = data.draw(st.binary(max_size=300), label="bytes")
        parse_cache_path(path).write_bytes(raw)
        reference = _reference(tmp)
        got = Session.open(path)
        assert (got.videos, got.settings, got.rejected) == (reference.videos, reference.settings, reference.rejected)
        got.close()
        reference.close()
        _check_every_reader(path)


@PROPERTY
@given(data=st.data())
def test_a_forged_parse_cache_with_wrong_types_is_ignored(data):
    """Even a cache that passes its check (as if written so by a bug) is validated like the TOML."""
    from bulk_transcribe.core.store import format as fmt

    path, tmp = _fresh(1)
    with tmp:
        head, doc = _cache_parts(path)
        where = data.draw(st.sampled_from(_paths(doc)), label="where")
        value = data.draw(JSON_VALUES, label="value")
        _set(doc, where, value)
        body = json.dumps(doc).encode()
        head["check"] = fmt._digest(body)
        parse_cache_path(path).write_bytes(json.dumps(head).encode() + b"\n" + body + b"\n")
        try:
            Session.open(path).close()
        except SessionError as exc:
            raise AssertionError(f"the TOML is valid, so the session opens: {exc}") from None
        _check_every_reader(path)


# -- the journal and the limiter sidecar ------------------------------------------------------
RECORD_PARTS = st.fixed_dictionaries({}, optional={
    "seq": JSON_VALUES | st.integers(0, 10), "key": JSON_VALUES | st.sampled_from(["youtube:v000000000", "nope"]),
    "set": JSON_VALUES | st.dictionaries(st.sampled_from(["state", "request_id", "attempts", "outputs", "duration",
                                                          "polls", "line", "key", "bogus"]), JSON_VALUES, max_size=3),
})


@PROPERTY
@given(data=st.data())
def test_damaged_journals(data):
    path, tmp = _fresh()
    with tmp:
        jpath = journal_path(path)
        lines = jpath.read_bytes().splitlines(keepends=True)
        for _ in range(data.draw(st.integers(1, 4), label="changes")):
            how = data.draw(st.sampled_from(["record", "bytes", "deep", "zeros", "cut"]), label="how")
            at = data.draw(st.integers(0, len(lines)), label="at")
            if how == "record":
                line = json.dumps(data.draw(RECORD_PARTS, label="record")).encode() + b"\n"
            elif how == "bytes":
                line = data.draw(st.binary(max_size=60), label="bytes")
            elif how == "deep":
                line = b"[" * 100_000 + b"\n"
            elif how == "zeros":
                line = b"\x00" * data.draw(st.integers(1, 300), label="zeros")
            else:
                joined = b"".join(lines)
                lines = [joined[: data.draw(st.integers(0, len(joined)), label="cut at")]]
                continue
            lines.insert(at, line)
        jpath.write_bytes(b"".join(lines))
        _check_every_reader(path)


@PROPERTY
@given(content=st.one_of(st.binary(max_size=200), JSON_VALUES.map(lambda v: json.dumps(v).encode()),
                         st.just(b"[" * 100_000)))
def test_damaged_limiter_sidecar(content):
    path, tmp = _fresh()
    with tmp:
        limiter_path(path).write_bytes(content)
        assert isinstance(load_limiter_state(path, {"fallback": 1}), dict)
        _check_every_reader(path)
        try:
            readable = isinstance(json.loads(content), dict)
        except (ValueError, RecursionError):
            readable = False
        session = Session.open(path)
        session.close()
        if not readable:   # the same as any damaged file: said once, and a copy kept
            assert any("rate-limit state" in w and "is damaged" in w and "copy was kept" in w for w in session.warnings)
            assert list(path.parent.glob("s.toml.limiter.json.corrupt-*"))


def test_the_template_itself_is_healthy():
    path, tmp = _fresh()
    with tmp:
        s = Session.open(path)
        assert s.by_key("youtube:v000000000").request_id == "req-0" and not s.warnings
        s.close()
