"""`--concurrency auto`: Little's law from the account's rate and the job times, and the
signals that move it (throughput, 429s and server errors, deAPI queueing)."""

from __future__ import annotations

from bulk_transcribe.core.run.concurrency import AutoConcurrency


def settle(auto: AutoConcurrency, now: float, **kw) -> int:
    kw.setdefault("shared", False)
    kw.setdefault("in_flight", 0)
    kw.setdefault("rate_binds", True)
    auto.update(now, **kw)
    return auto.current


def test_littles_law_sizes_the_level_from_the_rate_and_job_time():
    auto = AutoConcurrency(1000)
    for _ in range(10):
        auto.job_done(24.0)
    level = settle(auto, 0.0, submit_per_minute=300)
    assert level == 150                      # 5/s x 24 s x 1.25 headroom
    assert "300/min × 24 s" in auto.reason
    assert settle(auto, 1.0, submit_per_minute=60) == 30, "a lower rate (learned from headers) lowers it"


def test_shared_mode_counts_status_calls_as_submits_not_made():
    auto = AutoConcurrency(1000)
    for _ in range(10):
        auto.job_done(24.0)
    auto.polls_per_video = 1.0
    assert settle(auto, 0.0, submit_per_minute=300, shared=True) == 75   # 150 submits/min left
    assert "shared" in auto.reason


def test_the_ceiling_holds():
    auto = AutoConcurrency(40)
    auto.job_done(60.0)
    assert settle(auto, 0.0, submit_per_minute=300) == 40
    assert "ceiling" in auto.reason


def test_a_429_halves_it_and_it_recovers_gradually():
    auto = AutoConcurrency(1000)
    for _ in range(10):
        auto.job_done(20.0)
    assert settle(auto, 0.0, submit_per_minute=300) == 125
    assert auto.lower_after(1.0, "a 429 from submit")
    assert auto.current == 62 and "lowered" in auto.reason
    assert not auto.lower_after(2.0, "a 429 from submit"), "one cut per burst"
    assert settle(auto, 5.0, submit_per_minute=300) == 62, "held for a while after the cut"
    levels = [settle(auto, t, submit_per_minute=300) for t in range(50, 400, 10)]
    assert levels == sorted(levels) and levels[-1] >= 100   # Little's law again (the headroom comes back by probing)
    assert all(b - a <= a // 4 + 1 for a, b in zip(levels, levels[1:])), "a quarter at a time"


def test_growing_job_times_lower_it():
    """deAPI queueing: the same videos take longer and longer; more in flight would queue more."""
    auto = AutoConcurrency(1000)
    for _ in range(10):
        auto.job_done(20.0, 200.0)
    before = settle(auto, 0.0, submit_per_minute=300)
    for _ in range(10):
        auto.job_done(40.0, 200.0)            # twice as slow per audio second
    after = settle(auto, 1.0, submit_per_minute=300)
    assert after < before * 0.8
    assert "queueing" in auto.reason


def test_longer_videos_are_not_mistaken_for_queueing():
    auto = AutoConcurrency(1000)
    for _ in range(10):
        auto.job_done(20.0, 200.0)
    for _ in range(10):
        auto.job_done(40.0, 400.0)            # same pace per audio second
    assert auto.queueing() == 1.0
    settle(auto, 0.0, submit_per_minute=300)
    assert "queueing" not in auto.reason


def test_raised_while_throughput_grows_and_the_level_binds():
    auto = AutoConcurrency(1000)
    for _ in range(10):
        auto.job_done(10.0)
    start = settle(auto, 0.0, submit_per_minute=60, in_flight=100, rate_binds=False)
    done = 10
    levels = [start]
    for step in range(1, 6):                 # each job time, throughput grows by a third
        done = int(done * 1.33) + 1
        for _ in range(done):
            auto.job_done(10.0)
        levels.append(settle(auto, step * 10.0 + 0.1, submit_per_minute=60, in_flight=10_000, rate_binds=False))
    assert levels[-1] > start


def test_not_raised_when_the_rate_binds():
    auto = AutoConcurrency(1000)
    for _ in range(10):
        auto.job_done(10.0)
    start = settle(auto, 0.0, submit_per_minute=60, in_flight=100, rate_binds=True)
    for step in range(1, 6):
        for _ in range(20 * step):
            auto.job_done(10.0)
        level = settle(auto, step * 10.0 + 0.1, submit_per_minute=60, in_flight=10_000, rate_binds=True)
    assert level == start


def test_short_first_jobs_do_not_make_long_ones_read_as_queueing():
    """The finish order's first jobs done are the short ones; a long video's time is not compared
    with a line stretched from them, and the reference widens to the lengths seen later."""
    auto = AutoConcurrency(1000)
    for i in range(12):
        auto.job_done(20.0 + (0.5 if i % 2 else -0.5), 120.0 + 10 * i)   # 2-4 minute videos, ~20 s jobs
    for i in range(10):
        auto.job_done(80.0 + 0.5 * i, 3600.0 - 10 * i)   # hour-long ones: 80 s, deAPI as fast as ever
    assert auto.queueing() <= 1.1
    for _ in range(10):
        auto.job_done(160.0, 3550.0)                  # the same lengths, twice as slow: queueing
    assert auto.queueing() > 1.5


def test_with_durations_known_the_job_time_is_the_line_at_the_lengths_going_in():
    """The first jobs done are the short ones (and in a wave the long ones end together): their
    mean would size the level for jobs shorter than those being submitted."""
    line = lambda d: 20.0 + d / 60.0          # noqa: E731  (20 s + 1 s per audio minute)
    auto = AutoConcurrency(1000, expected_for=line)
    for d in (600.0, 3000.0, 1800.0, 3600.0):  # mean 2,250 s of audio: 57.5 s a job
        auto.job_started(d)
    for _ in range(5):
        auto.job_done(21.0, 60.0)             # only short ones done yet
    assert auto.job_time() == 57.5
    assert settle(auto, 0.0, submit_per_minute=300) == 360   # 5/s x 57.5 s x 1.25, not 5/s x 21 s
    plain = AutoConcurrency(1000)             # lengths unknown: the jobs done are all it has
    for _ in range(5):
        plain.job_started(None)
        plain.job_done(21.0)
    assert plain.job_time() == 21.0


def test_the_first_waves_status_calls_do_not_count_as_a_videos():
    """Looks planned before any job was seen done (the first wave's, 3-4 a job) say nothing of
    the calls a video takes from then on; counted, they held a shared-bucket run at half its rate."""
    from bulk_transcribe.core.run.pacing import Pacing
    from bulk_transcribe.core.run.polling import JobClock, PollPlanner

    pacing = Pacing(500, adaptive=True, clock=lambda: 0.0, reporter=None, auto=True)
    before = pacing.level.auto.polls_per_video
    pacing.job_done(40.0, None, None)
    assert pacing.level.auto.polls_per_video == before
    pacing.job_done(40.0, None, 1)
    assert pacing.level.auto.polls_per_video < before
    planner, job = PollPlanner(), JobClock(submitted=0.0)
    planner.next_delay(job, 0.0, duration=None)
    assert job.blind, "nothing learned yet: the first look is blind"
    planner.learn(30.0, None)
    later = JobClock(submitted=0.0)
    planner.next_delay(later, 0.0, duration=None)
    assert not later.blind
