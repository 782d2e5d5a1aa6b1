"""build_plan: the whole batch expanded, deduped, timed and priced, without submitting anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulk_transcribe.core.errors import Category, DeapiError
from bulk_transcribe.core.plan import (
    RATE_PER_HOUR,
    build_plan,
    estimate_seconds,
)
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.simulator.config import SimConfig
from bulk_transcribe.core.simulator.server import SimServer
from bulk_transcribe.core.sources.expand import write_cached
from bulk_transcribe.core.sources.urls import normalize

from .media_server import closed_port, media_server

pytestmark = pytest.mark.anyio

IDS = ["dQw4w9WgXcQ", "9bZkp7q19f0", "kJQP7kiw5Fk", "JGwWNGJdvx8", "OPf0YbXqDm0", "RgKAFK5djSk"]


@pytest.fixture
def anyio_backend():
    return "asyncio"


def watch(vid: str) -> str:
    return f"https://www.youtube.com/watch?v={vid}"


def key(url: str) -> str:
    return normalize(url).key


def seed_cache(cache: Path, durations: dict[str, float]) -> None:
    """Metadata as a previous session left it: these videos are never fetched again."""
    write_cached(cache / "metadata", {key(watch(v)): {"title": f"Video {v}", "duration": d, "channel": "c",
                                                       "upload_date": "20240101"} for v, d in durations.items()})


def write_batch(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "batch.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class FakeClient:
    """deAPI's price route as a fixed fee plus a per-second rate; counts calls."""

    def __init__(self, fixed=0.005, per_second=0.000013, balance=1.0, fail=False):
        self.fixed, self.per_second, self._balance, self.fail = fixed, per_second, balance, fail
        self.price_calls: list[float] = []

    async def balance(self) -> float:
        return self._balance

    async def price(self, *, model, include_ts, source_url=None, duration_seconds=None, platform=None):
        if self.fail:
            raise DeapiError(Category.RATE_LIMITED, "Too Many Attempts.", status=429)
        self.price_calls.append(duration_seconds)
        return self.fixed + self.per_second * duration_seconds

    def quote(self, seconds: float) -> float:
        return self.fixed + self.per_second * seconds


# -- the "done when" ------------------------------------------------------------------


async def test_mixed_batch_gives_one_row_per_distinct_video(tmp_path):
    cache = tmp_path / "cache"
    seed_cache(cache, {IDS[0]: 600.0, IDS[1]: 60.0})
    with media_server() as srv:
        dead = f"http://127.0.0.1:{closed_port()}/pages/gone.html"
        batch = write_batch(tmp_path, [
            watch(IDS[0]),                        # 1
            srv.url("/pages/three.html"),         # 2: v1.mp4, a.wav, v2.mp4
            f"https://youtu.be/{IDS[0]}",         # 3: same video as line 1
            srv.url("/media/a.wav"),              # 4: already in the page of line 2
            dead,                                 # 5: unreachable
            srv.url("/media/talk.m3u8"),          # 6: HLS, 25.5 s
            watch(IDS[1]),                        # 7
            srv.url("/pages/missing.html"),       # 8: 404
        ])
        client = FakeClient()
        plan = await build_plan(batch, Settings(), client=client, cache_dir=cache, timeout=20)

    keys = [r.key for r in plan.rows]
    assert len(keys) == len(set(keys)) == 6
    # shortest first; unknown durations after, in input order
    assert [r.duration for r in plan.rows[:3]] == [pytest.approx(25.5, abs=1), 60.0, 600.0]
    assert [r.url for r in plan.rows[3:]] == [srv.url(p) for p in ("/media/v1.mp4", "/media/a.wav", "/media/v2.mp4")]
    assert {r.title for r in plan.rows[1:3]} == {f"Video {IDS[0]}", f"Video {IDS[1]}"}

    dup_lines = sorted(line for line, _, _ in plan.duplicates)
    assert dup_lines == [3, 4]
    problem_lines = {p.line: p for p in plan.problems}
    assert set(problem_lines) == {5, 8}
    assert "could not reach" in problem_lines[5].message and "404" in problem_lines[8].message

    # only the YouTube rows are on a host deAPI fetches; they are priced from the price route
    priced = {r.key: r.price_estimate for r in plan.rows if r.price_estimate is not None}
    assert priced == {key(watch(IDS[0])): pytest.approx(client.quote(600)),
                      key(watch(IDS[1])): pytest.approx(client.quote(60))}
    t = plan.totals
    assert t.videos == 6 and t.to_run == 2 and t.unsupported == 4 and t.duplicates == 2
    assert t.audio_seconds == 660.0 and t.unknown_durations == 0
    assert t.estimated_cost == pytest.approx(client.quote(600) + client.quote(60))
    assert t.cost_basis == "deAPI's price route" and t.balance == 1.0 and not t.exceeds_balance
    assert len(client.price_calls) <= 3
    assert [v.key for v in plan.videos] == keys  # what a run submits, in run order


async def test_metadata_failure_never_drops_a_video(tmp_path):
    proxy = f"http://127.0.0.1:{closed_port()}"
    batch = write_batch(tmp_path, [watch(IDS[2]), watch(IDS[3])])
    plan = await build_plan(batch, Settings(), cache_dir=None, proxy=proxy, timeout=20)
    assert [r.id for r in plan.rows] == [IDS[2], IDS[3]]  # unknown durations keep input order
    assert all(r.duration is None and r.supported for r in plan.rows)
    assert len(plan.problems) == 2 and all(p.key and "still submitted" in p.message for p in plan.problems)
    assert plan.totals.unknown_durations == 2 and plan.totals.estimated_cost == 0.0


# -- pricing ------------------------------------------------------------------------------------


async def test_rate_is_used_without_a_key(tmp_path):
    cache = tmp_path / "cache"
    seed_cache(cache, {IDS[0]: 3600.0, IDS[1]: 1800.0})
    plan = await build_plan(write_batch(tmp_path, [watch(IDS[0]), watch(IDS[1])]), Settings(), cache_dir=cache)
    assert plan.totals.estimated_cost == pytest.approx(RATE_PER_HOUR * 1.5)
    assert plan.totals.balance is None and "per hour" in plan.totals.cost_basis
    assert plan.totals.hours == pytest.approx(1.5)


async def test_many_durations_cost_two_price_calls(tmp_path):
    cache = tmp_path / "cache"
    durations = {v: 100.0 * (i + 1) for i, v in enumerate(IDS)}
    seed_cache(cache, durations)
    client = FakeClient(balance=0.01)
    plan = await build_plan(write_batch(tmp_path, [watch(v) for v in IDS]), Settings(), client=client, cache_dir=cache)
    assert sorted(client.price_calls) == [100.0, 600.0]
    assert plan.totals.estimated_cost == pytest.approx(sum(client.quote(d) for d in durations.values()))
    assert plan.totals.exceeds_balance


async def test_price_route_failure_falls_back_to_the_rate(tmp_path):
    cache = tmp_path / "cache"
    seed_cache(cache, {IDS[0]: 3600.0})
    plan = await build_plan(write_batch(tmp_path, [watch(IDS[0])]), Settings(), client=FakeClient(fail=True),
                            cache_dir=cache)
    assert plan.totals.estimated_cost == pytest.approx(RATE_PER_HOUR)
    assert any(p.category == "rate-limited" and "per-hour rate" in p.message for p in plan.problems)


async def test_done_videos_are_shown_but_not_priced(tmp_path):
    cache = tmp_path / "cache"
    seed_cache(cache, {IDS[0]: 3600.0, IDS[1]: 3600.0})
    plan = await build_plan(write_batch(tmp_path, [watch(IDS[0]), watch(IDS[1])]), Settings(), cache_dir=cache,
                            done_keys=frozenset({key(watch(IDS[0]))}))
    done = {r.id: r.done_already for r in plan.rows}
    assert done == {IDS[0]: True, IDS[1]: False}
    assert plan.totals.to_run == 1 and plan.totals.done_already == 1
    assert plan.totals.estimated_cost == pytest.approx(RATE_PER_HOUR)
    assert [v.vid for v in plan.videos] == [IDS[1]]


async def test_prices_and_balance_from_the_simulated_service(tmp_path):
    cache = tmp_path / "cache"
    seed_cache(cache, {IDS[0]: 1200.0, IDS[1]: 2400.0})
    with SimServer(SimConfig(balance=7.5, price_per_hour=0.05)) as sim:
        settings = Settings(api_base=sim.base_url)
        plan = await build_plan(write_batch(tmp_path, [watch(IDS[0]), watch(IDS[1])]), settings,
                                api_key="test-key", cache_dir=cache)
        assert len(sim.accepted("price")) == 2 and len(sim.accepted("balance")) == 1
    assert plan.totals.balance == pytest.approx(7.5)
    assert plan.totals.estimated_cost == pytest.approx(0.05)
    assert plan.totals.cost_basis == "deAPI's price route"


# -- time and faces -----------------------------------------------------------------------------


def test_time_estimate_follows_the_binding_limit():
    fast = Settings(plan="premium", concurrency=10)
    secs, basis = estimate_seconds([600.0] * 100, fast)
    latency = 30.0 + 0.05 * 600  # the stated assumption
    assert secs == pytest.approx(100 * latency / 10 + latency)
    assert "assumed" in basis
    basic = Settings(plan="basic", concurrency=10)
    secs, basis = estimate_seconds([60.0] * 25, basic)  # 1 submit/min, 10 a day
    assert secs > 2 * 86400 and "day" in basis
    assert estimate_seconds([], fast)[0] == 0.0


def test_time_estimate_under_auto_is_at_basic_with_premium_said():
    secs, basis = estimate_seconds([60.0] * 25, Settings(concurrency=10))   # --plan auto
    assert secs == estimate_seconds([60.0] * 25, Settings(plan="basic", concurrency=10))[0]
    assert basis.startswith("at Basic's limits, where every new account starts")
    assert "if deAPI's answers show a Premium account (300/min), about 2 min" in basis
