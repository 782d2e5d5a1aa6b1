"""The poll planner: budgeted, learned, and guided by deAPI's progress."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulk_transcribe.core.run.polling import JobClock, PollPlanner


def trained(economy=False, latency=40.0, n=10):
    p = PollPlanner(economy=economy)
    for i in range(n):
        p.learn(latency + (i % 3) - 1, None)
    return p


def test_before_learning_it_explores_and_grows():
    p = PollPlanner()
    job = JobClock(submitted=0.0)
    gaps = []
    now = 0.0
    for _ in range(6):
        d = p.next_delay(job, now, duration=None)
        gaps.append(d)
        now += d
        job.observe(now, None)
    assert gaps[0] == pytest.approx(10.0), "not at once: a URL job sits at 0 % while its source downloads"
    assert all(b >= a for a, b in zip(gaps[1:], gaps[2:])) and max(gaps[1:]) <= 10.0


def test_first_poll_waits_until_a_job_could_plausibly_be_done():
    p = trained(latency=40.0)
    d = p.next_delay(JobClock(submitted=0.0), 0.0, duration=None)
    assert 5.0 <= d <= 40.0
    e = trained(economy=True, latency=40.0)
    d_econ = e.next_delay(JobClock(submitted=0.0), 0.0, duration=None)
    assert d_econ >= 0.8 * 40.0, "economy mode aims at the expected finish"


def test_progress_predicts_the_finish():
    p = trained(latency=100.0)
    job = JobClock(submitted=0.0)
    job.observe(10.0, 20.0)
    job.observe(14.0, 30.0)          # 2.5 %/s -> 70 % left -> 28 s
    d = p.next_delay(job, 14.0, duration=None)
    assert d == pytest.approx(28.0 * 1.05 + 0.1)
    # a prediction is trusted only so far: re-check within half the expected time
    job.observe(15.0, 30.5)          # progress crawling: 0.5 %/s -> 139 s left
    d = p.next_delay(job, 15.0, duration=None)
    assert d == pytest.approx(0.5 * p.expected(None))


def test_durations_scale_the_expectation():
    p = PollPlanner()
    for d in (60.0, 120.0, 600.0, 300.0):
        p.learn(d / 10.0, d)          # 0.1 s of work per second of audio
    assert p.expected(3600.0) == pytest.approx(360.0, rel=0.01)
    assert p.expected(60.0) < p.expected(3600.0)


@given(polls=st.integers(0, 5), elapsed=st.floats(0, 500), economy=st.booleans())
def test_every_planned_delay_is_positive(polls, elapsed, economy):
    p = trained(economy=economy)
    job = JobClock(submitted=0.0, polls=polls, last_gap=1.0)
    d = p.next_delay(job, elapsed, duration=None)
    assert d > 0


def test_jobs_that_follow_their_length_get_one_look_at_the_predicted_end():
    p = PollPlanner()
    for seconds in (60.0, 120.0, 600.0, 300.0, 240.0, 90.0):
        p.learn(20.0 + seconds / 10.0, seconds)     # 20 s of download and queue, then 0.1 s per audio second
    assert p.tight()
    assert p.expected(400.0) == pytest.approx(60.0), "a fixed part and a part per audio second"
    d = p.next_delay(JobClock(submitted=0.0), 0.0, duration=400.0)
    assert d == pytest.approx(60.0), "aimed at the end, not at a third of the way"
    loose = PollPlanner()
    for seconds, took in ((60.0, 3.0), (120.0, 30.0), (600.0, 20.0), (300.0, 60.0), (240.0, 5.0)):
        loose.learn(took, seconds)
    assert not loose.tight()
    assert loose.next_delay(JobClock(submitted=0.0), 0.0, duration=400.0) < 0.5 * loose.expected(400.0)


def test_a_steady_lead_makes_one_sample_tell_the_end():
    """Durations unknown, jobs of 20-80 s whose progress rises evenly after 20 % of the job: once
    that lead is learned, a job seen once while rising gets its next look at its predicted end
    (not cut at half the expected time), and the first look comes after a short job's lead."""
    p = PollPlanner()
    for i in range(10):
        latency = 20.0 + 6.0 * i
        job = JobClock(submitted=0.0)
        job.observe(0.4 * latency, 25.0)      # 0.2 L lead, then 100 % over 0.8 L
        job.observe(0.6 * latency, 50.0)
        p.learn(latency, None, job)
    assert p.predictable() and p.lead() == pytest.approx(0.2)
    first = p.next_delay(JobClock(submitted=0.0), 0.0, duration=None)
    assert first >= 0.6 * p.low_expected() > 0.2 * 20.0
    job = JobClock(submitted=0.0)
    job.observe(first, 100.0 * (first - 16.0) / 64.0)   # an 80 s job: lead 16 s
    d = p.next_delay(job, first, duration=None)
    assert first + d == pytest.approx(80.0, rel=0.03), "one look at the end, not several"


def test_under_shared_limits_the_first_wave_sends_scouts_and_holds_the_rest():
    """Every look of the first wave is a submit not made when the bucket is shared: five jobs
    explore, the rest wait until the scouts' progress tells how long a job takes, then get one
    look just past that. Without shared limits every job explores (its own budget pays)."""
    p = PollPlanner(thrifty=True)
    jobs = [JobClock(submitted=0.1 * i) for i in range(8)]
    first = [p.next_delay(j, 1.0, duration=3600.0) for j in jobs]
    assert first[:5] == [pytest.approx(10.0 - (1.0 - 0.1 * i)) for i in range(5)], "the scouts explore"
    assert [j.held for j in jobs] == [False] * 5 + [True] * 3
    assert all(d > 50.0 for d in first[5:]), "held, at most until HOLD"
    for scout in jobs[:3]:
        for at in (40.0, 56.0):                 # an 80 s job: pending for 16 s, then 100 % over 64 s
            scout.observe(scout.submitted + at, 100.0 * (at - 16.0) / 64.0)
        assert p.forecast(scout, 3600.0)
        assert scout.forecast == pytest.approx(80.0)
        assert not p.forecast(scout, 3600.0), "one forecast a job"
    held, longer = jobs[6], jobs[7]
    d = p.next_delay(held, 57.0, duration=3600.0)
    assert not held.held
    assert 57.0 + d == pytest.approx(held.submitted + 80.0 * 1.05), "one look, just past the forecast end"
    d = p.next_delay(longer, 57.0, duration=7200.0)
    assert 57.0 + d == pytest.approx(longer.submitted + 160.0 * 1.05), "twice the scouts' audio: twice their time"
    assert p.expected(None) == pytest.approx(80.0), "the forecast feeds auto's job time too"

    free = PollPlanner()
    assert all(free.next_delay(JobClock(submitted=0.0), 0.0, duration=3600.0) == pytest.approx(10.0)
               for _ in range(8))


def test_a_held_first_look_explores_after_the_hold_and_learning_ends_the_scouting():
    """Held at most HOLD, and only while fewer than three job times are known."""
    p = PollPlanner(thrifty=True)
    for _ in range(5):
        p.next_delay(JobClock(submitted=0.0), 0.0, duration=None)
    held = JobClock(submitted=0.0)
    assert p.next_delay(held, 0.0, duration=None) == pytest.approx(60.0) and held.held
    assert p.next_delay(held, 60.0, duration=None) == pytest.approx(0.25), "no scout told anything: it looks"
    assert not held.held
    again = JobClock(submitted=1.0)
    p.next_delay(again, 1.0, duration=None)
    assert again.held
    p.learn(30.0, None)                       # one job done: too few to plan by, still held
    assert p.next_delay(again, 2.0, duration=None) > 50.0 and again.held
    p.learn(31.0, None)
    p.learn(29.0, None)                       # three: the usual first looks from now on
    assert p.next_delay(again, 2.0, duration=None) < 30.0 and not again.held, "a held job is let go"
    late = JobClock(submitted=61.0)
    p.next_delay(late, 61.0, duration=None)
    assert not late.held


def test_a_short_job_done_first_does_not_set_the_long_ones_expectation():
    """The finish order's short slot makes the first job done a short video's (20 s for 2 min of
    audio). Planned by it alone, the first wave's hour-long videos got a look every few seconds
    and auto's level fell to a third; until three jobs are done, the scouts' forecasts count too,
    on one line with the job done."""
    p = PollPlanner(thrifty=True)
    for _ in range(5):
        p.next_delay(JobClock(submitted=0.0), 0.0, duration=3600.0)
    p.learn(20.0, 120.0)
    for _ in range(2):
        scout = JobClock(submitted=0.0)
        for at in (40.0, 56.0):
            scout.observe(at, 100.0 * (at - 16.0) / 64.0)
        assert p.forecast(scout, 3600.0)
    assert p.expected(3600.0) == pytest.approx(80.0, rel=0.01)
    assert p.expected(1860.0) == pytest.approx(50.0, rel=0.01), "the line through the short one and the forecasts"
    held = JobClock(submitted=1.0)
    assert 57.0 + p.next_delay(held, 57.0, duration=3600.0) == pytest.approx(1.0 + 80.0 * 1.05, rel=0.01)
