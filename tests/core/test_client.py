"""Unit tests of the deAPI client's boundary: every answer becomes data or a DeapiError.

httpx.MockTransport stands in for the network; the loopback tests against the simulator
live in test_simulator.py.
"""

from __future__ import annotations

import json
from email.utils import formatdate
from typing import Callable

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulk_transcribe.core.deapi.answers import error_for_response
from bulk_transcribe.core.deapi.client import DeapiClient, JobStatus, to_job_error
from bulk_transcribe.core.deapi.payloads import parse_job, parse_result
from bulk_transcribe.core.deapi.retry_after import format_retry_after, parse_retry_after
from bulk_transcribe.core.errors import Category, DeapiError

pytestmark = pytest.mark.anyio
BASE = "https://api.deapi.test"
HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


Handler = Callable[[httpx.Request], httpx.Response]


def client_for(handler: Handler, **kwargs) -> DeapiClient:
    return DeapiClient(BASE, "sk-test", transport=httpx.MockTransport(handler), **kwargs)


def answering(status: int, body: object = None, *, headers: dict[str, str] | None = None,
              text: str | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text, headers=headers)
        return httpx.Response(status, json=body, headers=headers)
    return handler


async def error_of(handler: Handler, call: str = "submit", **kwargs) -> DeapiError:
    async with client_for(handler, **kwargs) as api:
        with pytest.raises(DeapiError) as info:
            if call == "submit":
                await api.submit("https://youtu.be/x", model="WhisperLargeV3", include_ts=False)
            elif call == "job":
                await api.job("rid-1")
            else:
                await getattr(api, call)()
        return info.value


# -- requests as sent ---------------------------------------------------------------------
async def test_submit_sends_multipart_with_auth_and_booleans_as_1_and_0():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": {"request_id": "abc-123"}})

    async with client_for(handler) as api:
        rid = await api.submit("https://youtu.be/x", model="WhisperLargeV3Ct2", include_ts=True,
                               lang="en", ts_level="segment")
    assert rid == "abc-123"
    request = seen[0]
    assert request.method == "POST" and request.url.path == "/api/v2/audio/transcriptions"
    assert request.headers["Authorization"] == "Bearer sk-test"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("bulk-transcribe/0.1")
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    body = request.read().decode()
    for name, value in (("source_url", "https://youtu.be/x"), ("model", "WhisperLargeV3Ct2"),
                        ("include_ts", "1"), ("return_result_in_response", "1"),
                        ("lang", "en"), ("ts_level", "segment")):
        assert f'name="{name}"\r\n\r\n{value}\r\n' in body
    assert "filename=" not in body


async def test_include_ts_false_travels_as_0():
    bodies: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.read().decode())
        return httpx.Response(200, json={"data": {"request_id": "r"}})

    async with client_for(handler) as api:
        await api.submit("https://youtu.be/x", model="WhisperLargeV3", include_ts=False)
    assert 'name="include_ts"\r\n\r\n0\r\n' in bodies[0]
    assert 'name="lang"' not in bodies[0]


# -- status codes -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "status, body, category, retryable",
    [
        (401, {"message": "Unauthenticated."}, Category.AUTH, False),
        (403, {"message": "Account suspended."}, Category.AUTH, False),
        (402, {"message": "Payment Required"}, Category.BALANCE, False),
        (422, {"message": "Insufficient balance.", "errors": {"balance": ["too low"]}}, Category.BALANCE, False),
        (400, {"message": "Bad request"}, Category.VALIDATION, False),
        (413, None, Category.VALIDATION, False),
        (422, {"message": "The model field is required.", "errors": {"model": ["required"]}},
         Category.VALIDATION, False),
        (500, {"message": "Server Error"}, Category.SERVER, True),
        (504, None, Category.SERVER, True),
        (408, None, Category.NETWORK, True),
        (405, {"message": "Method not allowed"}, Category.VALIDATION, False),
    ],
)
async def test_status_codes_map_to_categories(status, body, category, retryable):
    err = await error_of(answering(status, body))
    assert err.category is category
    assert err.status == status
    assert err.retryable is retryable


async def test_validation_message_carries_field_errors():
    body = {"message": "The source url format is invalid. (and 1 more error)",
            "errors": {"source_url": ["The source url format is invalid."], "ts_level": ["bad", "worse"]}}
    err = await error_of(answering(422, body))
    assert err.category is Category.VALIDATION
    assert err.message.startswith("The source url format is invalid. (and 1 more error)")
    assert "source_url: The source url format is invalid." in err.message
    assert "ts_level: bad; worse" in err.message


async def test_html_gateway_page_gives_status_line_not_html():
    err = await error_of(answering(502, text=HTML_502, headers={"Content-Type": "text/html"}))
    assert err.category is Category.SERVER and err.retryable
    assert err.message == "502 Bad Gateway"
    assert "<" not in str(err)


async def test_503_with_retry_after_keeps_it():
    err = await error_of(answering(503, text="<html>down</html>", headers={"Retry-After": "7"}))
    assert err.category is Category.SERVER and err.retry_after == 7.0
    assert err.message == "503 Service Unavailable"


async def test_404_on_a_job_is_not_found():
    body = {"message": "No query results for the requested resource."}
    err = await error_of(answering(404, body), call="job")
    assert err.category is Category.NOT_FOUND and err.request_id == "rid-1" and not err.retryable


async def test_404_elsewhere_is_a_wrong_route_not_a_missing_job():
    err = await error_of(answering(404, {"message": "Not found"}), call="balance")
    assert err.category is Category.SERVER and not err.retryable


@pytest.mark.parametrize(
    "headers, retry_after, kind",
    [
        ({"Retry-After": "60", "X-RateLimit-Type": "minute"}, 60.0, "minute"),
        ({"Retry-After": "3600", "X-RateLimit-Type": "Daily"}, 3600.0, "daily"),
        ({"Retry-After": "soon"}, None, None),
        ({}, None, None),
        ({"X-RateLimit-Daily-Remaining": "0"}, None, "daily"),
    ],
)
async def test_429_reads_retry_after_and_limit_type(headers, retry_after, kind):
    err = await error_of(answering(429, {"message": "Too Many Attempts."}, headers=headers))
    assert err.category is Category.RATE_LIMITED and err.retryable and err.status == 429
    assert err.retry_after == retry_after
    assert err.rate_limit_type == kind
    assert err.message == "Too Many Attempts."


async def test_429_with_http_date():
    import time

    date = formatdate(time.time() + 30, usegmt=True)
    err = await error_of(answering(429, {"message": "Too Many Attempts."}, headers={"Retry-After": date}))
    assert err.retry_after is not None and 25 <= err.retry_after <= 31


# -- transport failures and unreadable bodies ------------------------------------------------
@pytest.mark.parametrize("exc", [httpx.ConnectTimeout("t"), httpx.ReadTimeout("t"), httpx.PoolTimeout("t"),
                                 httpx.ConnectError("refused"), httpx.RemoteProtocolError("eof"),
                                 httpx.ReadError("reset")])
async def test_transport_errors_are_network_and_retryable(exc):
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    err = await error_of(handler)
    assert err.category is Category.NETWORK and err.retryable and err.status is None


@pytest.mark.parametrize("text", ["<html>ok?</html>", "", "[1, 2]", '{"data": {"nothing": 1}}', "{not json"])
async def test_200_without_the_expected_json_is_server_retryable(text):
    err = await error_of(answering(200, text=text))
    assert err.category is Category.SERVER and err.retryable


async def test_job_without_status_is_server_retryable():
    err = await error_of(answering(200, {"data": {"progress": 3}}), call="job")
    assert err.category is Category.SERVER and err.retryable


@settings(max_examples=200, deadline=None)
@given(status=st.integers(300, 599), body=st.binary(max_size=200),
       retry_after=st.one_of(st.none(), st.text(max_size=40)))
def test_any_error_response_becomes_a_deapi_error(status, body, retry_after):
    headers = {} if retry_after is None else {"Retry-After": retry_after.encode("ascii", "ignore").decode()}
    response = httpx.Response(status, content=body, headers=headers,
                              request=httpx.Request("GET", f"{BASE}/api/v2/jobs/x"))
    err = error_for_response(response, job_id="x")
    assert isinstance(err, DeapiError) and isinstance(err.category, Category)
    assert err.retry_after is None or err.retry_after >= 0


# -- job status ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw, normal",
    [("pending", "pending"), ("queued", "pending"), ("in_queue", "pending"), ("waiting", "pending"),
     ("processing", "processing"), ("running", "processing"), ("warming-up", "processing"),
     ("done", "done"), ("completed", "done"), ("COMPLETED", "done"), ("error", "error"), ("failed", "error")],
)
def test_status_spellings_are_normalised(raw, normal):
    job = parse_job("r", {"data": {"status": raw}})
    assert job.status == normal and job.raw_status == raw
    assert job.terminal is (normal in ("done", "error"))


def test_failed_job_fields_and_job_error():
    job = parse_job("r", {"data": {
        "status": "error", "error_code": "PROCESSING_ERROR", "error_message": "age-restricted",
        "error_reason": "SOURCE_RESTRICTED", "retryable": False, "refunded": True,
        "failed_at": "2025-01-01T00:00:00Z", "price": {"amount": 0, "is_estimated": False}}})
    assert (job.status, job.error_reason, job.retryable, job.refunded, job.price) == (
        "error", "SOURCE_RESTRICTED", False, True, 0.0)
    err = to_job_error(job)
    assert err.category is Category.JOB_FAILED and not err.retryable
    assert err.error_reason == "SOURCE_RESTRICTED" and err.request_id == "r"
    assert "age-restricted" in err.message and "SOURCE_RESTRICTED" in err.message


def test_retryable_comes_from_the_field_even_as_a_string():
    job = parse_job("r", {"data": {"status": "failed", "error_reason": "SOURCE_DOWNLOAD_FAILED",
                                   "retryable": "true"}})
    assert job.retryable and to_job_error(job).retryable
    missing = parse_job("r", {"data": {"status": "failed", "error_reason": "CAPACITY_UNAVAILABLE"}})
    assert missing.retryable  # no field: inferred from a transient reason
    private = parse_job("r", {"data": {"status": "failed", "error_reason": "SOURCE_PRIVATE"}})
    assert not private.retryable


def test_done_job_fields():
    job = parse_job("r", {"data": {"status": "done", "progress": "100", "result_url": "https://s/x",
                                   "price": 0.0123, "transcription": {"language": "de", "structured": True}}})
    assert job.progress == 100.0 and job.result_url == "https://s/x" and job.price == 0.0123
    assert job.structured and job.language == "de" and not job.retryable


async def test_job_reads_v2_route():
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json={"data": {"status": "processing", "progress": 42.5}})

    async with client_for(handler) as api:
        job = await api.job("abc")
    assert seen == ["/api/v2/jobs/abc"] and job.progress == 42.5 and job.request_id == "abc"


# -- results -------------------------------------------------------------------------------------
CT2 = {"text": "Hello there.", "language": "en", "segments": [
    {"start": 0.0, "end": 1.5, "text": " Hello", "speaker": "SPEAKER_00",
     "words": [{"word": "Hello", "start": 0.0, "end": 0.5, "score": 0.9}]},
    {"start": 1.5, "end": 2.0, "text": "there.", "speaker": None},
    {"start": "bad", "end": 1, "text": "skipped"},
]}


def done(**fields) -> JobStatus:
    return JobStatus(request_id="r", status="done", raw_status="done", **fields)


@pytest.mark.parametrize("inline", [CT2, json.dumps(CT2)])
async def test_inline_structured_result(inline):
    async with client_for(answering(500)) as api:  # no request may be made
        transcript = await api.fetch_result(done(result=inline))
    assert transcript.text == "Hello there." and transcript.language == "en"
    assert [(s.start, s.end, s.text, s.speaker) for s in transcript.segments] == [
        (0.0, 1.5, "Hello", "SPEAKER_00"), (1.5, 2.0, "there.", "")]


async def test_inline_plain_text():
    async with client_for(answering(500)) as api:
        transcript = await api.fetch_result(done(result="  just words \n", language="fr"))
    assert transcript.text == "just words" and transcript.segments == () and transcript.language == "fr"


async def test_empty_inline_result_downloads_the_link_without_auth():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=CT2)

    async with client_for(handler) as api:
        transcript = await api.fetch_result(done(result="", result_url="https://storage.test/r.json?sig=1"))
    assert len(transcript.segments) == 2
    assert str(seen[0].url) == "https://storage.test/r.json?sig=1"
    assert "Authorization" not in seen[0].headers
    assert seen[0].headers["User-Agent"].startswith("bulk-transcribe/")


async def test_downloaded_plain_text():
    async with client_for(answering(200, text="plain words", headers={"Content-Type": "text/plain"})) as api:
        transcript = await api.fetch_result(done(result_url="https://storage.test/r.txt"))
    assert transcript.text == "plain words"


@pytest.mark.parametrize("status", [403, 404])
async def test_expired_link_is_result_expired_and_retryable(status):
    xml = "<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
    handler = answering(status, text=xml, headers={"Content-Type": "application/xml"})
    async with client_for(handler) as api:
        with pytest.raises(DeapiError) as info:
            await api.fetch_result(done(result_url="https://storage.test/r.txt"))
    assert info.value.category is Category.RESULT_EXPIRED and info.value.retryable
    assert info.value.request_id == "r" and "<" not in info.value.message


async def test_storage_outage_is_server_retryable():
    async with client_for(answering(503, text=HTML_502)) as api:
        with pytest.raises(DeapiError) as info:
            await api.fetch_result(done(result_url="https://storage.test/r.txt"))
    assert info.value.category is Category.SERVER and info.value.retryable


async def test_done_without_any_result_is_server_retryable():
    async with client_for(answering(500)) as api:
        with pytest.raises(DeapiError) as info:
            await api.fetch_result(done())
        assert info.value.category is Category.SERVER and info.value.retryable
        silent = await api.fetch_result(done(result=""))
    assert silent.text == ""


def test_parse_result_shapes():
    assert parse_result({"data": {"result": "nested"}}).text == "nested"
    assert parse_result([{"start": 0, "end": 1, "text": "a"}]).text == "a"
    assert parse_result({"segments": [{"start": 0, "end": 1, "text": "only segs"}]}).text == "only segs"
    assert parse_result("{broken json").text == "{broken json"
    assert parse_result(None).text == ""


# -- balance, models, price ----------------------------------------------------------------------
@pytest.mark.parametrize("body", [{"data": {"balance": 12.5}}, {"data": {"balance": "12.5"}},
                                  {"balance": 12.5}, {"data": 12.5}, {"data": {"amount": 12.5}}])
async def test_balance_shapes(body):
    async with client_for(answering(200, body)) as api:
        assert await api.balance() == 12.5


async def test_models_follow_laravel_pagination():
    pages = {1: ["WhisperLargeV3", "Flux"], 2: [{"slug": "WhisperLargeV3Ct2"}, {"name": "Kokoro"}], 3: ["Last"]}
    seen: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        seen.append(params)
        page = int(params["page"])
        return httpx.Response(200, json={"data": pages[page], "meta": {"current_page": page, "last_page": 3}})

    async with client_for(handler) as api:
        names = await api.models()
    assert names == ["WhisperLargeV3", "Flux", "WhisperLargeV3Ct2", "Kokoro", "Last"]
    assert all(p["limit"] == "50" for p in seen) and len(seen) == 3


async def test_models_nested_paginator_and_next_links():
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        nxt = "https://api/x?page=2" if page == 1 else None
        return httpx.Response(200, json={"data": {"data": [f"m{page}"], "next_page_url": nxt}})

    async with client_for(handler) as api:
        assert await api.models() == ["m1", "m2"]


@pytest.mark.parametrize("body", [{"data": {"price": 0.0123}}, {"data": {"price": "0.0123"}},
                                  {"data": {"price": {"amount": 0.0123}}}])
async def test_price_shapes_and_request(body):
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path + " " + request.read().decode())
        return httpx.Response(200, json=body)

    async with client_for(handler) as api:
        price = await api.price(model="WhisperLargeV3", include_ts=False, duration_seconds=900, platform="youtube")
    assert price == 0.0123
    assert seen[0].startswith("/api/v2/audio/transcriptions/price")
    assert 'name="duration_seconds"\r\n\r\n900\r\n' in seen[0] and 'name="platform"' in seen[0]


async def test_price_sends_the_options_a_submit_sends():
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.read().decode())
        return httpx.Response(200, json={"data": {"price": 0.01}})

    async with client_for(handler) as api:
        await api.price(model="WhisperLargeV3Ct2", include_ts=True, duration_seconds=60, platform="tiktok",
                        lang="en", ts_level="segment")
        await api.price(model="WhisperLargeV3", include_ts=False, duration_seconds=60)
    assert 'name="ts_level"\r\n\r\nsegment\r\n' in seen[0] and 'name="lang"\r\n\r\nen\r\n' in seen[0]
    assert 'name="include_ts"\r\n\r\n1\r\n' in seen[0]
    assert "ts_level" not in seen[1] and "lang" not in seen[1] and "platform" not in seen[1]


async def test_price_needs_a_url_or_a_duration():
    async with client_for(answering(500)) as api:
        with pytest.raises(DeapiError) as info:
            await api.price(model="WhisperLargeV3", include_ts=False)
    assert info.value.category is Category.VALIDATION


# -- Retry-After ------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, expected", [
    ("120", 120.0), (" 5 ", 5.0), ("1.5", 1.5), ("0", 0.0), ("-3", None), ("nan", None), ("inf", None),
    ("", None), (None, None), ("soon", None), ("Wed, 99 Foo 2015 07:28:00 GMT", None),
])
def test_parse_retry_after_values(value, expected):
    assert parse_retry_after(value) == expected


def test_parse_retry_after_dates_are_relative_to_now():
    now = 1_700_000_000.0
    assert parse_retry_after(formatdate(now + 90, usegmt=True), now=now) == 90.0
    assert parse_retry_after(formatdate(now - 90, usegmt=True), now=now) == 0.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:20 GMT", now=now) == 0.0
    assert parse_retry_after(format_retry_after(10.2, as_date=True, now=now), now=now) == 11.0
    assert format_retry_after(10.2) == "11"
