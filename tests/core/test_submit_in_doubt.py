"""Never paying twice by accident: every fault that loses a submit's answer, against the simulator.

Each test asks the simulator's ledger how many jobs it made, not only whether the batch ended.
A submit whose request reached deAPI and whose answer was lost is *in doubt*: recorded, shown,
and never sent again unless the user asks (`resubmit_in_doubt`). A submit that never left
(connection refused) is not in doubt and costs no attempt.
"""

from __future__ import annotations

import anyio
import pytest

from bulk_transcribe.core.deapi.client import DeapiClient
from bulk_transcribe.core.events import ErrorLogged, Notice
from bulk_transcribe.core.launch import opening_notices
from bulk_transcribe.core.model import VideoState
from bulk_transcribe.core.run.engine import Engine
from bulk_transcribe.core.simulator import SimConfig, SimServer
from bulk_transcribe.core.store.session import Session

from .engine_harness import KEY, make_session, run_engine, yt
from .media_server import closed_port

FAST = dict(latency=(0.2, 0.6), pending_share=0.2)


def run_with(session: Session, client: DeapiClient, **engine_kwargs):
    events: list = []

    async def main():
        async with client:
            return await Engine(session, api_key=KEY, sink=events.append, client=client, **engine_kwargs).run()

    return anyio.run(main), events


@pytest.mark.slow
def test_submit_answers_slower_than_20_s_are_paid_once_and_transcribed(tmp_path):
    """The old client gave up on a submit after 20 s and sent it again: paid three times, no
    transcript. A slow answer is waited for, and does not hold the other submits behind it."""
    urls = [yt(i, "slow") for i in range(3)]
    with SimServer(SimConfig(submit_answer_delay=21.0, **FAST)) as sim:
        # premium: Basic (where --plan auto starts) allows one submit a minute, which would serialise them
        session = make_session(tmp_path, urls, sim.base_url, concurrency=3, plan="premium")
        finished, _ = run_engine(session)
        subs, arrivals = sim.submissions(), sorted(sim.arrivals("submit"))
    assert finished.done == 3 and finished.in_doubt == 0
    assert subs == {u: 1 for u in urls}, "every video paid once"
    assert arrivals[-1] < arrivals[0] + 21.0, "the later submits went while the first still awaited its answer"


@pytest.mark.parametrize("fault", ["reset:1", "garbled:1", "trickle:2"])
def test_a_lost_answer_puts_the_video_in_doubt_and_it_is_never_sent_again(tmp_path, fault):
    urls = [yt(0, "lost"), yt(1, "fine")]
    with SimServer(SimConfig(faults={urls[0][-11:]: fault}, **FAST)) as sim:
        session = make_session(tmp_path, urls, sim.base_url, max_attempts=5)
        client = DeapiClient(sim.base_url, KEY, totals={"submit": 2.0})
        finished, events = run_with(session, client)
        subs = sim.submissions()
        lost = session.videos[0]
    assert subs[urls[0]] == 1, f"{fault}: the job was made once and never again"
    assert (lost.state, lost.category, lost.possibly_paid, lost.request_id) == (VideoState.FAILED, "in-doubt", True, "")
    assert "possibly paid" in lost.message and "--resubmit-in-doubt" in lost.message
    assert finished.done == 1 and finished.in_doubt == 1 and finished.in_doubt_cost > 0
    assert any(isinstance(e, ErrorLogged) and e.category == "in-doubt" for e in events)


def test_a_resume_does_not_resubmit_in_doubt_unless_asked(tmp_path):
    urls = [yt(0, "lost")]
    with SimServer(SimConfig(faults={urls[0][-11:]: "reset:1"}, **FAST)) as sim:
        session = make_session(tmp_path, urls, sim.base_url)
        run_engine(session)
        again = Session.open(session.path)
        told = opening_notices(again, resumed=True)
        finished, _ = run_engine(again)
        assert sim.submissions()[urls[0]] == 1, "a plain resume pays for nothing in doubt"
        assert finished.in_doubt == 1
        assert any("in doubt" in n.message and "--resubmit-in-doubt" in n.message for n in told)

        asked = Session.open(session.path)
        result, _ = run_with(asked, DeapiClient(sim.base_url, KEY), resubmit_in_doubt=True)
        assert sim.submissions()[urls[0]] == 2, "the user asked: one more job"
    assert result.done == 1 and result.in_doubt == 0
    assert asked.videos[0].possibly_paid, "the history stays: the report still says it may have been paid twice"


def test_a_refused_connection_is_not_in_doubt_costs_no_attempt_and_the_run_waits_for_deapi(tmp_path):
    """Against a dead API nothing was sent: no video is flagged possibly paid, none spends its
    attempts, and the run says deAPI is unreachable instead of failing the batch."""
    urls = [yt(i, "dead") for i in range(3)]
    # --plan auto starts at Basic's 1 submit/min: the first refusal must say it, not the third a minute apart
    session = make_session(tmp_path, urls, f"http://127.0.0.1:{closed_port()}", max_attempts=1)
    said: list[str] = []

    async def steer(engine):
        while not any("unreachable" in m for m in said):
            await anyio.sleep(0.05)
        engine.request_stop()

    def sink(event):
        if isinstance(event, Notice):
            said.append(event.message)

    async def main():
        engine = Engine(session, api_key=KEY, sink=sink)
        with anyio.fail_after(50):   # under a minute: one submit of Basic's 1/min
            async with anyio.create_task_group() as tg:
                tg.start_soon(steer, engine)
                result = await engine.run()
        return result

    finished = anyio.run(main)
    assert finished.failed == 0 and finished.possibly_paid == 0
    assert all(v.attempts == 0 and v.state is VideoState.QUEUED for v in session.videos)


def test_a_charged_failure_counts_in_the_cost(tmp_path):
    """refunded: false means deAPI kept the charge: it is part of what the batch cost."""
    urls = [yt(0, "chrg"), yt(1, "fine")]
    with SimServer(SimConfig(faults={urls[0][-11:]: "failed-charged"}, **FAST)) as sim:
        session = make_session(tmp_path, urls, sim.base_url)
        finished, _ = run_engine(session)
        charged = sim.charged()
    assert session.videos[0].state is VideoState.FAILED and session.videos[0].cost > 0
    assert finished.cost == pytest.approx(charged, rel=1e-6), "our tally is what the service charged"


def test_a_charged_failure_that_is_retried_counts_every_charge(tmp_path):
    """A retryable failure with refunded: false is resubmitted: each job deAPI kept the charge of
    is in the video's cost, the first one before the second submit went."""
    urls = [yt(0, "chrr")]
    with SimServer(SimConfig(faults={urls[0][-11:]: "failed-charged:retryable"}, **FAST)) as sim:
        session = make_session(tmp_path, urls, sim.base_url, max_attempts=2)
        finished, _ = run_engine(session)
        subs, charged = sim.submissions(), sim.charged()
    assert subs == {urls[0]: 2}, "retried once, as max_attempts allows"
    assert session.videos[0].state is VideoState.FAILED
    assert session.videos[0].cost == pytest.approx(charged, rel=1e-6) and charged > 0
    assert finished.cost == pytest.approx(charged, rel=1e-6)
