"""The simulated deAPI takes `source_file` uploads as deAPI documents them: multipart, audio up to
20 MB and video up to 50 MB (configurable: the caps have changed), 413 over the cap (or 422 naming
the field, as deAPI was measured to answer), and every upload is a billed job in the ledger."""

from __future__ import annotations

import httpx
import pytest

from bulk_transcribe.core.simulator import SimConfig, SimServer

from .audio import seconds_of, tone
from .engine_harness import KEY

FORM = {"model": "WhisperLargeV3Ct2", "include_ts": "1", "ts_level": "segment"}


def _upload(base: str, name: str, data: bytes, ctype: str = "audio/mpeg") -> httpx.Response:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}", "Accept": "application/json"}) as c:
        return c.post("/api/v2/audio/transcriptions", data=FORM, files={"source_file": (name, data, ctype)})


def _result(base: str, request_id: str) -> dict:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}) as c:
        job = c.get(f"/api/v2/jobs/{request_id}").json()["data"]
        assert job["status"] == "done", job
        return c.get(job["result_url"]).json() | {"price": job["price"]["amount"]}


def test_an_upload_is_a_billed_job_priced_by_its_measured_length():
    audio = tone(12.0)
    with SimServer(SimConfig(latency=(0.0, 0.0))) as sim:
        answer = _upload(sim.base_url, "talk.mp3", audio)
        assert answer.status_code == 200, answer.text
        result = _result(sim.base_url, answer.json()["data"]["request_id"])
        assert sim.jobs_created() == 1
        (source,) = sim.submissions()
        assert source.startswith("upload://talk.mp3#")
        assert sim.charged() == pytest.approx(0.005 + seconds_of(audio) * 0.046875 / 3600, rel=1e-3)
    assert result["segments"] and result["segments"][-1]["end"] <= seconds_of(audio) + 0.01, \
        "the segments fit inside the uploaded audio"
    assert "talk.mp3" in result["text"]


def test_the_same_bytes_twice_are_two_jobs_of_one_source():
    audio = tone(3.0)
    with SimServer(SimConfig(latency=(0.0, 0.0))) as sim:
        for _ in range(2):
            assert _upload(sim.base_url, "a.mp3", audio).status_code == 200
        assert _upload(sim.base_url, "a.mp3", tone(4.0)).status_code == 200
        counts = sorted(sim.submissions().values())
    assert counts == [1, 2], "the ledger tells one file's second upload from another file"


@pytest.mark.parametrize("status", [413, 422])
def test_over_the_audio_cap_is_refused_and_not_billed(status):
    audio = tone(6.0)
    cap = len(audio) - 1
    with SimServer(SimConfig(upload_audio_max_bytes=cap, upload_over_cap_status=status)) as sim:
        answer = _upload(sim.base_url, "long.mp3", audio)
        assert answer.status_code == status
        body = answer.json()
        assert "kilobytes" in body["message"]
        if status == 422:
            assert "source_file" in body["errors"]
        assert _upload(sim.base_url, "long.mp4", audio, "video/mp4").status_code == 200, \
            "a video has its own, larger cap"
        assert sim.jobs_created() == 1


def test_a_type_deapi_does_not_list_is_a_422():
    with SimServer() as sim:
        answer = _upload(sim.base_url, "notes.pdf", b"%PDF-1.4", "application/pdf")
        assert answer.status_code == 422 and "source_file" in answer.json()["errors"]
        assert sim.jobs_created() == 0


def test_caps_change_while_serving():
    audio = tone(3.0)
    with SimServer(SimConfig(latency=(0.0, 0.0))) as sim:
        assert _upload(sim.base_url, "a.mp3", audio).status_code == 200
        sim.set_config(upload_audio_max_bytes=1000)
        assert _upload(sim.base_url, "a.mp3", audio).status_code == 413
