"""build_plan: the whole batch expanded, deduped, timed and priced, without submitting anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulk_transcribe.core.deapi.client import DeapiClient
from bulk_transcribe.core.errors import Category, DeapiError
from bulk_transcribe.core.plan import (
    build_plan,
    estimate_seconds,
    estimate_video,
    quote_points,
    quoted_pricer,
)
from bulk_transcribe.core.prices import JOB_FEE, PER_HOUR, estimate_price
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.simulator.config import SimConfig, plan_limits
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


def seed_urls(cache: Path, durations: dict[str, float]) -> None:
    """Cached metadata for any URLs (X, Twitch, TikTok...): no yt-dlp call for them."""
    write_cached(cache / "metadata", {key(u): {"title": f"Video {i}", "duration": d, "channel": "c",
                                               "upload_date": "20240101"} for i, (u, d) in enumerate(durations.items())})


def write_batch(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "batch.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class FakeClient:
    """deAPI's price route as a fixed fee plus a per-second rate; counts calls."""

    def __init__(self, fixed=0.005, per_second=0.000013, balance=1.0, fail=False, fail_platforms=()):
        self.fixed, self.per_second, self._balance, self.fail = fixed, per_second, balance, fail
        self.fail_platforms = fail_platforms
        self.price_calls: list[float] = []
        self.asked: list[dict] = []      # every price call's arguments, failed ones included

    async def balance(self) -> float:
        return self._balance

    async def price(self, *, model, include_ts, source_url=None, duration_seconds=None, platform=None,
                    lang="", ts_level=None):
        self.asked.append(dict(model=model, include_ts=include_ts, duration_seconds=duration_seconds,
                               platform=platform, lang=lang, ts_level=ts_level))
        if self.fail:
            raise DeapiError(Category.RATE_LIMITED, "Too Many Attempts.", status=429)
        if platform in self.fail_platforms:
            raise DeapiError(Category.SERVER, "Server Error", status=500)
        self.price_calls.append(duration_seconds)
        return self.fixed + self.per_second * duration_seconds

    def quote(self, seconds: float) -> float:
        return self.fixed + self.per_second * seconds


class Recording:
    """The real client over loopback, with every price call's arguments kept."""

    def __init__(self, inner: DeapiClient) -> None:
        self.inner, self.asked = inner, []

    async def balance(self) -> float:
        return await self.inner.balance()

    async def price(self, **kwargs):
        self.asked.append(kwargs)
        return await self.inner.price(**kwargs)


# -- rows: one per distinct video, none lost --------------------------------------------------------


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
        plan = await build_plan(batch, Settings(order="shortest"), client=client, cache_dir=cache, timeout=20)

    keys = [r.key for r in plan.rows]
    assert len(keys) == len(set(keys)) == 6
    # shortest first; unknown durations after, in input order
    assert [r.duration for r in plan.rows[:3]] == [pytest.approx(25.5, abs=1), 60.0, 600.0]
    assert [r.url for r in plan.rows[3:]] == [srv.url(p) for p in ("/media/v1.mp4", "/media/a.wav", "/media/v2.mp4")]
    assert {r.title for r in plan.rows[1:3]} == {f"Video {IDS[0]}", f"Video {IDS[1]}"}
    # the default order (finish, longest first) is tests/core/test_order.py's

    dup_lines = sorted(line for line, _, _ in plan.duplicates)
    assert dup_lines == [3, 4]
    problem_lines = {p.line: p for p in plan.problems}
    assert set(problem_lines) == {5, 8}
    assert "could not reach" in problem_lines[5].message and "404" in problem_lines[8].message

    # the YouTube rows are on a host deAPI fetches; the page's clips are uploads (of unknown length:
    # counted, not priced); what has a length is priced from the price route
    priced = {r.key: r.price_estimate for r in plan.rows if r.price_estimate is not None}
    assert priced[key(watch(IDS[0]))] == pytest.approx(client.quote(600))
    assert priced[key(watch(IDS[1]))] == pytest.approx(client.quote(60))
    assert {r.path for r in plan.rows if r.supported} == {"deAPI fetches"}
    assert all(r.path.startswith("upload") for r in plan.rows if not r.supported)
    t = plan.totals
    assert t.videos == 6 and t.unsupported == 4 and t.duplicates == 2
    assert t.to_run == 6, "a host deAPI does not fetch is uploaded, not left out"
    assert any("downloaded here and uploaded" in n for n in t.notes)
    assert t.balance == 1.0 and not t.exceeds_balance
    assert len(client.price_calls) <= 6
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


async def test_documented_shape_is_used_without_a_key(tmp_path):
    cache = tmp_path / "cache"
    seed_cache(cache, {IDS[0]: 3600.0, IDS[1]: 1800.0})
    plan = await build_plan(write_batch(tmp_path, [watch(IDS[0]), watch(IDS[1])]), Settings(), cache_dir=cache)
    assert plan.totals.estimated_cost == pytest.approx(2 * JOB_FEE + 1.5 * PER_HOUR)   # a fee per job
    assert plan.totals.balance is None
    assert "per job" in plan.totals.cost_basis and "per hour" in plan.totals.cost_basis
    assert plan.totals.hours == pytest.approx(1.5)
    [group] = plan.totals.price_groups
    assert (group.platform, group.videos, group.quoted) == ("youtube", 2, False)
    assert not any(r.price_quoted for r in plan.rows)


async def test_many_durations_cost_two_price_calls(tmp_path):
    cache = tmp_path / "cache"
    durations = {v: 100.0 * (i + 1) for i, v in enumerate(IDS)}
    seed_cache(cache, durations)
    client = FakeClient(balance=0.01)
    plan = await build_plan(write_batch(tmp_path, [watch(v) for v in IDS]), Settings(), client=client, cache_dir=cache)
    assert sorted(client.price_calls) == [100.0, 600.0]
    assert plan.totals.estimated_cost == pytest.approx(sum(client.quote(d) for d in durations.values()))
    assert plan.totals.exceeds_balance


async def test_price_route_failure_falls_back_to_the_estimate(tmp_path):
    cache = tmp_path / "cache"
    seed_cache(cache, {IDS[0]: 3600.0})
    plan = await build_plan(write_batch(tmp_path, [watch(IDS[0])]), Settings(), client=FakeClient(fail=True),
                            cache_dir=cache)
    assert plan.totals.estimated_cost == pytest.approx(JOB_FEE + PER_HOUR)
    assert any(p.category == "rate-limited" and "estimated" in p.message and "per job" in p.message
               for p in plan.problems)
    assert "did not quote" in plan.totals.cost_basis


async def test_done_videos_are_shown_but_not_priced(tmp_path):
    cache = tmp_path / "cache"
    seed_cache(cache, {IDS[0]: 3600.0, IDS[1]: 3600.0})
    plan = await build_plan(write_batch(tmp_path, [watch(IDS[0]), watch(IDS[1])]), Settings(), cache_dir=cache,
                            done_keys=frozenset({key(watch(IDS[0]))}))
    done = {r.id: r.done_already for r in plan.rows}
    assert done == {IDS[0]: True, IDS[1]: False}
    assert plan.totals.to_run == 1 and plan.totals.done_already == 1
    assert plan.totals.estimated_cost == pytest.approx(JOB_FEE + PER_HOUR)
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


# -- groups: platforms, TikTok, failures -------------------------------------------------------

X_A = "https://x.com/someone/status/1234567890"
X_B = "https://x.com/other/status/2234567890"
X_SPACE = "https://x.com/i/spaces/1OwxWzYbRkNGQ"
TWITCH = "https://www.twitch.tv/videos/123456789"
TIKTOK_A = "https://www.tiktok.com/@someone/video/7234567890123456789"
TIKTOK_B = "https://www.tiktok.com/@someone/video/7234567890123456790"
TIKTOK_C = "https://www.tiktok.com/@other/video/7234567890123456791"


def by_url(plan):
    return {r.url: r for r in plan.rows}


async def test_x_links_are_priced_as_twitter_by_the_simulated_service(tmp_path):
    cache = tmp_path / "cache"
    seed_urls(cache, {X_A: 120.0, X_B: 240.0, watch(IDS[0]): 600.0})
    with SimServer(SimConfig()) as sim:
        async with DeapiClient(sim.base_url, "test-key") as api:
            client = Recording(api)
            plan = await build_plan(write_batch(tmp_path, [X_A, X_B, watch(IDS[0])]), Settings(), client=client,
                                    cache_dir=cache)
    assert sorted(c["platform"] for c in client.asked) == ["twitter", "twitter", "youtube"]
    assert {(g.platform, g.quoted, g.videos) for g in plan.totals.price_groups} == {("twitter", True, 2),
                                                                                   ("youtube", True, 1)}
    rows = by_url(plan)
    assert rows[X_A].price_quoted and rows[X_A].price_estimate == pytest.approx(estimate_price(120.0))
    assert plan.totals.cost_basis == "deAPI's price route" and not plan.problems


async def test_x_space_is_quoted_without_a_platform(tmp_path):
    cache = tmp_path / "cache"
    seed_urls(cache, {X_SPACE: 3600.0})
    client = FakeClient()
    plan = await build_plan(write_batch(tmp_path, [X_SPACE]), Settings(), client=client, cache_dir=cache)
    assert [c["platform"] for c in client.asked] == [None]
    assert plan.rows[0].price_quoted


async def test_tiktok_is_priced_with_ct2_by_the_simulated_service(tmp_path):
    cache = tmp_path / "cache"
    seed_urls(cache, {TIKTOK_A: 30.0, TIKTOK_B: 50.0, TIKTOK_C: 200.0, watch(IDS[0]): 30.0})
    with SimServer(SimConfig()) as sim:
        async with DeapiClient(sim.base_url, "test-key") as api:
            client = Recording(api)
            plan = await build_plan(write_batch(tmp_path, [TIKTOK_A, TIKTOK_B, TIKTOK_C, watch(IDS[0])]),
                                    Settings(model="WhisperLargeV3"), client=client, cache_dir=cache)
        assert len(sim.accepted("price")) == 3     # one per TikTok band present (<=60 s, <=300 s), one YouTube
    tiktok = [c for c in client.asked if c["platform"] == "tiktok"]
    assert {c["model"] for c in tiktok} == {"WhisperLargeV3Ct2"}
    assert sorted(c["duration_seconds"] for c in tiktok) == [50.0, 200.0]   # the longest of each band
    assert [c["model"] for c in client.asked if c["platform"] == "youtube"] == ["WhisperLargeV3"]
    rows = by_url(plan)
    assert all(rows[u].price_quoted and rows[u].model == "WhisperLargeV3Ct2" for u in (TIKTOK_A, TIKTOK_B, TIKTOK_C))
    assert rows[watch(IDS[0])].model == "WhisperLargeV3"
    # TikTok's documented bands: <= 60 s $0.015, <= 300 s $0.045 (the simulator prices as documented)
    assert [rows[u].price_estimate for u in (TIKTOK_A, TIKTOK_B, TIKTOK_C)] == [pytest.approx(0.015)] * 2 + [
        pytest.approx(0.045)]
    assert not plan.problems and plan.totals.cost_basis == "deAPI's price route"
    assert any("TikTok" in n and "WhisperLargeV3Ct2" in n for n in plan.totals.notes)


async def test_no_tiktok_note_when_ct2_is_the_model_anyway(tmp_path):
    cache = tmp_path / "cache"
    seed_urls(cache, {TIKTOK_A: 30.0})
    plan = await build_plan(write_batch(tmp_path, [TIKTOK_A]), Settings(model="WhisperLargeV3Ct2"), cache_dir=cache)
    assert plan.totals.notes == ()
    assert plan.rows[0].price_estimate == pytest.approx(0.015)    # estimated by band without a key


async def test_one_platform_refused_leaves_the_others_quoted(tmp_path):
    cache = tmp_path / "cache"
    durations = {watch(IDS[0]): 600.0, watch(IDS[1]): 1200.0, X_A: 45.0, X_B: 90.0, TWITCH: 3600.0}
    seed_urls(cache, durations)
    # the simulated deAPI no longer knows "twitter": its quote is refused (422), the rest answer
    cfg = SimConfig(price_platforms=("youtube", "twitch", "kick", "tiktok"), price_per_job=0.01,
                    price_per_second=0.0001)
    with SimServer(cfg) as sim:
        plan = await build_plan(write_batch(tmp_path, list(durations)), Settings(api_base=sim.base_url),
                                api_key="test-key", cache_dir=cache)
    groups = {g.platform: g for g in plan.totals.price_groups}
    assert groups["youtube"].quoted and groups["twitch"].quoted and not groups["twitter"].quoted
    assert "price route failed" in groups["twitter"].reason
    rows = by_url(plan)
    sim_price = {u: 0.01 + 0.0001 * d for u, d in durations.items()}
    for u in (watch(IDS[0]), watch(IDS[1]), TWITCH):
        assert rows[u].price_quoted and rows[u].price_estimate == pytest.approx(sim_price[u])
    for u in (X_A, X_B):   # estimated with the documented fee, not a flat per-hour rate
        assert not rows[u].price_quoted and rows[u].price_estimate == pytest.approx(JOB_FEE + PER_HOUR * durations[u] / 3600)
        assert rows[u].price_estimate > JOB_FEE
    assert plan.totals.estimated_cost == pytest.approx(sum(r.price_estimate for r in plan.rows))
    [problem] = plan.problems
    assert problem.category == "validation" and "twitter" in problem.message and "2 video(s)" in problem.message
    assert "youtube" in plan.totals.cost_basis and "estimate for twitter" in plan.totals.cost_basis


async def test_a_server_error_for_one_group_does_not_stop_the_others(tmp_path):
    cache = tmp_path / "cache"
    seed_urls(cache, {watch(IDS[0]): 600.0, X_A: 60.0, TWITCH: 60.0})
    client = FakeClient(fail_platforms=("youtube",))
    plan = await build_plan(write_batch(tmp_path, [watch(IDS[0]), X_A, TWITCH]), Settings(), client=client,
                            cache_dir=cache)
    assert {g.platform: g.quoted for g in plan.totals.price_groups} == {"youtube": False, "twitter": True,
                                                                        "twitch": True}
    assert len(client.asked) == 3


async def test_auth_failure_stops_asking(tmp_path):
    cache = tmp_path / "cache"
    seed_urls(cache, {watch(IDS[0]): 600.0, watch(IDS[1]): 700.0, X_A: 60.0, TWITCH: 60.0})
    with SimServer(SimConfig(api_keys=frozenset({"the-right-key"}))) as sim:
        plan = await build_plan(write_batch(tmp_path, [watch(IDS[0]), watch(IDS[1]), X_A, TWITCH]),
                                Settings(api_base=sim.base_url), api_key="wrong", cache_dir=cache)
        assert len(sim.arrivals("price")) == 1      # the first 401 is enough: nothing else is asked
    assert not any(g.quoted for g in plan.totals.price_groups)
    assert plan.totals.estimated_cost == pytest.approx(sum(estimate_price(d) for d in (600.0, 700.0, 60.0, 60.0)))
    assert [p.category for p in plan.problems].count("auth") == 3   # balance, the failed quote, the skipped groups
    assert "not asked" in plan.problems[-1].message


async def test_the_per_job_fee_shows_for_short_videos(tmp_path):
    cache = tmp_path / "cache"
    seed_cache(cache, {v: 20.0 for v in IDS})
    with SimServer(SimConfig()) as sim:
        plan = await build_plan(write_batch(tmp_path, [watch(v) for v in IDS]), Settings(api_base=sim.base_url),
                                api_key="test-key", cache_dir=cache)
        assert len(sim.accepted("price")) == 1       # one distinct duration: one quote
    flat = 0.05 * 20.0 / 3600                          # the old flat per-hour rate: $0.00028 a video
    assert all(r.price_quoted and r.price_estimate == pytest.approx(JOB_FEE + PER_HOUR * 20 / 3600) for r in plan.rows)
    assert plan.totals.estimated_cost > 15 * flat * len(IDS)
    no_key = await build_plan(write_batch(tmp_path, [watch(v) for v in IDS]), Settings(), cache_dir=cache)
    assert no_key.totals.estimated_cost == pytest.approx(plan.totals.estimated_cost)


async def test_quotes_carry_the_submit_options(tmp_path):
    cache = tmp_path / "cache"
    seed_urls(cache, {watch(IDS[0]): 60.0, TIKTOK_A: 60.0})
    client = FakeClient()
    await build_plan(write_batch(tmp_path, [watch(IDS[0]), TIKTOK_A]), Settings(timestamps=True, lang="de"),
                     client=client, cache_dir=cache)
    asked = {c["platform"]: c for c in client.asked}
    assert asked["youtube"]["ts_level"] is None and asked["youtube"]["include_ts"] is True
    assert asked["tiktok"]["model"] == "WhisperLargeV3Ct2" and asked["tiktok"]["ts_level"] == "segment"
    assert {c["lang"] for c in client.asked} == {"de"}
    client = FakeClient()
    await build_plan(write_batch(tmp_path, [watch(IDS[0])]), Settings(timestamps=True, model="WhisperLargeV3Ct2"),
                     client=client, cache_dir=cache)
    assert client.asked[0]["ts_level"] == "segment"


# -- the pricer ---------------------------------------------------------------------------------


def test_quote_points_stay_few():
    assert quote_points("youtube", [10.2, 10.4, 30, 50]) == [10.0, 30.0, 50.0]
    assert quote_points("youtube", [float(d) for d in range(1, 500)]) == [1.0, 499.0]
    assert quote_points("", [60.0]) == [60.0]
    assert quote_points("tiktok", [10, 59.5, 61, 2000, 3000]) == [60.0, 61.0, 3000.0]


def test_interpolation_is_affine_and_clamped():
    fee, rate = 0.007, 0.00002
    price = quoted_pricer("youtube", {100.0: fee + rate * 100, 1000.0: fee + rate * 1000})
    for seconds in (100, 250, 555.5, 1000):
        assert price(seconds) == pytest.approx(fee + rate * seconds)   # the fee is kept, not scaled away
    assert price(10) == pytest.approx(fee + rate * 10)                 # below: on the line...
    assert price(5000) == pytest.approx(fee + rate * 5000)             # above too
    odd = quoted_pricer("youtube", {100.0: 0.001, 200.0: 0.01})        # a line through a negative fee
    assert odd(0) == 0.0 and odd(50) == 0.0                            # ...but never below zero
    falling = quoted_pricer("youtube", {100.0: 0.02, 200.0: 0.01})     # nonsense quotes: stay within them
    assert falling(50) == pytest.approx(0.02) and falling(500) == pytest.approx(0.01)


def test_a_single_quote_keeps_a_fee():
    price = quoted_pricer("youtube", {600.0: 2 * estimate_price(600.0)})   # deAPI twice the documented shape
    assert price(600) == pytest.approx(2 * estimate_price(600.0))
    assert price(0) == pytest.approx(2 * JOB_FEE)                           # not zero: the fee scales too
    assert price(60) == pytest.approx(2 * estimate_price(60.0))


def test_tiktok_pricer_is_per_band():
    price = quoted_pricer("tiktok", {50.0: 0.02, 200.0: 0.05})
    assert price(1) == price(60) == 0.02 and price(181) == price(300) == 0.05
    assert price(1000) == pytest.approx(estimate_price(1000, platform="tiktok"))   # a band not quoted


def test_estimate_video_follows_the_host():
    assert estimate_video(watch(IDS[0]), 60.0) == pytest.approx(estimate_price(60.0))
    assert estimate_video(TIKTOK_A, 60.0) == pytest.approx(0.015)
    assert estimate_video("not a url", 60.0) == pytest.approx(estimate_price(60.0))
    assert estimate_video(watch(IDS[0]), None) is None


# -- time and faces -----------------------------------------------------------------------------


def test_time_estimate_follows_the_binding_limit():
    fast = Settings(plan="premium", concurrency=10)
    secs, basis = estimate_seconds([600.0] * 100, fast)
    latency = 30.0 + 0.05 * 600  # the stated assumption
    assert secs == pytest.approx(100 * latency / 10 + latency)
    assert basis == "10 at once, at most 300 submits a minute"   # the limits, not our latency formula
    basic = Settings(plan="basic", concurrency=10)
    secs, basis = estimate_seconds([60.0] * 25, basic)  # 1 submit/min, 10 a day
    assert secs > 2 * 86400 and "day" in basis
    assert estimate_seconds([], fast)[0] == 0.0


def test_time_estimate_under_auto_is_at_basic_with_premium_said():
    secs, basis = estimate_seconds([60.0] * 25, Settings(concurrency=10))   # --plan auto
    assert secs == estimate_seconds([60.0] * 25, Settings(plan="basic", concurrency=10))[0]
    assert basis.startswith("at Basic's limits, where every new account starts")
    assert "if deAPI's answers show a Premium account (300/min), about 2 min" in basis


async def test_the_plan_marks_each_videos_path_and_prices_an_upload_per_chunk(tmp_path):
    """deAPI fetches the YouTube video; the hour of audio elsewhere is downloaded and uploaded in
    chunks under the 20 MB cap (at 128 kbit/s: 4), one job each, so it is priced as 4 jobs."""
    cache = tmp_path / "cache"
    page, short = "https://example.org/talks/keynote.mp3", "https://example.org/talks/intro.mp3"
    seed_urls(cache, {page: 3600.0, short: 60.0})
    seed_cache(cache, {IDS[0]: 600.0})
    batch = write_batch(tmp_path, [watch(IDS[0]), page, short])
    plan = await build_plan(batch, Settings(), cache_dir=cache, timeout=20)
    rows = {r.url: r for r in plan.rows}
    assert rows[watch(IDS[0])].path == "deAPI fetches"
    assert rows[watch(IDS[0])].price_estimate == pytest.approx(estimate_price(600.0))
    assert rows[page].path == "upload in 4 chunks" and rows[page].chunks == 4
    assert rows[page].price_estimate == pytest.approx(4 * estimate_price(900.0))
    assert rows[short].path == "upload" and rows[short].price_estimate == pytest.approx(estimate_price(60.0))
    t = plan.totals
    assert t.to_run == 3 and t.unsupported == 2
    assert t.estimated_cost == pytest.approx(estimate_price(600.0) + 4 * estimate_price(900.0) + estimate_price(60.0))
    assert any("2 video(s) on hosts deAPI does not fetch" in n and "1 over the 20 MB cap" in n for n in t.notes)
    smaller = await build_plan(batch, Settings(upload_max_mb=5), cache_dir=cache, timeout=20)
    assert {r.url: r.chunks for r in smaller.rows}[page] == 13, "the cap is a setting: caps change"


# -- limits: what deAPI's answers to the plan said ---------------------------------------------

SHARED_PREMIUM = dict(shared_limits=True, account_rpm=300)   # one account bucket, named by X-RateLimit-Source


async def plan_against(tmp_path, cfg: SimConfig, **settings):
    """Six 10-minute videos planned against the simulator (its price answers carry the headers)."""
    cache = tmp_path / "cache"
    seed_cache(cache, {v: 600.0 for v in IDS})
    with SimServer(cfg) as sim:
        plan = await build_plan(write_batch(tmp_path, [watch(v) for v in IDS]),
                                Settings(api_base=sim.base_url, concurrency=50, **settings),
                                api_key="test-key", cache_dir=cache)
        assert sim.accepted("price") and not sim.arrivals("submit"), "planning asks prices and submits nothing"
    return plan


def origins(plan) -> dict[tuple[str, str], tuple[int | None, str]]:
    return {(lim.name, lim.per): (lim.value, lim.origin) for lim in plan.totals.limit_origins}


async def test_a_shared_premium_account_is_planned_at_its_300_from_the_headers(tmp_path):
    plan = await plan_against(tmp_path, SimConfig(**SHARED_PREMIUM))
    t, six = plan.totals, [600.0] * len(IDS)
    got = origins(plan)
    assert got[("submit", "minute")] == (300, "header") and got[("account", "minute")] == (300, "header")
    assert got[("submit", "day")] == (None, "header"), "a Premium account: Basic's 10 a day does not apply"
    assert t.limits_source == "header"
    assert t.limits.startswith("auto: at the limits deAPI's answers to the plan gave")
    assert "submit 300/min (header)" in t.limits and "account 300/min (header)" in t.limits
    premium = estimate_seconds(six, Settings(plan="premium", concurrency=50))[0]
    basic = estimate_seconds(six, Settings(plan="basic", concurrency=50))[0]
    assert t.estimated_seconds == pytest.approx(premium, rel=1e-6) and premium < basic
    assert t.time_basis.startswith("at the limits deAPI's answers gave (300/min for submits)")
    assert "Basic" not in t.time_basis


@pytest.mark.parametrize("cfg", [SimConfig(**plan_limits("basic")), SimConfig()],
                         ids=["basic-per-endpoint", "premium-per-endpoint"])
async def test_a_price_routes_own_bucket_is_not_taken_for_the_submit_limit(tmp_path, cfg):
    plan = await plan_against(tmp_path, cfg)
    t = plan.totals
    got = origins(plan)
    assert got[("price", "minute")] == (cfg.price_rpm, "header"), "learned from the price answers"
    assert got[("submit", "minute")] == (1, "preset"), "Basic's start, not the price route's figure"
    assert t.limits_source == "auto" and f"price {cfg.price_rpm}/min (header)" in t.limits
    assert "submit 1/min (preset)" in t.limits
    if cfg.submit_per_day:    # Basic: nothing says otherwise, Basic's day stays
        assert got[("submit", "day")] == (10, "preset")
        assert t.estimated_seconds == pytest.approx(
            estimate_seconds([600.0] * len(IDS), Settings(plan="basic", concurrency=50))[0], rel=1e-6)
        assert t.time_basis.startswith("at Basic's limits, where every new account starts")
    else:
        assert got[("submit", "day")] == (None, "header"), "more than Basic: Basic's day is dropped"
        assert "at Basic's per minute until a submit's answer" in t.time_basis
    assert "if deAPI's answers show a Premium account (300/min)" in t.time_basis


async def test_rpm_and_an_explicit_plan_stay_caps_over_what_the_headers_allow(tmp_path):
    plan = await plan_against(tmp_path / "rpm", SimConfig(**SHARED_PREMIUM), rpm=20)
    got, t = origins(plan), plan.totals
    assert got[("submit", "minute")] == (20, "flag") and got[("account", "minute")] == (20, "flag")
    assert t.estimated_seconds == pytest.approx(
        estimate_seconds([600.0] * len(IDS), Settings(plan="premium", rpm=20, concurrency=50))[0], rel=1e-6)
    assert "(300/min for submits, held at 20 by --rpm)" in t.time_basis
    assert "(--rpm 20 as a cap)" in t.limits and "submit 20/min (flag)" in t.limits

    plan = await plan_against(tmp_path / "basic", SimConfig(**SHARED_PREMIUM), plan="basic")
    got, t = origins(plan), plan.totals
    assert got[("submit", "minute")] == (1, "preset") and got[("submit", "day")] == (10, "preset")
    assert t.limits_source == "preset" and "account 300/min (header)" in t.limits   # the bucket, honestly
    assert "(300/min for submits, held at 1 by the basic plan)" in t.time_basis
    assert t.estimated_seconds == pytest.approx(
        estimate_seconds([600.0] * len(IDS), Settings(plan="basic", concurrency=50))[0], rel=1e-6)
