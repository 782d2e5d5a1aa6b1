"""What a finished job carries, over real loopback HTTP (raw httpx): the inline `result` is the text
(the OpenAPI types it as a string), a structured job's segments are in its `result_url` file; a
failure may keep its charge (`refunded: false`); the ledger counts jobs and money.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import httpx
import pytest

from bulk_transcribe.core.simulator import SimConfig, SimServer, pricing
from bulk_transcribe.core.simulator.config import parse_fault

URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
SUBMIT = "/api/v2/audio/transcriptions"


@pytest.fixture
def sim() -> Iterator[SimServer]:
    with SimServer(SimConfig(latency=(0.05, 0.15))) as server:
        yield server


@pytest.fixture
def api(sim: SimServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, headers={"Authorization": "Bearer key"}) as client:
        yield client


def run_job(api: httpx.Client, **fields: str) -> dict[str, Any]:
    """Submit with `fields` and poll until the job is terminal; its status `data`."""
    answer = api.post(SUBMIT, files={k: (None, v) for k, v in fields.items()})
    assert answer.status_code == 200, answer.text
    rid = answer.json()["data"]["request_id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        data = api.get(f"/api/v2/jobs/{rid}").json()["data"]
        if data["status"] in ("done", "error"):
            return data
        time.sleep(0.02)
    raise AssertionError("the job never finished")


def test_structured_job_inlines_text_and_keeps_segments_in_the_file(api):
    job = run_job(api, source_url=URL, model="WhisperLargeV3Ct2", include_ts="1", ts_level="word",
                  return_result_in_response="1")
    assert job["transcription"]["structured"] is True
    assert isinstance(job["result"], str) and "dQw4w9WgXcQ" in job["result"]
    download = httpx.get(job["result_url"])
    assert download.headers["content-type"].startswith("application/json")
    body = download.json()
    assert set(body) == {"text", "language", "segments"} and body["text"] == job["result"]
    assert len(body["segments"]) >= 3 and "words" in body["segments"][0]


def test_inline_structured_restores_the_object_inline(sim, api):
    sim.set_config(inline_structured=True)
    job = run_job(api, source_url=URL, model="WhisperLargeV3Ct2", include_ts="1",
                  return_result_in_response="1")
    assert isinstance(job["result"], dict) and len(job["result"]["segments"]) >= 3
    assert job["transcription"]["structured"] is True


def test_plain_job_inlines_text_and_is_not_structured(api):
    job = run_job(api, source_url=URL, model="WhisperLargeV3", include_ts="0", return_result_in_response="1")
    assert isinstance(job["result"], str) and job["transcription"]["structured"] is False
    assert httpx.get(job["result_url"]).text == job["result"]


def test_no_inline_result_without_the_flag(api):
    job = run_job(api, source_url=URL, model="WhisperLargeV3Ct2", include_ts="1")
    assert job["result"] is None and job["result_url"]


def test_silent_structured_job_inlines_an_empty_string(sim, api):
    sim.set_config(faults={"quiet": "silent"})
    job = run_job(api, source_url="https://youtu.be/quiet", model="WhisperLargeV3Ct2", include_ts="1",
                  return_result_in_response="1")
    assert job["status"] == "done" and job["result"] == ""
    assert httpx.get(job["result_url"]).json()["segments"] == []


# -- failures that keep the charge, and the ledger ---------------------------------------------
def balance(api: httpx.Client) -> float:
    return api.get("/api/v2/account/balance").json()["data"]["balance"]


def quote(api: httpx.Client, url: str) -> float:
    answer = api.post("/api/v2/audio/transcriptions/price",
                      files={"source_url": (None, url), "model": (None, "WhisperLargeV3"), "include_ts": (None, "0")})
    return answer.json()["data"]["price"]


@pytest.mark.parametrize("spec, retryable", [("failed-charged", False), ("failed-charged:retryable", True)])
def test_failed_charged_keeps_the_charge(sim, api, spec, retryable):
    url = "https://youtu.be/kept"
    sim.set_config(faults={"kept": spec})
    price = quote(api, url)
    job = run_job(api, source_url=url, model="WhisperLargeV3", include_ts="0")
    assert job["status"] == "error" and job["refunded"] is False and job["retryable"] is retryable
    assert job["error_reason"] == "PROCESSING_FAILED" and job["price"]["amount"] == pytest.approx(price)
    assert balance(api) == pytest.approx(100.0 - price)
    assert sim.charged() == pytest.approx(price) and sim.jobs_created() == 1


def test_a_refunded_failure_costs_nothing(sim, api):
    sim.set_config(faults={"private": "private"})
    job = run_job(api, source_url="https://youtu.be/private", model="WhisperLargeV3", include_ts="0")
    assert job["status"] == "error" and job["refunded"] is True and job["price"]["amount"] == 0.0
    assert balance(api) == pytest.approx(100.0) and sim.charged() == 0.0 and sim.jobs_created() == 1


def test_ledger_counts_jobs_per_url_and_in_all_under_concurrency(sim):
    urls = [f"https://youtu.be/video{i % 5}" for i in range(40)]

    def submit(url: str) -> int:
        with httpx.Client(base_url=sim.base_url, headers={"Authorization": "Bearer key"}) as client:
            return client.post(SUBMIT, files={"source_url": (None, url), "model": (None, "WhisperLargeV3"),
                                              "include_ts": (None, "0")}).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        assert set(pool.map(submit, urls)) == {200}
    assert sim.jobs_created() == 40
    assert sim.submissions() == {f"https://youtu.be/video{i}": 8 for i in range(5)}
    expected = sum(quote_free(sim, url) for url in urls)
    assert sim.charged() == pytest.approx(expected)


def quote_free(sim: SimServer, url: str) -> float:
    """The price of one job for `url`, computed as the server does (no request, no rate limit)."""
    return pricing.quote(sim.config, {"include_ts": "0"}, url=url)


def test_failed_charged_fault_spec():
    assert parse_fault("failed-charged").retryable is False
    assert parse_fault("failed-charged:retryable").retryable is True
    with pytest.raises(ValueError):
        parse_fault("failed-charged:maybe")
