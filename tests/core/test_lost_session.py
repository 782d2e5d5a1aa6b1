"""A damaged or lost session never costs money: running the batch again adopts the transcripts
already written and re-attaches to the jobs already paid for (request ids kept beside it)."""

from __future__ import annotations

import anyio
import pytest

from bulk_transcribe.core.errors import SessionError
from bulk_transcribe.core.model import VideoState
from bulk_transcribe.core.prepare import prepare_session
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.simulator import SimConfig, SimServer
from bulk_transcribe.core.store.session import Session

from .engine_harness import KEY, run_engine, yt

FAST = dict(latency=(0.2, 0.5), pending_share=0.2)


def batch_of(tmp_path, urls):
    batch = tmp_path / "links.txt"
    batch.write_text("\n".join(urls) + "\n", encoding="utf-8")
    return batch


def prepare(batch, settings, path):
    return anyio.run(lambda: prepare_session(batch, settings, session_path=path))


def settings_for(tmp_path, base_url, **more) -> Settings:
    return Settings(api_base=base_url, output_dir=str(tmp_path / "out"), metadata=False, **more).validate()


def damage_and_move_away(path):
    path.write_bytes(b"version = 1\n[[videos]]\nkey = 'youtube:\x00broken")
    with pytest.raises(SessionError) as info:
        Session.open(path)
    message = str(info.value)
    assert "move" in message and "re-attaches" in message and "adopts" in message, message
    path.rename(path.with_name("moved-away.toml"))


def test_running_again_after_a_damaged_session_pays_for_nothing_already_transcribed(tmp_path):
    urls = [yt(i, "adopt") for i in range(4)]
    batch = batch_of(tmp_path, urls)
    path = tmp_path / "s.toml"
    with SimServer(SimConfig(**FAST)) as sim:
        settings = settings_for(tmp_path, sim.base_url, formats=("txt", "md"))
        session, _ = prepare(batch, settings, path)
        run_engine(session)
        assert sim.jobs_created() == 4
        (tmp_path / "out" / next(p.name for p in (tmp_path / "out").glob("*.md"))).unlink()   # one md lost

        damage_and_move_away(path)
        again, resumed = prepare(batch, settings, path)
        assert not resumed and all(v.state is VideoState.DONE for v in again.videos)
        assert any("adopted" in w for w in again.warnings)
        finished, _ = run_engine(again)
        assert sim.jobs_created() == 4, "nothing already transcribed was paid for again"
    assert finished.done == 4
    assert len(list((tmp_path / "out").glob("*.md"))) == 4, "the missing md was rebuilt from the text"


async def submit_first(session, sim, n):
    """Pay for the session's first `n` videos as a run would (real submits, each id journalled)."""
    from bulk_transcribe.core.deapi.client import DeapiClient

    async with DeapiClient(sim.base_url, KEY) as api:
        for v in session.videos[:n]:
            rid = await api.submit(v.url, model="WhisperLargeV3", include_ts=False)
            await session.record(v, state=VideoState.SUBMITTED, request_id=rid)


def test_the_old_journal_is_kept_and_its_request_ids_reattached(tmp_path):
    """Jobs submitted since the last checkpoint are only in the journal: a new session must not
    empty it, and must poll those jobs instead of paying for them again."""
    urls = [yt(i, "jrnl") for i in range(3)]
    batch = batch_of(tmp_path, urls)
    path = tmp_path / "s.toml"
    with SimServer(SimConfig(**FAST)) as sim:
        settings = settings_for(tmp_path, sim.base_url)
        session, _ = prepare(batch, settings, path)

        anyio.run(submit_first, session, sim, 2)
        session._journal.close()   # as a kill -9 would leave it: journalled, never checkpointed
        session._lock.release()
        damage_and_move_away(path)

        again, _ = prepare(batch, settings, path)
        assert [bool(v.request_id) for v in again.videos] == [True, True, False]
        assert list(tmp_path.glob("s.toml.journal.orphan-*")), "the old journal was kept, not emptied"
        finished, _ = run_engine(again)
        subs = sim.submissions()
    assert finished.done == 3
    assert subs == {u: 1 for u in urls}, "the two paid jobs were polled, not submitted again"


def test_a_damaged_page_costs_nothing_paid_for(tmp_path):
    """Format 2: the paid jobs' request ids live only in a page (the journal folded and emptied)
    and a byte of that page is damaged. The session refuses to open; run again after moving the
    head away, the new session keeps the old pages aside and salvage reads them line by line:
    the intact lines' jobs are polled, not paid for again."""
    urls = [yt(i, "page") for i in range(3)]
    batch = batch_of(tmp_path, urls)
    path = tmp_path / "s.toml"
    with SimServer(SimConfig(**FAST)) as sim:
        settings = settings_for(tmp_path, sim.base_url)
        session, _ = prepare(batch, settings, path)

        async def submit_two_and_checkpoint():
            await submit_first(session, sim, 2)
            await session.checkpoint()

        anyio.run(submit_two_and_checkpoint)
        session.close()
        assert path.with_name("s.toml.journal").stat().st_size == 0, "the request ids are only in the page"
        (page,) = (tmp_path / "s.toml.pages").glob("p00000-*.jsonl")
        lines = page.read_bytes().splitlines(keepends=True)
        assert len(lines) == 3 and b"request_id" not in lines[2]
        page.write_bytes(b"".join(lines[:2]) + lines[2].replace(b'"key"', b'"k\x00y"', 1))   # the third row damaged
        with pytest.raises(SessionError, match="damaged"):
            Session.open(path)
        path.rename(path.with_name("moved-away.toml"))

        again, _ = prepare(batch, settings, path)
        assert list(tmp_path.glob("s.toml.pages.orphan-*")), "the old pages were kept aside"
        assert [bool(v.request_id) for v in again.videos] == [True, True, False]
        finished, _ = run_engine(again)
        subs = sim.submissions()
    assert finished.done == 3
    assert subs == {u: 1 for u in urls}, "the two paid jobs were polled, not submitted again"
