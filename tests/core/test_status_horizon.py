"""How long a daily status allowance must last: until midnight, or until today's jobs end."""

from __future__ import annotations

import pytest

from bulk_transcribe.core.limiter import RateLimiter
from bulk_transcribe.core.run.polling import status_horizon
from bulk_transcribe.core.settings import Settings

NOON = 1_700_049_600.0   # 12:00 UTC: 720 minutes to the daily reset


def test_no_daily_limits_means_until_midnight():
    kw = dict(queued=10, in_flight=2, submit_per_minute=1.0, expected=50.0)
    assert status_horizon(status_left=None, submits_left=10, **kw) is None
    assert status_horizon(status_left=200, submits_left=None, **kw) is None


def test_daily_submits_bound_the_horizon():
    # 10 submits at 1 a minute, then two 50 s jobs' worth of following.
    h = status_horizon(status_left=200, submits_left=10, queued=30, in_flight=0, submit_per_minute=1.0,
                       expected=50.0)
    assert h == pytest.approx(10 + 100 / 60)
    # A queue shorter than the allowance bounds it instead.
    h = status_horizon(status_left=200, submits_left=10, queued=3, in_flight=2, submit_per_minute=1.0,
                       expected=60.0)
    assert h == pytest.approx(3 + 2)


def test_too_few_calls_per_job_falls_back_to_midnight():
    assert status_horizon(status_left=20, submits_left=10, queued=10, in_flight=0, submit_per_minute=1.0,
                          expected=50.0) is None


def test_limiter_spreads_over_the_horizon_when_sooner():
    lim = RateLimiter.from_settings(Settings(plan="basic", limit_mode="per-endpoint"), wall=lambda: NOON)
    assert lim.status_budget_per_minute() == pytest.approx(200 / 720)
    assert lim.status_budget_per_minute(horizon=20.0) == pytest.approx(10.0)
    assert lim.status_budget_per_minute(horizon=1.0) == 50.0            # never above the minute limit
    assert lim.status_budget_per_minute(horizon=10_000.0) == pytest.approx(200 / 720)


def test_planner_time_scale_divides_its_fixed_times():
    from bulk_transcribe.core.run.polling import JobClock, PollPlanner

    plain, fast = PollPlanner(economy=True), PollPlanner(economy=True, time_scale=10.0)
    assert fast.expected(None) == pytest.approx(plain.expected(None) / 10)
    first = dict(duration=None)
    assert fast.next_delay(JobClock(submitted=0.0), 0.0, **first) == pytest.approx(
        plain.next_delay(JobClock(submitted=0.0), 0.0, **first) / 10)


def test_one_progress_sample_predicts_the_end_once_the_lead_is_learned():
    from bulk_transcribe.core.run.polling import JobClock, PollPlanner

    def job_at(t: float, total: float, lead: float = 0.2) -> float:   # progress of a linear job
        return max(0.0, (t / total - lead) / (1 - lead) * 100)

    planner = PollPlanner()
    for total in (10.0, 12.0, 14.0):
        clock = JobClock(submitted=0.0)
        for t in (0.5 * total, 0.8 * total):
            clock.observe(t, job_at(t, total))
        planner.learn(total, None, clock)
    assert planner.lead() == pytest.approx(0.2)
    clock = JobClock(submitted=0.0)
    clock.observe(4.0, job_at(4.0, 8.0))
    assert planner._predict_remaining(clock, 4.0) == pytest.approx(4.0)
    assert PollPlanner()._predict_remaining(clock, 4.0) > 4.0   # unlearned: errs late
