"""`--concurrency auto` end to end over loopback: the real engine against the simulated deAPI.

Time runs 20x faster on both sides (as in tests/core/test_engine_limits.py). Asserted: no 429
beyond what the limiter lets through (none: it knows the account's rate), every video paid
exactly once (the simulator's ledger), and the level going past the old fixed default of 5
because the account's rate allows it. No wall-clock bound is asserted.
"""

from __future__ import annotations

import anyio
import pytest

from bulk_transcribe.core.events import ConcurrencyChanged, Progress
from bulk_transcribe.core.run.engine import Engine
from bulk_transcribe.core.run.polling import PollPlanner
from bulk_transcribe.core.simulator import SimConfig, SimServer
from tests.benchmark.common import Scale, ScaledLimiter

from .engine_harness import KEY, make_session, yt

SCALE = Scale(20.0)
MARGIN = 0.3 * SCALE.factor   # see test_engine_limits.py: the margin absorbs a loaded machine's jitter


def run_auto(tmp_path, sim, n: int, **settings):
    session = make_session(tmp_path, [yt(i, "auto") for i in range(n)], sim.base_url, limit_margin=MARGIN,
                           **settings)
    assert session.settings.auto_concurrency, "auto is the default"
    events: list = []
    engine = Engine(session, api_key=KEY, sink=events.append, limiter=ScaledLimiter.build(session.settings, SCALE))
    engine.planner = engine.make_planner(time_scale=SCALE.factor)
    finished = anyio.run(engine.run)
    session.close()
    return finished, events


@pytest.mark.slow
def test_auto_on_a_shared_premium_account_meets_no_429_and_pays_each_video_once(tmp_path):
    cfg = SimConfig(shared_limits=True, account_rpm=300, latency=(1.0, 4.0), pending_share=0.2,
                    window=SCALE.window)
    n = 120
    with SimServer(cfg) as sim:
        finished, events = run_auto(tmp_path, sim, n, plan="premium", limit_mode="shared")
        rejected = sim.count_429
        per_url = sim.submissions()
        jobs, charged = sim.jobs_created(), sim.charged()
    assert finished.done == n and finished.failed == 0
    assert sum(rejected.values()) == 0, rejected
    assert jobs == n and sorted(set(per_url.values())) == [1], "every video paid once"
    assert charged > 0
    levels = [e.concurrency for e in events if isinstance(e, Progress)]
    assert max(levels) > 5, "auto goes past the old fixed default when the rate allows"
    reasons = [e.concurrency_reason for e in events if isinstance(e, Progress) and e.concurrency_reason]
    assert any("/min" in r and " s" in r for r in reasons), reasons[-3:]


@pytest.mark.slow
def test_auto_follows_a_rate_learned_from_headers(tmp_path):
    """`--plan auto` starts at Basic's 1 submit a minute (a level of one); deAPI's headers say
    300, and the level follows."""
    cfg = SimConfig(latency=(1.0, 3.0), pending_share=0.2, window=SCALE.window)   # 300/min per endpoint
    n = 60
    with SimServer(cfg) as sim:
        finished, events = run_auto(tmp_path, sim, n)
        rejected = sim.count_429
        per_url = sim.submissions()
    assert finished.done == n
    assert sum(rejected.values()) == 0, rejected
    assert sorted(set(per_url.values())) == [1]
    raised = [e for e in events if isinstance(e, ConcurrencyChanged) and e.level > 1]
    assert raised, "the level rose once the headers told the account's rate"


def test_auto_takes_its_first_job_time_from_the_planner_in_use(tmp_path):
    """Before any job is seen, auto's job time is the poll planner's expectation, asked when
    needed: a planner set after the engine is built (a faster clock, as here) is the one used.
    It was read once at construction, so a scaled run started its first wave at the ceiling."""
    session = make_session(tmp_path, [yt(0, "first")], "http://127.0.0.1:9")
    engine = Engine(session, api_key=KEY, sink=lambda e: None, limiter=ScaledLimiter.build(session.settings, SCALE))
    engine.planner = PollPlanner(time_scale=SCALE.factor)
    auto = engine.pacing.level.auto
    assert auto is not None and auto.job_time() == pytest.approx(engine.planner.expected(None))
    session.close()


@pytest.mark.slow
def test_job_times_learned_leave_out_our_own_wait_for_the_status_budget(tmp_path):
    """Ten jobs of 1 s in flight with 12 status calls a (scaled) minute: looks wait their turn
    at the gate for seconds. The times learned (poll planner, auto) are deAPI's, not that wait:
    left in, slower "jobs" aimed later looks and moved auto's level (more lag either way)."""
    cfg = SimConfig(latency=(1.0, 1.0), pending_share=0.2, window=SCALE.window, submit_rpm=300, status_rpm=12)
    with SimServer(cfg) as sim:
        session = make_session(tmp_path, [yt(i, "held") for i in range(20)], sim.base_url, limit_margin=MARGIN,
                               concurrency=10, plan="premium", limit_mode="per-endpoint", rpm=300, status_rpm=12)
        engine = Engine(session, api_key=KEY, sink=lambda e: None,
                        limiter=ScaledLimiter.build(session.settings, SCALE))
        engine.planner = PollPlanner(time_scale=SCALE.factor)
        finished = anyio.run(engine.run)
    session.close()
    assert finished.done == 20
    learned = sorted(engine.planner._latency)
    assert learned[len(learned) // 2] < 1.5, learned
