"""A done video whose transcript files went missing or empty is fetched again by its request id
(free while deAPI keeps the result), never submitted again."""

from __future__ import annotations

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
