"""The run watches what it spends: it stops submitting before it would go over --max-cost or the
balance, says why, and follows what is already paid for."""

from __future__ import annotations

import anyio

from bulk_transcribe.core.events import Notice
from bulk_transcribe.core.model import Video
from bulk_transcribe.core.prices import estimate_price
from bulk_transcribe.core.run.budget import Budget
from bulk_transcribe.core.simulator import SimConfig, SimServer

from .engine_harness import make_session, run_engine, yt

FAST = dict(latency=(0.2, 0.5), pending_share=0.2)


def test_max_cost_stops_submitting_before_the_limit_is_crossed(tmp_path):
    from bulk_transcribe.core.simulator.content import duration_for
    from bulk_transcribe.core.store.session import Session

    from .engine_harness import videos_for

    urls = [yt(i, "cost") for i in range(10)]
    videos = videos_for(urls)
    for v in videos:
        v.duration = duration_for(v.url)          # as a metadata lookup would have found
    prices = [estimate_price(v.duration) for v in videos]
    limit = sum(prices[:3]) + prices[3] / 2      # room for three, not for the fourth
    with SimServer(SimConfig(**FAST)) as sim:
        seed = make_session(tmp_path / "seed", [], sim.base_url, concurrency=1, max_cost=limit, order="input")
        seed.close()
        session = Session.create(tmp_path / "s.toml", batch="b", settings=seed.settings, videos=videos)
        finished, events = run_engine(session)
        jobs, charged = sim.jobs_created(), sim.charged()
    assert jobs == 3, "three fit under the limit; a fourth would cross it"
    assert charged == finished.cost <= limit
    assert finished.done == 3 and finished.remaining == 7 and finished.stopped
    said = [e.message for e in events if isinstance(e, Notice) and e.level == "error"]
    assert any("--max-cost" in m and "raise --max-cost, then resume" in m for m in said), said


def test_the_balance_is_guarded_with_deapis_minimum_left():
    videos = [Video(key=f"k{i}", url="u", vid=f"v{i}", duration=3600.0) for i in range(3)]
    budget = Budget(videos, balance=0.49 + 2 * estimate_price(3600.0) + 0.001)
    for v in videos[:2]:
        assert budget.refusal(v) == ""
        budget.reserve(v)
    assert "balance would run out" in budget.refusal(videos[2])
    budget.release(videos[0])   # a job that failed unpaid frees its reservation
    assert budget.refusal(videos[2]) == ""


def test_the_run_stops_submitting_before_the_balance_read_at_its_start_would_run_out(tmp_path):
    """The balance is read as the faces read it (launch.open_run) and guarded inside the run:
    submitting stops, saying why, before the account would fall under deAPI's minimum (the
    simulator alone would take a fourth job, then go under it). After a top-up the same
    session carries on, and no video is paid twice."""
    from bulk_transcribe.core.launch import open_run
    from bulk_transcribe.core.run.budget import MIN_BALANCE
    from bulk_transcribe.core.simulator.content import duration_for

    from .engine_harness import KEY, videos_for

    urls = [yt(i, "bal") for i in range(8)]
    videos = videos_for(urls)
    for v in videos:
        v.duration = duration_for(v.url)          # as a metadata lookup would have found
    prices = [estimate_price(v.duration) for v in videos]
    balance = MIN_BALANCE + sum(prices[:3]) + prices[3] / 2   # room for three, not for the fourth
    with SimServer(SimConfig(**FAST, balance=balance)) as sim:
        seed = make_session(tmp_path / "seed", [], sim.base_url, concurrency=1, order="input")
        seed.close()

        def runs(session, resumed: bool):
            events: list = []

            async def prepare():
                return session, resumed

            async def main():
                engine = await open_run(prepare, KEY, session.settings, events.append)
                return await engine.run()

            return anyio.run(main), events

        from bulk_transcribe.core.store.session import Session
        first, events = runs(Session.create(tmp_path / "s.toml", batch="b", settings=seed.settings, videos=videos),
                             False)
        jobs, charged = sim.jobs_created(), sim.charged()
        assert jobs == 3, "three fit in the balance; the simulator would have taken a fourth"
        assert charged <= balance - MIN_BALANCE + 1e-9, "the account never went under deAPI's minimum"
        assert first.stopped and first.done == 3 and first.remaining == 5
        said = [e.message for e in events if isinstance(e, Notice) and e.level == "error"]
        assert any("balance would run out" in m for m in said), said

        sim.set_config(balance=100.0)                     # topped up: resume carries on
        again, _ = runs(Session.open(tmp_path / "s.toml"), True)
        subs = sim.submissions()
    assert again.done == 8 and again.remaining == 0
    assert len(subs) == 8 and set(subs.values()) == {1}, f"nothing paid twice: {subs}"
