"""The client's part in never paying twice: which failed submits may have made a job, every
request bounded as a whole, results read where deAPI documents them, limits read from every
answer. Transport-level faults here; the same against the simulator over loopback in
tests/core/test_submit_in_doubt.py."""

from __future__ import annotations

import httpx
import pytest

from bulk_transcribe.core.deapi.answers import rate_limit_info
from bulk_transcribe.core.deapi.client import DeapiClient, JobStatus
from bulk_transcribe.core.errors import Category, DeapiError
from bulk_transcribe.core.simulator import SimConfig, SimServer

from .test_client import answering, client_for, error_of

pytestmark = pytest.mark.anyio

CT2 = {"text": "Hello there.", "language": "en",
       "segments": [{"start": 0.0, "end": 1.5, "text": "Hello"}, {"start": 1.5, "end": 2.0, "text": "there."}]}


def raising(exc: Exception):
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc
    return handler


@pytest.mark.parametrize("exc", [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow connect"),
                                 httpx.PoolTimeout("pool")])
async def test_a_submit_that_never_left_is_not_in_doubt(exc):
    err = await error_of(raising(exc))
    assert err.category is Category.NETWORK and err.retryable and not err.maybe_created


@pytest.mark.parametrize("exc", [httpx.ReadTimeout("slow answer"), httpx.RemoteProtocolError("reset"),
                                 httpx.ReadError("connection reset by peer")])
async def test_a_submit_whose_answer_was_lost_is_in_doubt(exc):
    err = await error_of(raising(exc))
    assert err.category is Category.NETWORK and err.maybe_created


@pytest.mark.parametrize("status, in_doubt", [(502, True), (504, True), (500, False), (503, False),
                                              (429, False), (422, False), (401, False)])
async def test_gateway_answers_after_arrival_are_in_doubt_others_not(status, in_doubt):
    err = await error_of(answering(status, text="<html>gateway</html>"))
    assert err.maybe_created is in_doubt


async def test_an_unreadable_200_is_in_doubt():
    err = await error_of(answering(200, text="<html><body>upstream answered</body></html>"))
    assert err.category is Category.SERVER and err.maybe_created


async def test_other_calls_never_claim_a_job():
    err = await error_of(raising(httpx.ReadTimeout("slow")), call="job")
    assert not err.maybe_created


async def test_connection_refused_on_a_real_socket_is_not_in_doubt():
    """Against a closed loopback port the real transport (with httpcore's trace) must see that
    nothing was sent."""
    from tests.core.media_server import closed_port

    async with DeapiClient(f"http://127.0.0.1:{closed_port()}", "k") as api:
        with pytest.raises(DeapiError) as info:
            await api.submit("https://youtu.be/aaaaaaaaaaa", model="WhisperLargeV3", include_ts=False)
    assert info.value.category is Category.NETWORK and not info.value.maybe_created


async def test_a_trickled_answer_is_bounded_as_a_whole_and_in_doubt():
    """A submit answered a byte at a time: each read is quick, so only a bound on the whole
    request ends it; the job exists by then, so the submit is in doubt."""
    with SimServer(SimConfig(latency=(0.1, 0.2), trickle_bytes_per_second=2.0,
                             trickle_endpoints=frozenset({"submit"}))) as sim:
        async with DeapiClient(sim.base_url, "k", timeout=5.0, totals={"submit": 1.5}) as api:
            with pytest.raises(DeapiError) as info:
                await api.submit("https://youtu.be/aaaaaaaaaaa", model="WhisperLargeV3", include_ts=False)
        assert info.value.maybe_created and "1.5 s" in info.value.message
        assert sim.jobs_created() == 1


async def test_a_held_submit_answer_is_waited_for_past_the_per_read_timeout():
    """The whole-request bound is the submit's only answer deadline: an answer held longer than
    the client's per-read timeout (30 s in the engine) but within the bound is taken, not turned
    into a video in doubt."""
    with SimServer(SimConfig(latency=(0.1, 0.2), submit_answer_delay=1.5)) as sim:
        async with DeapiClient(sim.base_url, "k", timeout=0.5, totals={"submit": 10.0}) as api:
            request_id = await api.submit("https://youtu.be/aaaaaaaaaaa", model="WhisperLargeV3", include_ts=False)
        assert request_id and sim.jobs_created() == 1


async def test_a_reset_after_arrival_is_in_doubt_and_a_job_exists():
    with SimServer(SimConfig(latency=(0.1, 0.2), faults={"aaaaaaaaaaa": "reset:1"})) as sim:
        async with DeapiClient(sim.base_url, "k") as api:
            with pytest.raises(DeapiError) as info:
                await api.submit("https://youtu.be/aaaaaaaaaaa", model="WhisperLargeV3", include_ts=False)
        assert info.value.category is Category.NETWORK and info.value.maybe_created
        assert sim.jobs_created() == 1


# -- results --------------------------------------------------------------------------
async def test_a_structured_job_reads_its_segments_from_the_result_file():
    """deAPI types the inline result as text: the segments are in the result_url file."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        assert "Authorization" not in request.headers
        return httpx.Response(200, json=CT2)

    job = JobStatus(request_id="r", status="done", raw_status="done", result="Hello there.",
                    result_url="https://storage.example/r.json?sig=1", structured=True)
    async with client_for(handler) as api:
        transcript = await api.fetch_result(job)
    assert seen == ["https://storage.example/r.json?sig=1"]
    assert [s.text for s in transcript.segments] == ["Hello", "there."]


async def test_segments_are_fetched_when_needed_even_if_the_job_does_not_say_structured():
    job = JobStatus(request_id="r", status="done", raw_status="done", result="Hello there.",
                    result_url="https://storage.example/r.json")
    async with client_for(answering(200, CT2)) as api:
        assert (await api.fetch_result(job, need_segments=True)).segments
    async with client_for(answering(500)) as api:   # not needed: the inline text, no request
        assert (await api.fetch_result(job)).text == "Hello there."


# -- limits ---------------------------------------------------------------------------
def test_rate_limit_headers_are_read_when_there_and_needed_never():
    info = rate_limit_info({"X-RateLimit-Limit": "1", "X-RateLimit-Remaining": "0", "X-RateLimit-Source": "Endpoint",
                            "X-RateLimit-Daily-Limit": "10", "X-RateLimit-Daily-Remaining": "7"})
    assert (info.limit, info.remaining, info.source, info.daily_limit, info.daily_remaining) == (1, 0, "endpoint", 10, 7)
    assert rate_limit_info({}).empty
    assert rate_limit_info({"X-RateLimit-Limit": "lots", "X-RateLimit-Remaining": "-3"}).empty


async def test_every_answer_reports_its_limits_errors_included():
    seen: list = []
    headers = {"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "49"}
    async with client_for(answering(200, {"data": {"status": "pending"}}, headers=headers),
                          on_limits=lambda e, i: seen.append((e, i.limit, i.remaining))) as api:
        await api.job("r")
    async with client_for(answering(422, {"message": "no"}, headers=headers),
                          on_limits=lambda e, i: seen.append((e, i.limit, i.remaining))) as api:
        with pytest.raises(DeapiError):
            await api.submit("https://youtu.be/x", model="WhisperLargeV3", include_ts=False)
    assert seen == [("status", 50, 49), ("submit", 50, 49)]
