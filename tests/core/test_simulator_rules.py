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


# -- the price route -------------------------------------------------------------------------
def quote(api: httpx.Client, **fields: str) -> httpx.Response:
    fields.setdefault("include_ts", "0")
    fields.setdefault("model", "WhisperLargeV3")
    return api.post(PRICE, files=form(**fields))


def test_price_has_a_per_job_part(api):
    five_minutes = quote(api, duration_seconds="300", platform="youtube")
    assert five_minutes.status_code == 200
    assert five_minutes.json()["data"]["price"] == pytest.approx(0.0089, abs=0.00001)   # deAPI's example
    ten = quote(api, duration_seconds="600", model="WhisperLargeV3Ct2", include_ts="1")
    assert ten.json()["data"]["price"] == pytest.approx(0.0128125)                      # measured
    assert quote(api, duration_seconds="0").json()["data"]["price"] == pytest.approx(0.005)


def test_price_knobs_and_the_old_flat_rate(sim, api):
    sim.set_config(price_per_job=0.01, price_per_second=0.001)
    assert quote(api, duration_seconds="10").json()["data"]["price"] == pytest.approx(0.02)
    sim.set_config(price_per_hour=0.05)   # the flat rate, no per-job part
    assert quote(api, duration_seconds="3600").json()["data"]["price"] == pytest.approx(0.05)
    with pytest.raises(ValueError):
        sim.set_config(price_per_job=-1.0)


def test_word_timestamps_diarize_and_metadata_cost_more(api):
    base = quote(api, duration_seconds="600", model="WhisperLargeV3Ct2", include_ts="1").json()["data"]["price"]
    word = quote(api, duration_seconds="600", model="WhisperLargeV3Ct2", include_ts="1", ts_level="word")
    assert word.json()["data"]["price"] == pytest.approx(base * 1.5)
    diarized = quote(api, duration_seconds="600", model="WhisperLargeV3Ct2", include_ts="1", diarize="1")
    assert diarized.json()["data"]["price"] == pytest.approx(base * 1.5)
    meta = quote(api, duration_seconds="600", model="WhisperLargeV3Ct2", include_ts="1", platform="youtube",
                 include_metadata="1")
    assert meta.json()["data"]["price"] == pytest.approx(base + 0.005)


def test_tiktok_is_priced_by_length_band(api):
    def tiktok(seconds: str) -> float:
        answer = quote(api, duration_seconds=seconds, platform="tiktok", model="WhisperLargeV3Ct2")
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]["price"]

    assert tiktok("60") == pytest.approx(0.015) and tiktok("60.2") == pytest.approx(0.0225)
    assert tiktok("300") == pytest.approx(0.045) and tiktok("5000") == pytest.approx(0.105)


@pytest.mark.parametrize("platform", ["x", "other", "YouTube", "spaces"])
def test_price_platform_must_be_one_of_the_documented(api, platform):
    answer = quote(api, duration_seconds="300", platform=platform)
    assert answer.status_code == 422 and answer.json()["errors"]["platform"] == ["The selected platform is invalid."]


def test_price_platforms_can_be_narrowed():
    with SimServer(SimConfig(price_platforms=("youtube",))) as sim, \
            httpx.Client(base_url=sim.base_url, headers={"Authorization": "Bearer key"}) as api:
        assert quote(api, duration_seconds="300", platform="youtube").status_code == 200
        refused = quote(api, duration_seconds="300", platform="twitter")
        assert refused.status_code == 422 and refused.json()["errors"]["platform"] == ["The selected platform is invalid."]


def test_tiktok_price_only_with_ct2(api):
    answer = quote(api, duration_seconds="300", platform="tiktok")
    assert answer.status_code == 422 and "WhisperLargeV3Ct2" in answer.json()["errors"]["platform"][0]
    by_url = quote(api, source_url="https://www.tiktok.com/@a/video/1")
    assert by_url.status_code == 422 and "WhisperLargeV3Ct2" in by_url.json()["errors"]["model"][0]
    assert quote(api, source_url="https://www.tiktok.com/@a/video/1", model="WhisperLargeV3Ct2").status_code == 200


def test_price_sources_are_exclusive_and_platform_needs_a_duration(api):
    both = quote(api, source_url=URL, duration_seconds="300")
    assert both.status_code == 422 and "duration_seconds" in both.json()["errors"]
    with_url = quote(api, source_url=URL, platform="youtube")
    assert with_url.status_code == 422 and "platform" in with_url.json()["errors"]
    nothing = quote(api)
    assert nothing.status_code == 422 and "source_url" in nothing.json()["errors"]
    assert quote(api, duration_seconds="-1").status_code == 422
    assert quote(api, duration_seconds="nan").status_code == 422


def test_price_validates_like_a_submit(api):
    no_ts = api.post(PRICE, files=form(duration_seconds="300", model="WhisperLargeV3"))
    assert no_ts.json()["errors"]["include_ts"] == ["The include ts field is required."]
    assert "include_ts" in quote(api, duration_seconds="300", include_ts="false").json()["errors"]
    assert "ts_level" in quote(api, duration_seconds="300", ts_level="word").json()["errors"]
    assert "diarize" in quote(api, duration_seconds="300", diarize="1").json()["errors"]
    assert "model" in quote(api, duration_seconds="300", model="Kokoro").json()["errors"]


def test_the_charge_at_submit_is_the_quote(sim, api):
    url = "https://www.youtube.com/watch?v=abcdefghijk"
    fields = dict(source_url=url, model="WhisperLargeV3Ct2", include_ts="1", ts_level="word", include_metadata="1")
    price = quote(api, **fields).json()["data"]["price"]
    assert api.post(SUBMIT, files=form(**fields)).status_code == 200
    assert api.get("/api/v2/account/balance").json()["data"]["balance"] == pytest.approx(100.0 - price)
    assert sim.charged() == pytest.approx(price) and sim.jobs_created() == 1


def test_submit_tiktok_only_with_ct2(sim, api):
    tiktok = "https://www.tiktok.com/@a/video/1"
    refused = api.post(SUBMIT, files=form(source_url=tiktok, model="WhisperLargeV3", include_ts="0"))
    assert refused.status_code == 422 and "WhisperLargeV3Ct2" in refused.json()["errors"]["model"][0]
    assert api.post(SUBMIT, files=form(source_url=tiktok, model="WhisperLargeV3Ct2", include_ts="0")).status_code == 200
    assert sim.submissions() == {tiktok: 1}


def test_submit_diarize_only_with_ct2(api):
    answer = api.post(SUBMIT, files=form(source_url=URL, model="WhisperLargeV3", include_ts="1", diarize="1"))
    assert answer.status_code == 422 and "diarize" in answer.json()["errors"]
