"""The simulated deAPI's validation as deAPI's docs state it, over real loopback HTTP (raw httpx).

Booleans follow Laravel's `boolean` rule; the price route checks its platform and model pairing.
"""

from __future__ import annotations

from typing import Iterator

import httpx
import pytest

from bulk_transcribe.core.simulator import SimConfig, SimServer

URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
SUBMIT = "/api/v2/audio/transcriptions"
PRICE = "/api/v2/audio/transcriptions/price"


@pytest.fixture
def sim() -> Iterator[SimServer]:
    with SimServer(SimConfig(latency=(0.05, 0.15))) as server:
        yield server


@pytest.fixture
def api(sim: SimServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, headers={"Authorization": "Bearer key",
                                                      "Accept": "application/json"}) as client:
        yield client


def form(**fields: str) -> dict[str, tuple[None, str]]:
    """A multipart body of plain fields, as the client and the official SDK send it."""
    return {name: (None, value) for name, value in fields.items()}


# -- booleans --------------------------------------------------------------------------------
def test_multipart_one_and_zero_are_accepted(sim, api):
    answer = api.post(SUBMIT, files=form(source_url=URL, model="WhisperLargeV3", include_ts="0",
                                         return_result_in_response="1"))
    assert answer.status_code == 200 and answer.json()["data"]["request_id"]
    assert sim.submissions() == {URL: 1}


@pytest.mark.parametrize("field", ["include_ts", "return_result_in_response", "diarize", "include_metadata"])
@pytest.mark.parametrize("spelling", ["true", "false", "True", "yes"])
def test_strict_booleans_refuse_the_strings_true_and_false(sim, api, field, spelling):
    fields = {"source_url": URL, "model": "WhisperLargeV3", "include_ts": "0", field: spelling}
    answer = api.post(SUBMIT, files=form(**fields))
    assert answer.status_code == 422
    label = field.replace("_", " ")
    assert answer.json()["errors"][field] == [f"The {label} field must be true or false."]
    assert sim.submissions() == {}   # refused before any job exists


def test_form_urlencoded_true_is_refused_too(sim, api):
    answer = api.post(SUBMIT, data={"source_url": URL, "model": "WhisperLargeV3", "include_ts": "true"})
    assert answer.status_code == 422 and "include_ts" in answer.json()["errors"]


def test_json_booleans_are_accepted_but_json_strings_are_not(sim, api):
    ok = api.post(SUBMIT, json={"source_url": URL, "model": "WhisperLargeV3", "include_ts": False,
                                "return_result_in_response": True})
    assert ok.status_code == 200
    refused = api.post(SUBMIT, json={"source_url": URL, "model": "WhisperLargeV3", "include_ts": "false"})
    assert refused.status_code == 422 and "include_ts" in refused.json()["errors"]
    assert sim.submissions() == {URL: 1}


def test_lenient_booleans_restore_true_and_false(sim, api):
    sim.set_config(strict_booleans=False)
    answer = api.post(SUBMIT, files=form(source_url=URL, model="WhisperLargeV3", include_ts="false",
                                         return_result_in_response="true"))
    assert answer.status_code == 200
    # Anything else is still no boolean at all.
    odd = api.post(SUBMIT, files=form(source_url=URL, model="WhisperLargeV3", include_ts="yes"))
    assert odd.status_code == 422 and "include_ts" in odd.json()["errors"]


def test_empty_optional_boolean_is_null_but_include_ts_is_required(sim, api):
    assert api.post(SUBMIT, files=form(source_url=URL, model="WhisperLargeV3", include_ts="1",
                                       diarize="")).status_code == 200
    answer = api.post(SUBMIT, files=form(source_url=URL, model="WhisperLargeV3", include_ts=""))
    assert answer.json()["errors"]["include_ts"] == ["The include ts field is required."]
