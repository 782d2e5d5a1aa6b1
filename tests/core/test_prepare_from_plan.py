"""create_session_from_plan: the session holds exactly the videos the plan showed, resolved once."""

from __future__ import annotations

import anyio
import pytest

from bulk_transcribe.core.errors import SessionError
from bulk_transcribe.core.plan import build_plan
from bulk_transcribe.core.prepare import create_session_from_plan, prepare_session
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.sources import expand as sources

from .test_plan import IDS, watch, write_batch

LINES = [watch(IDS[0]), "not a url", f"https://youtu.be/{IDS[1]}", watch(IDS[0]), watch(IDS[2])]


def test_the_session_matches_prepare_session_without_a_second_resolve(tmp_path, monkeypatch):
    monkeypatch.setenv("BULK_TRANSCRIBE_DATA_DIR", str(tmp_path / "data"))
    batch = write_batch(tmp_path, LINES)
    settings = Settings(metadata=False, order="input")
    plan = anyio.run(lambda: build_plan(batch, settings, cache_dir=None))

    calls = []
    monkeypatch.setattr(sources, "resolve", lambda *a, **k: calls.append(a))
    session = create_session_from_plan(plan, batch, settings, session_path=tmp_path / "planned.toml")
    try:
        assert calls == []
        assert [v.key for v in session.videos] == [r.key for r in plan.rows]
        planned = [(r.line, r.category, r.reason) for r in session.rejected]
        assert session.settings == settings and session.batch == str(batch.resolve())
    finally:
        session.close()

    reference, resumed = anyio.run(lambda: prepare_session(batch, settings, session_path=tmp_path / "ref.toml"))
    try:
        assert not resumed and [v.key for v in reference.videos] == [r.key for r in plan.rows]
        assert planned == [(r.line, r.category, r.reason) for r in reference.rejected]
        assert planned[1] == (4, "duplicate", "duplicate of line 1")
    finally:
        reference.close()


def test_an_existing_session_is_never_overwritten(tmp_path):
    batch = write_batch(tmp_path, LINES[:1])
    settings = Settings(metadata=False)
    plan = anyio.run(lambda: build_plan(batch, settings, cache_dir=None))
    create_session_from_plan(plan, batch, settings, session_path=tmp_path / "s.toml").close()
    with pytest.raises(SessionError, match="already exists"):
        create_session_from_plan(plan, batch, settings, session_path=tmp_path / "s.toml")
