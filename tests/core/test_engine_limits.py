"""`--plan auto` end to end: the real engine learns the simulated account's limits from the
X-RateLimit-* headers of its answers, over loopback.

Time runs 20x faster on both sides, as in the benchmark: the simulator's "minute" is 3 s, our
limiter's window and margin are divided by the same factor, and so are the poll planner's fixed
times. The only timing asserts are lower bounds on counts that load cannot break (a loaded
machine only makes fewer requests per window, never more).
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from bulk_transcribe.core.events import Notice, Progress
from bulk_transcribe.core.run.engine import Engine
from bulk_transcribe.core.simulator import SimConfig, SimServer
from tests.benchmark.common import Scale, ScaledLimiter

from .engine_harness import KEY, make_session, max_in_window, yt

SCALE = Scale(20.0)          # a "minute" lasts 3 s
WINDOW = SCALE.window
FAST_JOBS = dict(latency=(0.2, 0.5), pending_share=0.2, window=WINDOW)
# The limiter's margin absorbs the time from a grant to its request's arrival (journalling,
# scheduling). Scaled like the rest it would be 25 ms, less than a loaded machine's jitter:
# 0.3 s (scaled) keeps "no 429" a fact about the limiter, not about the machine's load.
MARGIN = 0.3 * SCALE.factor


def run_scaled(tmp_path: Path, sim: SimServer, n: int, **settings):
    """The engine with default settings (plus `settings`) on `n` videos, time scaled; returns
    (BatchFinished, events, the engine)."""
    session = make_session(tmp_path, [yt(i) for i in range(n)], sim.base_url, limit_margin=MARGIN, **settings)
    events: list = []
    engine = Engine(session, api_key=KEY, sink=events.append,
                    limiter=ScaledLimiter.build(session.settings, SCALE))
    engine.planner = engine.make_planner(time_scale=SCALE.factor)
    finished = anyio.run(engine.run)
    session.close()
    return finished, events, engine


def notices(events) -> list[str]:
    return [e.message for e in events if isinstance(e, Notice)]


def sources(events) -> set[tuple[str, str]]:
    return {(b.name, b.source) for e in events if isinstance(e, Progress) for b in e.buckets}


@pytest.mark.slow
def test_a_basic_account_told_only_in_headers_meets_no_429(tmp_path):
    cfg = SimConfig(submit_rpm=1, submit_per_day=10, status_rpm=50, status_per_day=200,
                    price_rpm=50, price_per_day=200, **FAST_JOBS)
    with SimServer(cfg) as sim:
        finished, events, engine = run_scaled(tmp_path, sim, 4, concurrency=4)
        submits, status = sim.accepted("submit"), sim.accepted("status")
        rejected = sim.count_429
    assert finished.done == 4
    assert sum(rejected.values()) == 0, rejected
    assert max_in_window(submits, WINDOW) <= 1 and max_in_window(status, WINDOW) <= 50
    assert len(submits) == 4
    said = notices(events)
    assert "deAPI says this account allows 1 submit/min and 10 a day: pacing at that" in said
    assert ("submit", "header") in sources(events)
    assert engine.limiter.daily_remaining("submit") == 6, "the day's count follows the server's"


@pytest.mark.slow
def test_a_premium_account_is_paced_at_its_300_not_at_basic(tmp_path):
    with SimServer(SimConfig(**FAST_JOBS)) as sim:    # 300 a minute per endpoint, no daily limits
        finished, events, engine = run_scaled(tmp_path, sim, 40, concurrency=20)
        submits = sorted(sim.accepted("submit"))
        rejected = sim.count_429
    assert finished.done == 40
    assert sum(rejected.values()) == 0, rejected
    first_minute = [t for t in submits if t < submits[0] + WINDOW]
    assert len(first_minute) >= 10, "far above Basic's 1 a minute"
    assert engine.limiter.bucket("submit").per_minute == 300 and engine.limiter.daily_remaining("submit") is None
    assert "deAPI says this account allows 300 submits/min: pacing at that" in notices(events)


@pytest.mark.slow
def test_a_shared_account_bucket_is_never_overrun(tmp_path):
    n = 12
    with SimServer(SimConfig(shared_limits=True, account_rpm=n, **FAST_JOBS)) as sim:
        finished, events, engine = run_scaled(tmp_path, sim, 16, concurrency=8)
        calls = sim.accepted("submit") + sim.accepted("status")
        rejected = sim.count_429
    assert finished.done == 16
    assert sum(rejected.values()) == 0, rejected
    assert max_in_window(calls, WINDOW) <= n, "submits and status checks together"
    assert engine.limiter.shared and engine.limiter.account.per_minute == n
    assert f"deAPI says submits and status checks share one account limit of {n}/min: pacing at that" \
        in notices(events)
    assert ("account", "header") in sources(events)
