"""deAPI answering 503 for a long time: one outage, named once, not an error line per try.

The real engine against the simulator over loopback: once every job is submitted, the simulator
answers every request 503 for a while, then recovers.
"""

from __future__ import annotations

import anyio
import pytest

from bulk_transcribe.core.durations import for_words
from bulk_transcribe.core.events import ErrorLogged, Notice, Progress, WorkerChanged
from bulk_transcribe.core.run.outage import LONG_AFTER, Outage
from bulk_transcribe.core.simulator import SimConfig, SimServer

from .engine_harness import make_session, run_engine, yt


def test_an_outage_is_long_after_a_few_errors_in_a_row_and_ends_at_a_good_answer():
    now = [100.0]
    outage = Outage(lambda: now[0])
    assert outage.failed(503) == (True, False) and outage.snapshot() is None
    outage.failed(503)
    assert outage.failed(503) == (True, True), "the third in a row makes it long: said once"
    outage.retry_at(2, 140.0)
    outage.retry_at(4, 130.0)
    now[0] = 820.0
    assert outage.failed(502) == (False, False), "from then on counted, not logged"
    snap = outage.snapshot()
    assert (snap.status, snap.since, snap.tries, snap.next_try) == (502, 100.0, LONG_AFTER + 1, 130.0)
    assert outage.words() == "502 for 12 m"
    assert outage.answered() == (720.0, 4)
    assert outage.snapshot() is None and outage.answered() is None
    assert [for_words(s) for s in (5, 125, 7500)] == ["5 s", "2 m", "2 h 05 m"]


@pytest.mark.slow
def test_a_long_503_is_one_outage_on_progress_and_worker_rows_not_a_line_per_try(tmp_path):
    with SimServer(SimConfig(latency=(2.0, 3.0), pending_share=0.0)) as sim:
        session = make_session(tmp_path, [yt(i, "out") for i in range(5)], sim.base_url, concurrency=5,
                               plan="premium")

        async def storm(engine):
            while sum(sim.submissions().values()) < 5:
                await anyio.sleep(0.05)
            sim.set_config(server_error_share=1.0, server_error_statuses=(503,))
            while sim.count_5xx < 2 * LONG_AFTER + 5:   # many more tries than are logged
                await anyio.sleep(0.1)
            sim.set_config(server_error_share=0.0)

        finished, events = run_engine(session, controls=storm)
        fives = sim.count_5xx
        subs = sim.submissions()

    assert finished.done == 5 and all(n == 1 for n in subs.values()), subs
    logged = [e for e in events if isinstance(e, ErrorLogged) and e.status == 503]
    assert len(logged) <= LONG_AFTER < fives, f"{len(logged)} error lines for {fives} tries"
    troubled = [e.server_trouble for e in events if isinstance(e, Progress) and e.server_trouble]
    assert troubled and troubled[-1].status == 503 and troubled[-1].tries > LONG_AFTER
    assert any(t.next_try is not None for t in troubled), "the next try is known"
    rows = [e.detail for e in events if isinstance(e, WorkerChanged) and e.detail.startswith("503 for ")]
    assert rows, "the worker rows name the outage"
    said = [e.message for e in events if isinstance(e, Notice)]
    assert sum("deAPI answering 503 again and again" in m for m in said) == 1, said
    assert any(m.startswith("deAPI answers again, after ") for m in said), said
    last = [e for e in events if isinstance(e, Progress)][-1]
    assert last.server_trouble is None, "over once deAPI answers"


@pytest.mark.parametrize("status", [503, 502])
def test_submits_wait_out_a_long_outage_without_using_attempts_or_going_in_doubt(tmp_path, status):
    """deAPI answers every request `status` from the start. Once the outage is long, queued
    videos are held (one probe at a time) instead of each spending its attempts (503: after 2
    tries they would fail) or, for a 502 (after which a job may exist), going in doubt one
    submit at a time. The first wave may go in doubt; no later video does, and none is paid twice."""
    with SimServer(SimConfig(latency=(0.2, 0.4), pending_share=0.0, server_error_share=1.0,
                             server_error_statuses=(status,))) as sim:
        session = make_session(tmp_path, [yt(i, "out") for i in range(8)], sim.base_url, concurrency=3,
                               max_attempts=2, plan="premium")

        async def storm(engine):
            while sim.count_5xx < LONG_AFTER + 3:   # past the first wave, into the probes
                await anyio.sleep(0.05)
            sim.set_config(server_error_share=0.0)

        finished, events = run_engine(session, controls=storm)
        subs = sim.submissions()

    videos = session.videos
    in_doubt = [v for v in videos if v.possibly_paid]
    assert all(n == 1 for n in subs.values()), subs
    assert len(in_doubt) <= 3, f"only the first wave (3 in flight) may be in doubt: {len(in_doubt)}"
    if status == 503:
        assert finished.done == 8 and not in_doubt, [(v.vid, v.message) for v in videos if v.state.terminal]
    else:
        assert finished.done == 8 - len(in_doubt)
    said = [e.message for e in events if isinstance(e, Notice)]
    assert sum(f"deAPI answering {status} again and again" in m for m in said) == 1, said
