"""The client against the simulated deAPI over real loopback HTTP.

Jobs in the simulator age with real time, so latencies here are tenths of a second and
waits poll the API with a deadline; nothing asserts on wall-clock performance.
"""

from __future__ import annotations

from typing import Iterator

import anyio
import httpx
import pytest

from bulk_transcribe.core.deapi.client import DeapiClient, JobStatus, to_job_error
from bulk_transcribe.core.errors import Category, DeapiError
from bulk_transcribe.core.simulator import SimConfig, SimServer
from bulk_transcribe.core.simulator.__main__ import build_parser, config_from_args
from bulk_transcribe.core.simulator.config import parse_fault
from bulk_transcribe.core.simulator.limits import RateBucket

pytestmark = pytest.mark.anyio
FAST = (0.05, 0.15)
URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def make_sim() -> Iterator:
    started: list[SimServer] = []

    def make(**changes) -> SimServer:
        changes.setdefault("latency", FAST)
        sim = SimServer(SimConfig(**changes))
        sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


async def wait_terminal(api: DeapiClient, request_id: str, limit: float = 5.0) -> JobStatus:
    with anyio.fail_after(limit):
        while True:
            job = await api.job(request_id)
            if job.terminal:
                return job
            await anyio.sleep(0.02)


async def test_submit_poll_done_result(make_sim):
    sim = make_sim(latency=(0.6, 0.6), pending_share=0.5)  # wide phases: robust on a busy machine
    async with DeapiClient(sim.base_url, "key") as api:
        rid = await api.submit(URL, model="WhisperLargeV3", include_ts=False)
        first = await api.job(rid)
        assert first.status == "pending" and first.progress == 0.0 and first.result_url is None
        seen = {first.status}
        with anyio.fail_after(5):
            while not (job := await api.job(rid)).terminal:
                seen.add(job.status)
                assert job.progress is not None and 0.0 <= job.progress < 100.0
                await anyio.sleep(0.01)
        assert "processing" in seen
        assert job.status == "done" and job.price and job.price > 0 and not job.structured
        transcript = await api.fetch_result(job)
    assert "dQw4w9WgXcQ" in transcript.text and transcript.segments == ()
    assert sim.submissions() == {URL: 1}
    assert sim.storage_requests_with_auth == 0


async def test_client_booleans_pass_the_strict_simulator(make_sim):
    sim = make_sim(strict_booleans=True)
    async with DeapiClient(sim.base_url, "key") as api:
        await api.submit(URL, model="WhisperLargeV3", include_ts=False)
        await api.price(model="WhisperLargeV3", include_ts=False, source_url=URL)
    assert sim.submissions() == {URL: 1}


async def test_ct2_with_timestamps_is_structured(make_sim):
    sim = make_sim(inline_structured=True)   # the structured object inline: the docs leave it open
    async with DeapiClient(sim.base_url, "key") as api:
        rid = await api.submit(URL, model="WhisperLargeV3Ct2", include_ts=True, ts_level="word", lang="de")
        job = await wait_terminal(api, rid)
        transcript = await api.fetch_result(job)
    assert job.structured and job.language == "de" and isinstance(job.result, dict)
    assert transcript.language == "de" and len(transcript.segments) >= 3
    assert transcript.segments[0].speaker == "SPEAKER_00"
    assert all(s.end > s.start for s in transcript.segments)
    assert "words" in job.result["segments"][0]


async def test_client_reads_segments_when_the_inline_result_is_text(make_sim):
    sim = make_sim()   # the default: inline `result` is the text only
    async with DeapiClient(sim.base_url, "key") as api:
        rid = await api.submit(URL, model="WhisperLargeV3Ct2", include_ts=True)
        job = await wait_terminal(api, rid)
        assert job.structured and isinstance(job.result, str)
        assert len((await api.fetch_result(job)).segments) >= 3


async def test_result_link_download_needs_no_auth_and_expires(make_sim):
    sim = make_sim(inline_result=False, result_ttl=1.0)
    async with DeapiClient(sim.base_url, "key") as api:
        rid = await api.submit(URL, model="WhisperLargeV3Ct2", include_ts=True)
        job = await wait_terminal(api, rid)
        assert job.result is None and job.result_url
        assert len((await api.fetch_result(job)).segments) >= 3
        # The storage route answers a plain request with no key at all.
        async with httpx.AsyncClient() as plain:
            assert (await plain.get(job.result_url)).status_code == 200
        await anyio.sleep(1.1)
        with pytest.raises(DeapiError) as info:
            await api.fetch_result(job)
        assert info.value.category is Category.RESULT_EXPIRED and info.value.retryable
        fresh = await api.job(rid)  # reading the job again signs a fresh link
        assert fresh.result_url != job.result_url
        assert "dQw4w9WgXcQ" in (await api.fetch_result(fresh)).text
    assert sim.storage_requests_with_auth == 0


async def test_tampered_link_is_refused_with_xml(make_sim):
    sim = make_sim(inline_result=False)
    async with DeapiClient(sim.base_url, "key") as api:
        job = await wait_terminal(api, await api.submit(URL, model="WhisperLargeV3", include_ts=False))
    async with httpx.AsyncClient() as plain:
        answer = await plain.get(job.result_url.replace("signature=", "signature=0"))
    assert answer.status_code == 403 and answer.text.startswith("<?xml")


async def test_submit_rate_limit_gives_429_with_retry_after(make_sim):
    sim = make_sim(submit_rpm=2)
    async with DeapiClient(sim.base_url, "key") as api:
        for n in range(2):
            await api.submit(f"{URL}{n}", model="WhisperLargeV3", include_ts=False)
        with pytest.raises(DeapiError) as info:
            await api.submit(f"{URL}x", model="WhisperLargeV3", include_ts=False)
    err = info.value
    assert err.category is Category.RATE_LIMITED and err.status == 429 and err.retryable
    assert err.rate_limit_type == "minute" and err.retry_after is not None and 1 <= err.retry_after <= 60
    assert sim.count_429["submit"] == 1 and sim.count_429["status"] == 0
    assert len(sim.arrivals("submit")) == 3 and len(sim.accepted("submit")) == 2
    assert sum(sim.submissions().values()) == 2


async def test_retry_after_as_http_date_and_daily_limit(make_sim):
    sim = make_sim(status_per_day=1, retry_after_as_date=True)
    async with DeapiClient(sim.base_url, "key") as api:
        rid = await api.submit(URL, model="WhisperLargeV3", include_ts=False)
        await api.job(rid)
        with pytest.raises(DeapiError) as info:
            await api.job(rid)
    err = info.value
    assert err.category is Category.RATE_LIMITED and err.rate_limit_type == "daily"
    assert err.retry_after is not None and 0 < err.retry_after <= 86401


async def test_no_retry_after_header_when_switched_off(make_sim):
    sim = make_sim(price_rpm=1, retry_after_header=False)
    async with DeapiClient(sim.base_url, "key") as api:
        await api.price(model="WhisperLargeV3", include_ts=False, source_url=URL)
        with pytest.raises(DeapiError) as info:
            await api.price(model="WhisperLargeV3", include_ts=False, source_url=URL)
    assert info.value.category is Category.RATE_LIMITED and info.value.retry_after is None


async def test_bad_or_missing_key_is_401(make_sim):
    sim = make_sim(api_keys=frozenset({"good"}))
    async with DeapiClient(sim.base_url, "bad") as api:
        with pytest.raises(DeapiError) as info:
            await api.balance()
    assert info.value.category is Category.AUTH and info.value.status == 401
    async with httpx.AsyncClient() as plain:
        assert (await plain.get(f"{sim.base_url}/api/v2/account/balance")).status_code == 401
    async with DeapiClient(sim.base_url, "good") as api:
        assert await api.balance() == 100.0


async def test_job_faults(make_sim):
    sim = make_sim(faults={"private": "private", "restricted": "restricted", "flaky": "flaky:1",
                           "busy": "capacity", "quiet": "silent"})
    async with DeapiClient(sim.base_url, "key") as api:
        async def run(url: str) -> JobStatus:
            return await wait_terminal(api, await api.submit(url, model="WhisperLargeV3", include_ts=False))

        private = await run("https://youtu.be/private")
        assert private.status == "error" and private.error_reason == "SOURCE_PRIVATE"
        assert not private.retryable and private.refunded and not to_job_error(private).retryable
        restricted = await run("https://youtu.be/restricted")
        assert restricted.error_reason == "SOURCE_RESTRICTED" and not restricted.retryable
        for url, reason in (("https://youtu.be/flaky", "SOURCE_DOWNLOAD_FAILED"),
                            ("https://youtu.be/busy", "CAPACITY_UNAVAILABLE")):
            first = await run(url)
            assert first.status == "error" and first.error_reason == reason and first.retryable
            assert (await run(url)).status == "done"  # the second attempt succeeds
        quiet = await run("https://youtu.be/quiet")
        assert quiet.status == "done" and (await api.fetch_result(quiet)).text == ""
    assert sim.submissions()["https://youtu.be/flaky"] == 2


async def test_invalid_fault_and_validation_are_422(make_sim):
    sim = make_sim(faults={"bad": "invalid"})
    async with DeapiClient(sim.base_url, "key") as api:
        with pytest.raises(DeapiError) as info:
            await api.submit("https://youtu.be/bad", model="WhisperLargeV3", include_ts=False)
        assert info.value.category is Category.VALIDATION and "source_url" in info.value.message
        with pytest.raises(DeapiError) as info:
            await api.submit(URL, model="NoSuchModel", include_ts=False)
        assert info.value.status == 422 and "model:" in info.value.message
        with pytest.raises(DeapiError) as info:
            await api.submit("https://www.tiktok.com/@a/video/1", model="WhisperLargeV3", include_ts=False)
        assert "WhisperLargeV3Ct2" in info.value.message
    assert sim.submissions() == {}


async def test_slow_fault_overrides_latency(make_sim):
    sim = make_sim(faults={"snail": "slow:30"})
    async with DeapiClient(sim.base_url, "key") as api:
        rid = await api.submit("https://youtu.be/snail", model="WhisperLargeV3", include_ts=False)
        await anyio.sleep(0.3)  # well past FAST's latency
        assert not (await api.job(rid)).terminal


async def test_low_balance_refuses_submits(make_sim):
    sim = make_sim()
    sim.set_config(balance=0.1)
    async with DeapiClient(sim.base_url, "key") as api:
        assert await api.balance() == 0.1
        with pytest.raises(DeapiError) as info:
            await api.submit(URL, model="WhisperLargeV3", include_ts=False)
    assert info.value.category is Category.BALANCE


async def test_unknown_job_is_not_found(make_sim):
    sim = make_sim()
    async with DeapiClient(sim.base_url, "key") as api:
        with pytest.raises(DeapiError) as info:
            await api.job("00000000-0000-4000-8000-000000000000")
    assert info.value.category is Category.NOT_FOUND


async def test_injected_server_errors_and_slowness(make_sim):
    sim = make_sim(server_error_share=1.0)
    async with DeapiClient(sim.base_url, "key") as api:
        for _ in range(6):
            with pytest.raises(DeapiError) as info:
                await api.balance()
            err = info.value
            assert err.category is Category.SERVER and err.retryable and err.status in (500, 502, 503)
            assert "<" not in err.message
    assert sim.count_5xx == 6
    sim.set_config(server_error_share=0.0, slow_share=1.0, slow_seconds=0.5)
    async with DeapiClient(sim.base_url, "key", timeout=0.1) as api:
        with pytest.raises(DeapiError) as info:
            await api.balance()
    assert info.value.category is Category.NETWORK and info.value.retryable


async def test_network_failure_when_nothing_listens(make_sim):
    sim = make_sim()
    base = sim.base_url
    sim.stop()
    async with DeapiClient(base, "key", timeout=2) as api:
        with pytest.raises(DeapiError) as info:
            await api.balance()
    assert info.value.category is Category.NETWORK


async def test_v1_routes_share_ids_with_v2(make_sim):
    sim = make_sim()
    async with httpx.AsyncClient(base_url=sim.base_url, headers={"Authorization": "Bearer key"}) as raw:
        answer = await raw.post("/api/v1/client/vid2txt",
                                json={"video_url": URL, "include_ts": False, "model": "WhisperLargeV3"})
        assert answer.status_code == 200
        rid = answer.json()["data"]["request_id"]
        async with DeapiClient(sim.base_url, "key") as api:
            job = await wait_terminal(api, rid)
        v1 = await raw.get(f"/api/v1/client/request-status/{rid}")
    assert job.status == "done" and v1.json()["data"]["status"] == "done"
    assert len(sim.arrivals("submit")) == 1 and len(sim.arrivals("status")) >= 2


async def test_models_paginate_and_price(make_sim):
    names = tuple(f"Model{i:03d}" for i in range(120))
    sim = make_sim(models=names, price_per_hour=0.05)
    async with DeapiClient(sim.base_url, "key") as api:
        assert await api.models() == list(names)
        assert await api.price(model="WhisperLargeV3", include_ts=False, duration_seconds=3600) == 0.05
        quoted = await api.price(model="WhisperLargeV3", include_ts=False, source_url=URL)
        assert 0 < quoted <= 0.05
    assert len(sim.arrivals("models")) == 3 and len(sim.arrivals("all")) == 5


async def test_set_config_changes_faults_while_running(make_sim):
    sim = make_sim()
    async with DeapiClient(sim.base_url, "key") as api:
        assert (await wait_terminal(api, await api.submit(URL, model="WhisperLargeV3", include_ts=False))).status == "done"
        sim.set_config(faults={"dQw4": "private"})
        job = await wait_terminal(api, await api.submit(URL, model="WhisperLargeV3", include_ts=False))
    assert job.status == "error" and job.error_reason == "SOURCE_PRIVATE"
    with pytest.raises(ValueError):
        sim.set_config(faults={"x": "explode"})


# -- the sliding window itself, on a fake clock ------------------------------------------------
def test_sliding_window_is_exact_and_ignores_refusals():
    bucket, wall = RateBucket(), 1_700_000_000.0
    assert all(bucket.admit(t, wall, 3, None).allowed for t in (0.0, 10.0, 20.0))
    refused = bucket.admit(30.0, wall, 3, None)
    assert not refused.allowed and refused.retry_after == 30 and refused.kind == "minute"
    assert not bucket.admit(59.9, wall, 3, None).allowed
    assert bucket.admit(60.0, wall, 3, None).allowed   # the 0.0 arrival has left the window
    assert bucket.used(60.0) == 3                       # refusals were never counted
    assert bucket.admit(70.5, wall, 3, None).allowed


def test_window_can_be_scaled():
    bucket, wall = RateBucket(), 1_700_000_000.0
    assert all(bucket.admit(t, wall, 2, None, window=6.0).allowed for t in (0.0, 1.0))
    refused = bucket.admit(5.9, wall, 2, None, window=6.0)
    assert not refused.allowed and refused.retry_after == 1
    assert bucket.admit(6.0, wall, 2, None, window=6.0).allowed
    assert bucket.used(6.5, window=6.0) == 2
    with pytest.raises(ValueError):
        SimConfig(window=0)
    assert config_from_args(build_parser().parse_args(["--window", "6"])).window == 6.0


async def test_scaled_window_at_the_server(make_sim):
    sim = make_sim(submit_rpm=1, window=0.5)
    async with DeapiClient(sim.base_url, "key") as api:
        await api.submit(f"{URL}0", model="WhisperLargeV3", include_ts=False)
        with pytest.raises(DeapiError):
            await api.submit(f"{URL}1", model="WhisperLargeV3", include_ts=False)
        await anyio.sleep(0.6)   # the scaled window has passed: a slot is free again
        await api.submit(f"{URL}2", model="WhisperLargeV3", include_ts=False)
    assert sim.count_429["submit"] == 1 and len(sim.accepted("submit")) == 2


def test_daily_limit_resets_at_utc_midnight():
    bucket = RateBucket()
    before_midnight = 1_700_006_399.0   # 2023-11-14 23:59:59 UTC
    assert bucket.admit(0.0, before_midnight - 100, 100, 2).allowed
    assert bucket.admit(1.0, before_midnight - 50, 100, 2).allowed
    refused = bucket.admit(2.0, before_midnight, 100, 2)
    assert not refused.allowed and refused.kind == "daily" and refused.retry_after == 1
    assert bucket.admit(3.0, before_midnight + 2, 100, 2).allowed


def test_cli_flags_build_a_config():
    args = build_parser().parse_args(["--latency", "1", "2", "--plan", "basic", "--fault", "abc=flaky:2",
                                      "--retry-after-date"])
    config = config_from_args(args)
    assert config.latency == (1.0, 2.0) and config.submit_rpm == 1 and config.status_per_day == 200
    assert config.faults == {"abc": "flaky:2"} and config.retry_after_as_date
    assert parse_fault("slow:2.5").seconds == 2.5
    with pytest.raises(ValueError):
        config_from_args(build_parser().parse_args(["--fault", "nokind"]))


async def test_missing_fields_are_listed_like_laravel(make_sim):
    sim = make_sim()
    async with httpx.AsyncClient(base_url=sim.base_url, headers={"Authorization": "Bearer key"}) as raw:
        answer = await raw.post("/api/v2/audio/transcriptions", files={"lang": (None, "en")})
    body = answer.json()
    assert answer.status_code == 422
    assert set(body["errors"]) == {"source_url", "model", "include_ts"}
    assert body["message"].endswith("(and 2 more errors)")


async def test_oversized_body_is_413(make_sim):
    sim = make_sim(max_body_bytes=200)
    async with DeapiClient(sim.base_url, "key") as api:
        with pytest.raises(DeapiError) as info:
            await api.submit(URL + "&pad=" + "x" * 300, model="WhisperLargeV3", include_ts=False)
        assert info.value.category is Category.VALIDATION and info.value.status == 413
        assert await api.balance() == 100.0  # the client recovers on a fresh connection
