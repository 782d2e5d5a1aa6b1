"""What a done job carries, over real loopback HTTP (raw httpx): the inline `result` is the text
(the OpenAPI types it as a string), a structured job's segments are in its `result_url` file.
"""

from __future__ import annotations

import time
from typing import Any, Iterator

import httpx
import pytest

from bulk_transcribe.core.simulator import SimConfig, SimServer

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
