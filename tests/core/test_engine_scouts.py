"""Shared limits, the first wave: scouts explore, the rest wait for what they learn.

Under deAPI's shared limits every status call is a submit not made. Before any job has been seen
done nothing tells when a job will end, and exploring every job of the first wave (a look at
10 s, 20 s, 30 s, then its end) cost 3-4 calls each. With scouts, five jobs explore and the others
take one look just past the end the scouts' progress forecasts (tests/core/test_polling.py has
the planner's side). The real engine against the simulated deAPI over loopback, time 20x faster
on both sides as in tests/core/test_engine_auto.py; the server's own counts are asserted: status
calls it answered, jobs it created. No wall-clock bound.
"""

from __future__ import annotations

import anyio

from bulk_transcribe.core.run.engine import Engine
from bulk_transcribe.core.simulator import SimConfig, SimServer
from tests.benchmark.common import Scale, ScaledLimiter

from .engine_harness import KEY, make_session, yt

SCALE = Scale(20.0)
MARGIN = 0.3 * SCALE.factor


def test_the_first_wave_under_shared_limits_spends_few_status_calls_and_pays_each_video_once(tmp_path):
    # Jobs of 60 s (3 s here), 20 % of it pending: the first wave (about 75 under auto's first
    # guess of 30 s a job) ends before any job time is known, so nearly every job is in it.
    cfg = SimConfig(shared_limits=True, account_rpm=300, latency=(60.0 / SCALE.factor, 60.0 / SCALE.factor),
                    pending_share=0.2, window=SCALE.window)
    n = 80
    with SimServer(cfg) as sim:
        session = make_session(tmp_path, [yt(i, "scout") for i in range(n)], sim.base_url, limit_margin=MARGIN,
                               plan="premium", limit_mode="shared")
        engine = Engine(session, api_key=KEY, sink=lambda e: None,
                        limiter=ScaledLimiter.build(session.settings, SCALE))
        engine.planner = engine.make_planner(time_scale=SCALE.factor)
        finished = anyio.run(engine.run)
        session.close()
        status_calls = len(sim.arrivals("status"))
        per_url, jobs = sim.submissions(), sim.jobs_created()
    assert finished.done == n and finished.failed == 0
    assert jobs == n and sorted(set(per_url.values())) == [1], "every video paid once"
    # Exploring every job: 3.1 calls a video measured without scouts (1.2 with).
    assert status_calls / n <= 2.0, f"{status_calls} status calls for {n} videos"
