"""A session written by the release before format 2 (main at ca230a1, by its own Session: see
data/make_v1_from_main.py) opens here with nothing lost: every field of all 1,050 videos, the
journal of the run that crashed on top of its TOML, the settings (auto stored as 0 then), the
rejected lines, limiter and meta state; migrated once, and again after a crash mid-migration."""

from __future__ import annotations

import dataclasses
import json
import tarfile
import tomllib
from pathlib import Path

import pytest

from bulk_transcribe.core.errors import SessionError
from bulk_transcribe.core.model import Video
from bulk_transcribe.core.settings import AUTO, Settings
from bulk_transcribe.core.store import session as session_module
from bulk_transcribe.core.store.format import parse_cache_path, peek
from bulk_transcribe.core.store.pages import PAGE_SIZE, pages_dir
from bulk_transcribe.core.store.session import Session

FIXTURE = Path(__file__).parent / "data" / "v1_from_main.tar.gz"
_DEFAULTS = {f.name: f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
             for f in dataclasses.fields(Video)}


def _unpack(tmp_path: Path) -> tuple[Path, dict]:
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(tmp_path, filter="data")
    folder = tmp_path / "v1_from_main"
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    (folder / "expected.json").unlink()
    return folder / "links.toml", expected


def _state(s: Session) -> dict:
    return {"batch": s.batch, "created": s.created, "settings": s.settings, "limiter": s.limiter, "meta": s.meta,
            "rejected": [dataclasses.asdict(r) for r in s.rejected],
            "videos": [{k: x for k, x in {**dataclasses.asdict(v), "state": v.state.value}.items()
                        if k in ("key", "state") or x != _DEFAULTS[k]} for v in s.videos]}


def _want(expected: dict) -> dict:
    return {**expected, "settings": Settings.from_dict(expected["settings"])}


def _assert_migrated(path: Path) -> None:
    head = tomllib.loads(path.read_text(encoding="utf-8"))
    assert head["version"] == 2 and "videos" not in head
    assert [p["count"] for p in head["pages"]] == [PAGE_SIZE, 50]
    assert head["settings"]["concurrency"] == "auto"
    assert sorted(f.name for f in pages_dir(path).iterdir()) == sorted([p["file"] for p in head["pages"]]
                                                                       + [head["rejected"]["file"]])
    assert not parse_cache_path(path).exists()


def test_the_fixture_is_a_crashed_version_1_session():
    """What the test reads is what it claims: version 1, a journal the TOML does not hold."""
    with tarfile.open(FIXTURE) as tar:
        names = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name}
        head = tomllib.loads(tar.extractfile("v1_from_main/links.toml").read().decode())
        journal = tar.extractfile("v1_from_main/links.toml.journal").read().splitlines()
    assert names == {"links.toml", "links.toml.journal", "links.toml.parsed.json", "expected.json"}
    assert head["version"] == 1 and len(head["videos"]) == 1050 and head["settings"]["concurrency"] == 0
    assert len(journal) == 105 and all(json.loads(r)["seq"] > head["seq"] for r in journal)


@pytest.mark.parametrize("cache", [True, False], ids=["with its parse cache", "TOML only"])
def test_a_version_1_session_from_main_opens_and_migrates_losslessly(tmp_path, cache):
    path, expected = _unpack(tmp_path)
    if not cache:
        parse_cache_path(path).unlink()
    peeked = Session.peek_settings(path)
    assert peeked.concurrency == AUTO and peeked.max_per_source == 3 and peeked.max_cost == 12.5
    states = [v["state"] for v in expected["videos"]]
    counts = (len(states), states.count("done"), states.count("failed"), 2,
              sum(1 for v in expected["videos"] if v.get("possibly_paid") and v["state"] not in ("done", "failed")))
    info = peek(path)   # the resume prompt's counts, without the lock, journal included, before the migration
    assert (info.total, info.done, info.failed, info.rejected, info.in_doubt) == counts and info.in_doubt

    s = Session.open(path)
    assert _state(s) == _want(expected)
    s.close()
    _assert_migrated(path)

    info = peek(path)
    assert (info.total, info.done, info.failed, info.rejected, info.in_doubt) == counts
    again = Session.open(path)
    assert _state(again) == _want(expected)
    again.close()
    assert Session.peek_settings(path) == peeked


def test_a_crash_while_migrating_leaves_the_version_1_session_to_migrate_again(tmp_path, monkeypatch):
    """The pages are written, the new head's write fails (a kill or a full disk there): the old
    TOML, its cache and the journal are untouched, and the next open migrates from them."""
    path, expected = _unpack(tmp_path)
    before = {p.name: p.read_bytes() for p in path.parent.iterdir()}
    real = session_module.atomic_write_bytes

    def failing(target, data, **kw):
        if Path(target) == path:
            raise OSError(28, "No space left on device")
        return real(target, data, **kw)

    monkeypatch.setattr(session_module, "atomic_write_bytes", failing)
    with pytest.raises(SessionError):
        Session.open(path)
    assert {p.name: p.read_bytes() for p in path.parent.iterdir() if p.is_file() and not p.name.endswith(".lock")} \
        == before
    monkeypatch.setattr(session_module, "atomic_write_bytes", real)

    s = Session.open(path)
    assert _state(s) == _want(expected)
    s.close()
    _assert_migrated(path)
