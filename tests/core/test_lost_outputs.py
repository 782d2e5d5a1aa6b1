"""A done video whose transcript files went missing or empty is fetched again by its request id
(free while deAPI keeps the result), never submitted again."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bulk_transcribe.core.errors import Category
from bulk_transcribe.core.model import VideoState
from bulk_transcribe.core.simulator import SimConfig, SimServer
from bulk_transcribe.core.store.session import Session

from .engine_harness import make_session, run_engine, yt

FAST = dict(latency=(0.2, 0.5), pending_share=0.2)


def _first_run(tmp_path: Path, sim: SimServer) -> Session:
    session = make_session(tmp_path, [yt(i) for i in range(3)], sim.base_url)
    finished, _ = run_engine(session)
    assert finished.done == 3 and sim.jobs_created() == 3
    session.close()
    return Session.open(tmp_path / "session.toml")


def test_truncated_and_deleted_transcripts_come_back_without_a_new_submit(tmp_path):
    with SimServer(SimConfig(**FAST)) as sim:
        session = _first_run(tmp_path, sim)
        charged = sim.charged()
        cost = sum(v.cost for v in session.videos)
        emptied, deleted = Path(session.videos[0].outputs[0]), Path(session.videos[1].outputs[0])
        text = deleted.read_text(encoding="utf-8")
        emptied.write_bytes(b"")
        deleted.unlink()
        finished, _ = run_engine(session)
        assert sim.jobs_created() == 3, "the lost results were fetched by request id, not submitted again"
        assert sim.charged() == charged
    assert finished.done == 3 and finished.failed == 0
    assert emptied.stat().st_size > 0
    assert deleted.read_text(encoding="utf-8") == text
    assert sum(v.cost for v in session.videos) == cost, "a result fetched again is not counted as paid twice"


def test_a_lost_transcript_whose_result_expired_fails_saying_so_and_is_not_resubmitted(tmp_path):
    with SimServer(SimConfig(**FAST, inline_result=False)) as sim:
        session = _first_run(tmp_path, sim)
        Path(session.videos[2].outputs[0]).unlink()
        sim.set_config(result_ttl=-1.0)   # every result link deAPI hands out is already expired
        finished, _ = run_engine(session)
        assert sim.jobs_created() == 3
    v = session.videos[2]
    assert finished.done == 2 and finished.failed == 1
    assert v.state is VideoState.FAILED and v.category == Category.RESULT_EXPIRED.value
    assert "expired" in v.message and "not resubmitted" in v.message
    assert v.request_id, "the request id is kept"


def test_a_lost_transcript_of_an_adopted_video_is_not_paid_for_again_unless_asked(tmp_path):
    """A video adopted from files already in the output folder has no request id: when its files go
    missing there is nothing to fetch for free, so it fails saying so; --retry-failed pays for a new job."""
    with SimServer(SimConfig(**FAST)) as sim:
        session = _first_run(tmp_path, sim)
        adopted = session.videos[0]
        session.record_nowait(adopted, request_id="")   # as adopt_outputs leaves it: done, no job known
        Path(adopted.outputs[0]).unlink()
        again, _ = run_engine(session)
        assert sim.jobs_created() == 3, "no second paid job without the user asking"
        assert again.done == 2 and again.failed == 1
        assert adopted.state is VideoState.FAILED and adopted.category == Category.DISK.value
        assert "no deAPI request id" in adopted.message and "--retry-failed" in adopted.message
        session = Session.open(tmp_path / "session.toml")
        session.settings = dataclasses.replace(session.settings, retry_failed=True)   # --retry-failed
        asked, _ = run_engine(session)
        assert sim.submissions()[adopted.url] == 2, "paid again only because the user asked"
    assert asked.done == 3 and Path(session.videos[0].outputs[0]).stat().st_size > 0


def test_a_transcript_that_could_not_be_written_is_fetched_again_and_counted_once(tmp_path):
    """The result was in hand (and its cost counted) when writing the file failed; the resume fetches
    it again by request id: no new job, and the cost is not counted a second time."""
    from bulk_transcribe.core.output.transcripts import output_name

    with SimServer(SimConfig(**FAST)) as sim:
        session = make_session(tmp_path, [yt(0)], sim.base_url)
        v = session.videos[0]
        blocker = tmp_path / "out" / output_name(session.settings.template, v, "txt")
        blocker.mkdir(parents=True)   # a folder where the transcript should go: the write fails
        first, _ = run_engine(session)
        assert v.state is VideoState.FAILED and v.category == Category.DISK.value and v.request_id
        assert v.cost == sim.charged() > 0
        blocker.rmdir()
        session.close()
        resumed = Session.open(tmp_path / "session.toml")
        again, _ = run_engine(resumed)
        assert sim.jobs_created() == 1, "fetched by request id, not submitted again"
    v = resumed.videos[0]
    assert again.done == 1 and v.state is VideoState.DONE and blocker.is_file()
    assert v.cost == sim.charged(), "the job's cost is on the video once"
