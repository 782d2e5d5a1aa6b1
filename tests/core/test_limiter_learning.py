"""The limiter learns the account's limits from deAPI's X-RateLimit-* headers.

Virtual time as in test_limiter.py: assertions are on exact grant times and counts.
"""

from __future__ import annotations

import json
import math
from collections import Counter

import anyio
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulk_transcribe.core.deapi.answers import RateLimitInfo
from bulk_transcribe.core.limiter import Bucket, RateLimiter
from bulk_transcribe.core.settings import Settings

from .test_limiter import MIDNIGHT, assert_never_over, vrun


def make(clock, wall, notices=None, **kw) -> RateLimiter:
    """A limiter on virtual clocks, --plan auto unless `kw` says otherwise."""
    lim = RateLimiter.from_settings(Settings(**{"plan": "auto", **kw}), clock=clock, wall=wall)
    if notices is not None:
        lim.on_notice = lambda level, message: notices.append(message)
    return lim


def said(limit=None, remaining=None, source="endpoint", **kw) -> RateLimitInfo:
    return RateLimitInfo(limit=limit, remaining=remaining, source=source, **kw)


async def burst(lim: RateLimiter, endpoint: str, n: int, clock, stamps: list[float] | None = None) -> None:
    for _ in range(n):
        await lim.acquire(endpoint)
        if stamps is not None:
            stamps.append(clock())


# -- --plan auto: start at Basic's, adopt what deAPI says ------------------------------------------
def test_auto_starts_at_basic_so_the_first_minute_fits_a_basic_account():
    async def main(clock, wall):
        lim = make(clock, wall)
        assert (lim.submit_per_minute(), lim.bucket("status").per_minute, lim.bucket("price").per_minute) == (1, 50, 50)
        assert (lim.daily_remaining("submit"), lim.daily_remaining("status")) == (10, 200)
        assert not lim.shared
        assert [u.source for u in lim.usage()] == ["preset", "preset"]
        stamps: list[float] = []
        await burst(lim, "submit", 2, clock, stamps)          # nothing learned: Basic's 1 a minute
        assert stamps == [1000.0, 1060.5]

    vrun(main)


def test_a_premium_account_reaches_its_300_a_minute():
    async def main(clock, wall):
        notices: list[str] = []
        lim = make(clock, wall, notices)
        await lim.acquire("submit")
        lim.observe("submit", said(300, 299))
        assert lim.submit_per_minute() == 300
        assert lim.daily_remaining("submit") is None, "not a Basic account: Basic's days do not apply"
        assert lim.usage()[0].source == "header"
        stamps: list[float] = [1000.0]
        await burst(lim, "submit", 350, clock, stamps)
        assert_never_over(stamps, 300, 60.5)
        assert sum(1 for t in stamps if t == 1000.0) == 300, "the whole minute at once, no Basic pacing"
        assert stamps[300] == pytest.approx(1060.5)
        lim.observe("submit", said(300, 10))
        assert notices.count("deAPI says this account allows 300 submits/min: pacing at that") == 1
        assert ("deAPI's answers show more than a Basic account: Basic's daily limits (10 submits and "
                "200 status checks) do not apply") in notices

    vrun(main)


def test_status_takes_the_submits_figure_until_its_own_answer():
    async def main(clock, wall):
        lim = make(clock, wall)
        lim.observe("submit", said(300, 299))
        assert lim.bucket("status").per_minute == 300, "not Basic: Basic's 50 no longer known to apply"
        lim.observe("status", said(120, 119))
        assert lim.bucket("status").per_minute == 120, "its own answer wins"
        flagged = make(clock, wall, status_rpm=50)
        flagged.observe("submit", said(300, 299))
        assert flagged.bucket("status").per_minute == 50

    vrun(main)


def test_a_basic_account_keeps_basic_limits_and_days():
    async def main(clock, wall):
        notices: list[str] = []
        lim = make(clock, wall, notices)
        await lim.acquire("submit")
        lim.observe("submit", said(1, 0))
        lim.observe("status", said(50, 49))
        assert (lim.submit_per_minute(), lim.bucket("status").per_minute) == (1, 50)
        assert (lim.daily_remaining("submit"), lim.daily_remaining("status")) == (9, 200)
        assert lim.usage()[0].source == "header"
        assert "deAPI says this account allows 1 submit/min: pacing at that (with Basic's 10 a day)" in notices
        # a Daily-Limit header says otherwise: it wins
        lim.observe("submit", said(1, 0, daily_limit=8, daily_remaining=5))
        assert lim.bucket("submit").per_day == 8 and lim.daily_remaining("submit") == 5

    vrun(main)


def test_status_answers_first_also_tell_a_bigger_account():
    """A resume polls before it submits: a status limit above Basic's is not a Basic account."""
    async def main(clock, wall):
        lim = make(clock, wall)
        lim.observe("status", said(300, 290))
        assert lim.bucket("status").per_minute == 300 and lim.daily_remaining("status") is None
        assert lim.submit_per_minute() == 1, "submits learn from their own answers"

    vrun(main)


# -- caps: explicit plans and flags ------------------------------------------------------------------
def test_flags_and_explicit_plans_are_caps():
    async def main(clock, wall):
        notices: list[str] = []
        capped = make(clock, wall, notices, rpm=100)                 # auto, but --rpm 100
        assert capped.submit_per_minute() == 100 and capped.usage()[0].source == "flag"
        capped.observe("submit", said(300, 299))
        assert capped.submit_per_minute() == 100 and capped.usage()[0].source == "flag"
        assert "deAPI says this account allows 300 submits/min; --rpm keeps it at 100" in notices
        capped.observe("submit", said(40, 39))
        assert capped.submit_per_minute() == 40 and capped.usage()[0].source == "header"

        basic = make(clock, wall, plan="basic")
        basic.observe("submit", said(300, 299))
        basic.observe("status", said(300, 299))
        assert (basic.submit_per_minute(), basic.bucket("status").per_minute) == (1, 50), "never above the plan"
        assert basic.daily_remaining("submit") == 10, "an explicit plan's days stay"
        basic.observe("status", said(20, 19, daily_limit=100, daily_remaining=90))
        assert basic.bucket("status").per_minute == 20 and basic.bucket("status").per_day == 100

        premium = make(clock, wall, plan="premium", submit_per_day=50)
        premium.observe("submit", said(300, 299, daily_limit=1000, daily_remaining=999))
        assert premium.bucket("submit").per_day == 50, "a flag caps a learned day too"
        premium.observe("status", said(300, 299, daily_limit=500, daily_remaining=499))
        assert premium.bucket("status").per_day == 500, "none is lowered to deAPI's figure"

    vrun(main)


def test_submit_rate_takes_only_an_account_buckets_figure_for_submits():
    """What the plan estimates with: a price route's own bucket says nothing about submits; one
    account bucket named by X-RateLimit-Source does, under the submit's caps."""
    from bulk_transcribe.core.limiter.policy import AccountLimits

    def after(source, **kw):
        policy = AccountLimits(Settings(**{"plan": "auto", **kw}))
        policy.observe("price", said(300, 299, source=source), lane_used=1, all_used=1, now=0.0)
        return policy.submit_rate()

    assert after("endpoint") == (1, "preset", None)
    assert after("account") == (300, "header", 300)
    assert after("account", rpm=20) == (20, "flag", 300)
    assert after("account", plan="basic") == (1, "preset", 300)
    assert after("account", plan="premium") == (300, "preset", 300)


def test_an_explicit_plan_never_turns_shared_into_per_endpoint():
    async def main(clock, wall):
        lim = make(clock, wall, plan="premium")           # limit mode auto: shared on premium
        assert lim.shared
        lim.observe("submit", said(300, 299, source="endpoint"))
        lim.observe("status", said(300, 299, source="endpoint"))
        assert lim.shared and lim.account.per_minute == 300

    vrun(main)


# -- shared and per-endpoint, in one bucket ------------------------------------------------------------
lane_arrival = st.tuples(st.sampled_from(["submit", "status"]), st.floats(0, 300, allow_nan=False),
                         st.one_of(st.none(), st.floats(0, 150, allow_nan=False)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(account=st.one_of(st.none(), st.integers(1, 6)), submit=st.one_of(st.none(), st.integers(1, 4)),
       status=st.one_of(st.none(), st.integers(1, 6)), arrivals=st.lists(lane_arrival, max_size=24))
def test_lane_windows_and_the_account_window_hold_together(account, submit, status, arrivals):
    """Each lane's own window, and the account's over both, never over its limit; each lane FIFO;
    every grant at a moment something changed (nobody sleeps through a free slot); nothing leaks."""
    if account is None and submit is None and status is None:
        account = 3

    async def main(clock, wall):
        b = Bucket("account", account, clock=clock, wall=wall)
        lanes = {"submit": b.lane("submit", None, submit), "status": b.lane("status", None, status)}
        moments = {clock()}
        grants: list[tuple[str, float, float]] = []

        async def one(lane, at, cancel_after):
            await anyio.sleep(at)
            entered = clock()
            moments.add(entered)
            with anyio.move_on_after(math.inf if cancel_after is None else cancel_after):
                await lanes[lane].acquire()
                grants.append((lane, entered, clock()))
                return
            moments.add(clock())

        async with anyio.create_task_group() as tg:
            for a in arrivals:
                tg.start_soon(one, *a)
        times = sorted(g for _, _, g in grants)
        if account is not None:
            assert_never_over(times, account, b.window)
        for name, limit in (("submit", submit), ("status", status)):
            mine = [(e, g) for lane, e, g in grants if lane == name]
            if limit is not None:
                assert_never_over([g for _, g in mine], limit, b.window)
            assert [g for _, g in sorted(mine)] == sorted(g for _, g in mine)
        for t in times:
            assert any(abs(t - m) < 1e-6 for m in moments | {g + b.window for g in times}), t
        assert not b._queue
        await anyio.sleep(b.window)
        with anyio.fail_after(1e-3):      # capacity fully back
            await lanes["submit"].acquire()
            if account is None or account > 1:
                await lanes["status"].acquire()

    vrun(main)


def test_a_lane_held_by_its_own_window_steps_aside():
    async def main(clock, wall):
        b = Bucket("account", 10, margin=0, clock=clock, wall=wall)
        submit, status = b.lane("submit", None, 1), b.lane("status", None, 10)
        order = []

        async def call(lane, name):
            await lane.acquire()
            order.append((name, clock() - 1000))

        await submit.acquire()
        async with anyio.create_task_group() as tg:
            tg.start_soon(call, submit, "submit")        # first in line, its window full until 60
            await anyio.sleep(0)
            for _ in range(3):
                tg.start_soon(call, status, "status")
        assert order == [("status", 0), ("status", 0), ("status", 0), ("submit", 60)]

    vrun(main)


def test_a_shared_source_turns_on_shared_pacing_at_the_reported_limit():
    async def main(clock, wall):
        notices: list[str] = []
        lim = make(clock, wall, notices)
        assert not lim.shared
        await lim.acquire("submit")
        lim.observe("submit", said(20, 19, source="account"))
        assert lim.shared and lim.account.per_minute == 20 and lim.account.source == "header"
        assert [u.name for u in lim.usage()] == ["account", "submit", "status"]
        assert "deAPI says submits and status checks share one account limit of 20/min: pacing at that" in notices
        stamps: list[float] = [1000.0]

        async def status_calls():
            await burst(lim, "status", 30, clock, stamps)

        async with anyio.create_task_group() as tg:
            tg.start_soon(burst, lim, "submit", 10, clock, stamps)
            tg.start_soon(status_calls)
        assert_never_over(stamps, 20, 60.5)
        assert sum(1 for t in stamps if t < 1060.5) == 20

    vrun(main)


@pytest.mark.parametrize("source", ["unified", "global", "user:42", "shared-bucket"])
def test_every_account_word_is_understood(source):
    async def main(clock, wall):
        lim = make(clock, wall)
        lim.observe("status", said(300, 299, source=source))
        assert lim.shared and lim.account.per_minute == 300

    vrun(main)


def test_two_endpoints_counting_each_others_calls_are_one_bucket():
    """No source at all: Remaining that counts our calls to the other endpoint, on two endpoints."""
    async def main(clock, wall):
        lim = make(clock, wall)
        lim.observe("submit", said(300, 299, source=""))      # learns 300 for submits
        await burst(lim, "submit", 5, clock)
        await burst(lim, "status", 3, clock)
        lim.observe("status", said(300, 292, source=""))      # 8 used: 5 submits + 3 status
        assert not lim.shared, "one endpoint is not enough"
        await lim.acquire("submit")
        lim.observe("submit", said(300, 291, source=""))      # 9 used: ours everywhere
        assert lim.shared and lim.account.per_minute == 300

    vrun(main)


def test_separate_buckets_stay_separate():
    async def main(clock, wall):
        lim = make(clock, wall)
        lim.observe("submit", said(300, 299))
        for i in range(5):
            await lim.acquire("submit")
            await lim.acquire("status")
            lim.observe("submit", said(300, 299 - i - 1, source=""))
            lim.observe("status", said(300, 299 - i, source=""))
        assert not lim.shared

    vrun(main)


def test_a_fixed_mode_is_kept():
    async def main(clock, wall):
        per = make(clock, wall, limit_mode="per-endpoint")
        per.observe("submit", said(300, 299, source="account"))
        assert not per.shared and per.submit_per_minute() == 300
        shared = make(clock, wall, limit_mode="shared")
        assert shared.shared and shared.account.per_minute == 1, "auto's start: Basic's 1 a minute"
        shared.observe("submit", said(300, 299, source="endpoint"))
        assert shared.shared and shared.account.per_minute == 300, "shared by choice: deAPI's limit applies to it"

    vrun(main)


def test_a_minute_429_holds_the_account_once_shared():
    async def main(clock, wall):
        lim = make(clock, wall)
        lim.on_429("submit", 20.0, "minute")
        await lim.acquire("status")
        assert clock() == 1000, "per endpoint: only submits wait"
        lim.observe("status", said(300, 299, source="account"))
        lim.on_429("status", 20.0, "minute")
        await lim.acquire("price")
        assert clock() == 1020

    vrun(main)


# -- Remaining: the server's count wins when it is higher ---------------------------------------
def test_remaining_below_ours_records_the_calls_we_did_not_make():
    async def main(clock, wall):
        lim = make(clock, wall)
        await lim.acquire("submit")
        lim.observe("submit", said(10, 4))                  # 6 used, we made 1: another client
        assert lim.bucket("submit").used_60s() == 6
        stamps: list[float] = []
        await burst(lim, "submit", 5, clock, stamps)
        assert stamps == [1000.0] * 4 + [1060.5], "4 more now, the 10th waits a window"
        lim.observe("submit", said(10, 9))                  # as many as ours: nothing changes
        assert lim.bucket("submit").used_60s() == 1

    vrun(main)


def test_a_slow_answer_never_makes_calls_up():
    """The server counted our calls when the request arrived; by the time a slow answer is read
    some of them have left our window. They are still ours, not another client's."""
    async def main(clock, wall):
        lim = make(clock, wall)
        lim.observe("submit", said(10, 9))
        await burst(lim, "submit", 4, clock)                 # at 1000, with the one above: 5 in all
        await anyio.sleep(59.5)
        await lim.acquire("submit")                          # sent at 1059.5, answered 1.5 s later
        await anyio.sleep(1.5)
        lim.observe("submit", said(10, 4, elapsed=1.5))      # 6 counted at its arrival: all ours
        assert lim.bucket("submit").used_60s() == 1
        lim.observe("submit", said(10, 0, elapsed=40.0))     # too old to say anything about now
        assert lim.bucket("submit").used_60s() == 1

    vrun(main)


def test_remaining_is_bounded_and_ignored_on_429s():
    async def main(clock, wall):
        lim = make(clock, wall)
        lim.observe("status", said(50, 0, kind="minute"))   # a 429's own 0: on_429 handles it
        assert lim.bucket("status").used_60s() == 0
        lim.observe("status", said(50, 0))
        assert lim.bucket("status").used_60s() == 50, "never more than the limit"
        lim.observe("status", said(50, 0))
        assert lim.bucket("status").used_60s() == 50

    vrun(main)


def test_remaining_of_a_shared_bucket_goes_to_the_account_window():
    async def main(clock, wall):
        lim = make(clock, wall)
        await lim.acquire("submit")
        lim.observe("submit", said(30, 9, source="account"))      # 21 used on the account
        assert lim.account.used_60s() == 21 and lim.bucket("submit").used_60s() == 1
        stamps: list[float] = []
        await burst(lim, "status", 10, clock, stamps)
        assert stamps == [1000.0] * 9 + [1060.5]

    vrun(main)


def test_daily_remaining_is_taken_up():
    async def main(clock, wall):
        lim = make(clock, wall)
        lim.observe("submit", said(1, 0, daily_limit=10, daily_remaining=3))
        assert lim.daily_remaining("submit") == 3 and lim.bucket("submit").used_today() == 7
        lim.observe("submit", said(1, 0, daily_limit=10, daily_remaining=6))
        assert lim.daily_remaining("submit") == 3, "never fewer than we counted"

    vrun(main)


def test_a_submit_turned_away_by_the_minute_limit_gives_its_days_grant_back():
    """Basic allows 10 submits a day: one minute 429 must not leave the 10th for tomorrow. When
    the same answer's daily headers say the server did count it, the count stays."""
    async def main(clock, wall):
        lim = make(clock, wall, plan="basic")
        await burst(lim, "submit", 10, clock)
        assert lim.daily_remaining("submit") == 0
        lim.on_429("submit", 60.0, "minute")        # the 10th was refused: not one of the day's
        assert lim.daily_remaining("submit") == 1
        await lim.acquire("submit")                 # sent again a minute later, today
        assert lim.daily_remaining("submit") == 0
        lim.observe("submit", said(1, 0, daily_limit=10, daily_remaining=0))   # this server counts refusals
        lim.on_429("submit", 60.0, "minute")
        assert lim.daily_remaining("submit") == 0, "not below what the server says it counted"

    vrun(main)


# -- persistence ------------------------------------------------------------------------------
def test_learned_limits_survive_a_resume():
    snap = {}

    async def before(clock, wall):
        lim = make(clock, wall)
        await lim.acquire("submit")
        lim.observe("submit", said(300, 299, source="account"))
        await burst(lim, "status", 4, clock)
        snap.update(lim.snapshot())

    vrun(before)
    tomli_w.dumps(snap)
    json.dumps(snap)

    async def after(clock, wall):
        lim = make(clock, wall)
        lim.restore(snap)
        assert lim.shared and lim.account.per_minute == 300 and lim.submit_per_minute() == 300
        assert lim.account.used_60s() == 5 and lim.bucket("status").used_60s() == 4
        capped = make(clock, wall, plan="basic")
        capped.restore(snap)
        assert capped.submit_per_minute() == 1, "this run's caps still apply"

    vrun(after, wall0=MIDNIGHT - 3600 + 5)


def test_snapshots_of_the_older_shapes_are_read():
    """Sessions written before the one-bucket limiter: a bucket per endpoint, or a shared one."""
    t = MIDNIGHT - 3600 - 5
    older_per_endpoint = {"mode": "per-endpoint", "buckets": {
        "submit": {"name": "submit", "per_minute": 1, "grants": [t],
                   "lanes": {"submit": {"day": "2026-08-14", "count": 7}}},
        "status": {"name": "status", "per_minute": 50, "grants": [t, t + 1], "paused_until": t + 30,
                   "pause_reason": "paused by a 429", "lanes": {"status": {"day": "2026-08-14", "count": 40}}},
        "price": {"name": "price", "per_minute": 50, "grants": [], "lanes": {"price": {"day": "2026-08-14", "count": 0}}}}}
    older_shared = {"mode": "shared", "buckets": {"account": {
        "name": "account", "per_minute": 300, "grants": [t, t, t],
        "lanes": {"account": {"day": "2026-08-14", "count": 0},
                  "submit": {"day": "2026-08-14", "count": 1, "recent": [t]},
                  "status": {"day": "2026-08-14", "count": 2, "recent": [t, t]},
                  "price": {"day": "2026-08-14", "count": 0, "recent": []}}}}}

    async def main(clock, wall):
        lim = make(clock, wall, plan="basic")
        lim.restore(older_per_endpoint)
        submit, status = lim.bucket("submit").usage(), lim.bucket("status").usage()
        assert (submit.used_60s, submit.used_today, status.used_60s, status.used_today) == (1, 7, 2, 40)
        assert status.paused_for == pytest.approx(25) and submit.paused_for == 0
        assert lim.account.used_60s() == 3
        other = make(clock, wall, plan="premium")
        other.restore(older_shared)
        assert other.account.used_60s() == 3 and other.bucket("status").used_60s() == 2
        assert Counter(u.used_today for u in other.usage()) == Counter({0: 1, 1: 1, 2: 1})

    vrun(main)
