"""The rate limiter: exact over every window, not too cautious, FIFO, cancel-safe, persistent.

Async tests run on an asyncio loop with *virtual time*: when every task waits, the loop jumps
its clock to the next timer instead of sleeping, so "ten minutes" take milliseconds and every
timestamp is exact. The buckets read the same clock, so assertions are on counts and exact
times, never on how long the machine took. One small real-time test guards the injection.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import selectors
import time
from collections import Counter
from datetime import datetime, timezone

import anyio
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulk_transcribe.core.limiter import DAILY_PAD, Bucket, Lane, RateLimiter, SlidingWindow
from bulk_transcribe.core.settings import Settings

MIDNIGHT = datetime(2026, 8, 15, tzinfo=timezone.utc).timestamp()


class _JumpingSelector:
    """Never blocks: an idle wait for `timeout` moves the loop's virtual clock instead."""

    def __init__(self, loop: "VirtualLoop") -> None:
        self._inner = selectors.DefaultSelector()
        self._loop = loop

    def select(self, timeout=None):
        ready = self._inner.select(0)
        if not ready and timeout is None:
            raise RuntimeError("deadlock: every task waits and no timer is set")
        if not ready and timeout > 0:
            self._loop.vnow += timeout
        return ready

    def __getattr__(self, name):
        return getattr(self._inner, name)


class VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self.vnow = 1000.0
        super().__init__(selector=_JumpingSelector(self))

    def time(self) -> float:
        return self.vnow


def vrun(main, wall0: float = MIDNIGHT - 3600.0):
    """Run `main(clock, wall)` in virtual time; `wall` starts at `wall0` and moves with `clock`."""

    async def runner():
        loop = asyncio.get_running_loop()
        start = loop.time()
        return await main(loop.time, lambda: wall0 + (loop.time() - start))

    return anyio.run(runner, backend="asyncio", backend_options={"loop_factory": VirtualLoop})


def assert_never_over(times: list[float], limit: int, window: float) -> None:
    """No half-open window (t - window, t] holds more than `limit` of `times`."""
    times = sorted(times)
    for i in range(len(times) - limit):
        assert times[i + limit] - times[i] >= window, (i, times[i], times[i + limit])


# -- SlidingWindow: the pure rule --------------------------------------------------------------
@given(limit=st.integers(1, 30), window=st.sampled_from([1.0, 60.0, 60.5]),
       gaps=st.lists(st.floats(0, 90, allow_nan=False), max_size=200))
def test_window_greedy_is_exact_and_never_over(limit, window, gaps):
    w = SlidingWindow(limit, window)
    now, grants = 0.0, []
    for gap in gaps:
        now += gap
        t = w.next_free(max(now, grants[-1] if grants else now))
        expected = max(now, grants[-1] if grants else now, grants[-limit] + window if len(grants) >= limit else now)
        assert t == pytest.approx(expected, abs=1e-9)   # not a moment later than the rule allows
        w.record(t)
        grants.append(t)
        assert w.used(t) == sum(1 for g in grants if 0 <= t - g < window)
        now = t
    assert_never_over(grants, limit, window)


@given(limit=st.integers(1, 10), pre=st.lists(st.floats(0, 100, allow_nan=False), max_size=25),
       now=st.floats(100, 200), k=st.integers(0, 30))
def test_window_eta_predicts_greedy_grants(limit, pre, now, k):
    w = SlidingWindow(limit, 60.0)
    for t in sorted(pre):
        w.record(t)
    predicted = [w.eta(now, i) for i in range(k + 1)]
    for i in range(k + 1):
        t = w.next_free(now)
        assert t == pytest.approx(predicted[i], abs=1e-9)
        w.record(t)


def test_window_lower_limit_keeps_latest_and_rejects_zero():
    w = SlidingWindow(5, 60.0)
    for t in range(5):
        w.record(float(t))
    w.set_limit(2)
    assert w.next_free(10.0) == 63.0
    with pytest.raises(ValueError):
        w.set_limit(0)
    with pytest.raises(ValueError):
        SlidingWindow(3, 0)


# -- Bucket: safety, utilisation, FIFO and cancellation together -----------------------------------
arrival = st.tuples(st.floats(0, 200, allow_nan=False), st.one_of(st.none(), st.floats(0, 150, allow_nan=False)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(limit=st.integers(1, 8), margin=st.sampled_from([0.0, 0.5]), arrivals=st.lists(arrival, max_size=40))
def test_bucket_is_exact_fifo_and_cancel_safe(limit, margin, arrivals):
    """Arbitrary arrivals, some cancelled at arbitrary moments: every survivor is granted at
    exactly the earliest moment FIFO and the rule allow, and nothing leaks."""

    async def main(clock, wall):
        b = Bucket("x", limit, margin=margin, clock=clock, wall=wall)
        start = clock()
        entered: list[tuple[int, float]] = []
        granted: dict[int, float] = {}

        async def one(i, at, cancel_after):
            await anyio.sleep(at)
            entered.append((i, clock()))
            with anyio.move_on_after(math.inf if cancel_after is None else cancel_after):
                await b.acquire()
                granted[i] = clock()

        async with anyio.create_task_group() as tg:
            for i, (at, cancel_after) in enumerate(arrivals):
                tg.start_soon(one, i, at, cancel_after)
        assert not b._queue                     # nobody left behind
        g: list[float] = []
        for i, a in entered:
            if i in granted:
                prev = g[-1] if g else a
                window_ok = g[-limit] + b.window if len(g) >= limit else a
                assert granted[i] == pytest.approx(max(a, prev, window_ok), abs=1e-9)
                g.append(granted[i])
        assert_never_over(g, limit, b.window)
        assert b.usage().used_60s == sum(1 for t in g if t > clock() - b.window)
        await anyio.sleep(b.window)             # then capacity is fully back
        with anyio.fail_after(1e-3):
            for _ in range(limit):
                await b.acquire()
        del start

    vrun(main)


lane_arrival = st.tuples(st.sampled_from(["submit", "status"]), st.floats(0, 400, allow_nan=False),
                         st.one_of(st.none(), st.floats(0, 200, allow_nan=False)))
lane_pause = st.tuples(st.sampled_from(["submit", "status", "account"]), st.floats(0, 400, allow_nan=False),
                       st.floats(0, 120, allow_nan=False))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(limit=st.integers(1, 5), per_day=st.one_of(st.none(), st.integers(2, 6)),
       arrivals=st.lists(lane_arrival, max_size=20), pauses=st.lists(lane_pause, max_size=4))
def test_shared_lanes_never_over_and_never_idle_without_cause(limit, per_day, arrivals, pauses):
    """Two lanes on one window, daily limit on one, pauses and cancellations at random, across
    midnight UTC: every window and every day stays within its limit, each lane is FIFO, and
    every grant happens at a moment something changed (an arrival, a departure, a slot leaving
    the window, a pause ending, midnight): nobody sleeps through a free slot."""

    async def main(clock, wall):
        b = Bucket("account", limit, clock=clock, wall=wall)
        lanes = {"submit": b.lane("submit", per_day), "status": b.lane("status", None), "account": b}
        start = clock()
        moments = {start, *(start + 300 + DAILY_PAD + d * 86400 for d in range(30))}   # start, midnights
        grants: list[tuple[str, float, float]] = []           # lane, entered, granted

        async def one(lane, at, cancel_after):
            await anyio.sleep(at)
            entered = clock()
            moments.add(entered)
            with anyio.move_on_after(math.inf if cancel_after is None else cancel_after):
                await lanes[lane].acquire()
                grants.append((lane, entered, clock()))
                return
            moments.add(clock())

        async def pause(lane, at, seconds):
            await anyio.sleep(at)
            lanes[lane].pause(seconds, "test")
            moments.add(clock() + seconds)

        async with anyio.create_task_group() as tg:
            for a in arrivals:
                tg.start_soon(one, *a)
            for p in pauses:
                tg.start_soon(pause, *p)
        times = sorted(g for _, _, g in grants)
        assert_never_over(times, limit, b.window)
        for t in times:
            assert any(abs(t - m) < 1e-6 for m in moments | {g + b.window for g in times}), t
        for name in ("submit", "status"):
            mine = [(e, g) for lane, e, g in grants if lane == name]
            assert [g for _, g in sorted(mine)] == sorted(g for _, g in mine)
        if per_day is not None:
            days = Counter(math.floor((MIDNIGHT - 300 + g - start) / 86400) for lane, _, g in grants if lane == "submit")
            assert max(days.values(), default=0) <= per_day
        assert not b._queue

    vrun(main, wall0=MIDNIGHT - 300)


def test_steady_demand_reaches_the_limit():
    async def main(clock, wall):
        b = Bucket("submit", 300, clock=clock, wall=wall)   # window 60.5 s
        grants: list[float] = []

        async def worker():
            while clock() < 1000.0 + 600:
                await b.acquire()
                grants.append(clock())
                await anyio.sleep(0.9)                      # latency: 5 workers are enough

        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(worker)
        assert_never_over(grants, 300, 60.5)
        # every full window after the start is used to the last slot
        assert len(grants) >= 300 * math.floor(600 / 60.5)
        assert len([t for t in grants if 1000 + 60.5 <= t < 1000 + 121]) == 300

    vrun(main)


def test_cancelled_head_does_not_block_the_queue():
    async def main(clock, wall):
        b = Bucket("x", 1, margin=0, clock=clock, wall=wall)
        await b.acquire()
        order = []

        async def one(name, cancel_after=math.inf):
            with anyio.move_on_after(cancel_after):
                await b.acquire()
                order.append((name, clock() - 1000))

        async with anyio.create_task_group() as tg:
            tg.start_soon(one, "head", 10)    # leaves at 10 s, before its slot at 60 s
            await anyio.sleep(0)
            tg.start_soon(one, "next")
            await anyio.sleep(0)
            tg.start_soon(one, "last")
        assert order == [("next", 60.0), ("last", 120.0)]

    vrun(main)


def test_many_random_cancellations_leak_nothing():
    rng = random.Random(7)

    async def main(clock, wall):
        b = Bucket("x", 10, margin=0, clock=clock, wall=wall)
        got = []

        async def one():
            with anyio.move_on_after(rng.uniform(0, 30)):
                await b.acquire()
                got.append(clock())

        async with anyio.create_task_group() as tg:
            for _ in range(2000):
                tg.start_soon(one)
                if rng.random() < 0.05:
                    await anyio.sleep(rng.uniform(0, 1))
        assert not b._queue
        assert_never_over(got, 10, 60.0)
        await anyio.sleep(60)
        with anyio.fail_after(1e-3):
            for _ in range(10):
                await b.acquire()

    vrun(main)


def test_real_time_smoke():
    """Real clocks, tiny window: the injection points are not the only thing that works."""

    async def main():
        b = Bucket("x", 3, margin=0, window=0.05)
        stamps = []
        start = time.monotonic()

        async def worker():
            for _ in range(3):
                await b.acquire()
                stamps.append(time.monotonic())

        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(worker)
        assert len(stamps) == 9
        # a stamp is taken a little after its grant, so only the lower bound is exact:
        # the 7th to 9th grants need two full windows to have passed
        assert sorted(stamps)[6] - start >= 0.1

    anyio.run(main, backend="asyncio")


# -- pauses and Retry-After ---------------------------------------------------------------------
def test_pause_is_obeyed_extends_and_never_shortens():
    async def main(clock, wall):
        b = Bucket("x", 100, clock=clock, wall=wall)
        waits = []
        b.pause(12, "paused by a 429 (Retry-After 12 s)")
        b.pause(5, "shorter")
        await b.acquire(lambda s, r: waits.append((s, r)))
        assert clock() - 1000 == 12
        assert waits == [(12, "paused by a 429 (Retry-After 12 s)")]

        async def later():
            await anyio.sleep(3)
            b.pause(30, "longer")            # while someone is already waiting

        b.pause(10, "first")
        async with anyio.create_task_group() as tg:
            tg.start_soon(later)
            await b.acquire()
        assert clock() - 1000 == 12 + 3 + 30
        b.pause(float("nan"), "ignored")
        b.pause(-1, "ignored")
        with anyio.fail_after(1e-3):
            await b.acquire()

    vrun(main)


def test_on_wait_not_called_without_a_wait():
    async def main(clock, wall):
        b = Bucket("x", 2, clock=clock, wall=wall)
        calls = []
        await b.acquire(lambda s, r: calls.append(r))
        await b.acquire(lambda s, r: calls.append(r))
        assert calls == []
        await b.acquire(lambda s, r: calls.append((s, r)))
        assert calls == [(60.5, "rate limit")]

    vrun(main)


def test_set_per_minute_applies_to_waiters():
    async def main(clock, wall):
        b = Bucket("x", 1, margin=0, clock=clock, wall=wall)
        await b.acquire()

        async def raise_later():
            await anyio.sleep(5)
            b.set_per_minute(2)

        async with anyio.create_task_group() as tg:
            tg.start_soon(raise_later)
            await b.acquire()
        assert clock() - 1000 == 5

    vrun(main)


# -- daily limits ------------------------------------------------------------------------------
def test_daily_limit_waits_for_midnight_utc():
    async def main(clock, wall):
        b = Bucket("status", 50, 3, clock=clock, wall=wall)
        reasons = []
        for _ in range(3):
            await b.acquire()
        assert b.usage().used_today == 3
        await b.acquire(lambda s, r: reasons.append((s, r)))
        assert wall() == pytest.approx(MIDNIGHT + DAILY_PAD)
        assert reasons == [(pytest.approx(60 + DAILY_PAD), "daily limit of 3 reached, resets at 00:00 UTC")]
        assert b.usage().used_today == 1

    vrun(main, wall0=MIDNIGHT - 60)


def test_note_daily_exhausted_without_and_with_retry_after():
    async def main(clock, wall):
        b = Bucket("submit", 1, 10, clock=clock, wall=wall)
        assert b.note_daily_exhausted(None) == pytest.approx(600 + DAILY_PAD)
        assert b.usage().used_today == 10 and b.usage().paused_for == pytest.approx(600 + DAILY_PAD)
        await b.acquire()
        assert wall() == pytest.approx(MIDNIGHT + DAILY_PAD)
        c = Bucket("submit", 1, None, clock=clock, wall=wall)
        assert c.note_daily_exhausted(90.0) == 90.0
        await c.acquire()
        assert wall() == pytest.approx(MIDNIGHT + DAILY_PAD + 90)

    vrun(main, wall0=MIDNIGHT - 600)


# -- RateLimiter: modes and 429 routing -----------------------------------------------------------
def limiter(clock, wall, **kw) -> RateLimiter:
    """A limiter on virtual clocks; the plan is premium unless `kw` says otherwise (these tests
    were written for the fixed presets; --plan auto has its own tests)."""
    return RateLimiter.from_settings(Settings(**{"plan": "premium", **kw}), clock=clock, wall=wall)


def test_from_settings_routes_both_modes():
    s = RateLimiter.from_settings(Settings(plan="basic", limit_mode="shared"))
    assert set(s.buckets) == {"account"} and isinstance(s.bucket("status"), Lane)
    assert s.bucket("submit").per_day == 10 and s.bucket("status").per_day == 200
    assert s.bucket("status").per_minute == 1 and s.submit_per_minute() == 1
    assert [u.name for u in s.usage()] == ["account", "submit", "status"]
    p = RateLimiter.from_settings(Settings(plan="basic", limit_mode="per-endpoint"))
    assert p.bucket("submit").per_minute == 1 and p.bucket("status").per_minute == 50
    assert [u.name for u in p.usage()] == ["submit", "status"]
    assert p.daily_remaining("status") == 200
    assert RateLimiter.from_settings(Settings(plan="premium")).daily_remaining("submit") is None
    auto = RateLimiter.from_settings(Settings(plan="auto"))   # --plan auto: Basic's, per endpoint, until deAPI says
    assert not auto.shared and auto.submit_per_minute() == 1 and auto.daily_remaining("submit") == 10
    with pytest.raises(ValueError, match="unknown endpoint"):
        p.bucket("balance")


def test_shared_minute_429_pauses_every_endpoint():
    async def main(clock, wall):
        lim = limiter(clock, wall, limit_mode="shared")
        assert lim.on_429("status", 20.0, "minute") == 20.0
        await lim.acquire("submit")
        assert clock() - 1000 == 20

    vrun(main)


def test_per_endpoint_429_pauses_only_that_endpoint():
    async def main(clock, wall):
        lim = limiter(clock, wall, limit_mode="per-endpoint")
        lim.on_429("submit", 20.0, "minute")
        await lim.acquire("status")
        assert clock() == 1000
        await lim.acquire("submit")
        assert clock() - 1000 == 20

    vrun(main)


def test_daily_429_on_submit_does_not_hold_status_in_shared_mode():
    async def main(clock, wall):
        lim = limiter(clock, wall, plan="basic", limit_mode="shared", rpm=60)
        order = []

        async def call(endpoint):
            await lim.acquire(endpoint)
            order.append((endpoint, round(clock() - 1000)))

        lim.on_429("submit", None, "daily")
        async with anyio.create_task_group() as tg:
            tg.start_soon(call, "submit")      # first in line, but held until midnight
            await anyio.sleep(0)
            for _ in range(3):
                tg.start_soon(call, "status")
        assert order[:3] == [("status", 0)] * 3
        assert order[3] == ("submit", round(3600 + DAILY_PAD))

    vrun(main)


@pytest.mark.parametrize("retry_after", [None, float("nan"), -5.0, "abc", float("inf")])
def test_429_without_usable_retry_after_falls_back(retry_after):
    async def main(clock, wall):
        lim = limiter(clock, wall)
        await lim.acquire("submit")
        await anyio.sleep(10)
        pause = lim.on_429("submit", retry_after, "minute")
        assert 50.5 <= pause <= 50.5 + 2      # until our oldest grant leaves the window, + jitter
        assert lim.on_429("status", retry_after, None) <= 60.5 + 2

    vrun(main)


def test_429_retry_after_clamped_and_long_ones_are_daily():
    async def main(clock, wall):
        lim = limiter(clock, wall, limit_mode="per-endpoint")
        assert lim.on_429("submit", 0.0, "minute") == 1.0
        assert lim.on_429("status", 7200.0, None) == 7200.0     # no type, hours: a daily limit
        assert lim.bucket("status").usage().paused_for == pytest.approx(7200.0)

    vrun(main)


def test_status_budget():
    async def main(clock, wall):
        shared = limiter(clock, wall, limit_mode="shared")
        assert shared.status_budget_per_minute() == 300
        assert shared.status_budget_per_minute(submit_demand=290) == 30        # floor: 10%
        assert shared.status_budget_per_minute(submit_demand=100) == 200
        for _ in range(150):
            await shared.acquire("submit")
        assert shared.status_budget_per_minute() == pytest.approx(300 - 150 * 60 / 60.5)
        basic = limiter(clock, wall, plan="basic", limit_mode="per-endpoint")
        assert basic.status_budget_per_minute() == pytest.approx(200 / 60)   # 200 left, 60 min to midnight

    vrun(main)


# -- snapshot / restore -------------------------------------------------------------------------
def test_snapshot_is_toml_safe_and_resume_does_not_burst():
    snap = {}

    async def before(clock, wall):
        lim = limiter(clock, wall, plan="basic", limit_mode="per-endpoint", rpm=5)
        for _ in range(5):
            await lim.acquire("submit")
            await anyio.sleep(1)
        lim.on_429("status", 30.0, "minute")
        snap.update(lim.snapshot())

    vrun(before)
    tomli_w.dumps(snap)
    json.dumps(snap)

    async def after(clock, wall):    # a new process 10 s later, its monotonic clock elsewhere
        lim = limiter(clock, wall, plan="basic", limit_mode="per-endpoint", rpm=5)
        lim.restore(snap)
        assert lim.bucket("submit").usage().used_today == 5
        await lim.acquire("submit")
        assert wall() == pytest.approx(MIDNIGHT - 3600 + 60.5, abs=0.01)
        assert lim.bucket("status").usage().paused_for == 0

    vrun(after, wall0=MIDNIGHT - 3600 + 10)

    async def next_day(clock, wall):
        lim = limiter(clock, wall, plan="basic", limit_mode="shared", rpm=5)
        lim.restore(snap)              # other mode, other day: only what still matters carries
        assert lim.bucket("submit").usage().used_today == 0

    vrun(next_day, wall0=MIDNIGHT + 5)


def test_restore_across_modes_is_conservative():
    snap = {}

    async def shared_run(clock, wall):
        lim = limiter(clock, wall, plan="basic", limit_mode="shared", rpm=10)
        for _ in range(4):
            await lim.acquire("status")
        snap.update(lim.snapshot())

    vrun(shared_run)

    async def per_endpoint(clock, wall):
        lim = limiter(clock, wall, plan="basic", limit_mode="per-endpoint")
        lim.restore(snap)
        status = lim.bucket("status").usage()
        assert (status.used_60s, status.used_today) == (4, 4)

    vrun(per_endpoint, wall0=MIDNIGHT - 3600 + 1)

    async def back_to_shared(clock, wall):
        lim = limiter(clock, wall, plan="basic", limit_mode="shared", rpm=4)
        lim.restore(snap)
        lim.restore({"buckets": {"x": "junk"}, "mode": 3})
        lim.restore({"buckets": {"account": {"grants": ["x", None, -1], "lanes": []}}})
        with anyio.move_on_after(1):
            await lim.acquire("submit")
            raise AssertionError("the restored window is full")

    vrun(back_to_shared, wall0=MIDNIGHT - 3600 + 1)
