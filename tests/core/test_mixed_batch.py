"""Issue 13's whole batch: a captioned page, an uncaptioned page, a long audio file over the
upload cap and a YouTube video, with --captions first: everything is transcribed, deAPI is paid
only for what had no captions, the long file goes up in chunks with continuous times, and the
report's method column says how each was done."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bulk_transcribe.core.model import VideoState
from bulk_transcribe.core.output.report import write_report
from bulk_transcribe.core.run import captions as run_captions
from bulk_transcribe.core.simulator import SimConfig, SimServer

from .audio import tone
from .engine_harness import make_session, run_engine, yt
from .media_server import html_page, media_server
from .test_upload import CAP, CAP_MB, _srt_times

VTT = b"WEBVTT\n\n00:00:01.250 --> 00:00:03.500\nWelcome to the talk.\n"


@pytest.fixture(autouse=True)
def _quick_pacing(monkeypatch):
    monkeypatch.setattr(run_captions, "GAP", 0.05)


def test_captions_first_with_uploads_pays_only_for_what_had_no_captions(tmp_path):
    files = {
        "/media/v1.mp4": ("video/mp4", b"\0" * 64),
        "/media/talk.mp3": ("audio/mpeg", tone(4.0)),
        "/media/long.mp3": ("audio/mpeg", tone(30.0)),
        "/subs/talk.en.vtt": ("text/vtt", VTT),
        "/pages/captioned.html": ("text/html", html_page("Captioned", ["/media/v1.mp4"],
                                                         captions={"en": "/subs/talk.en.vtt"})),
        "/pages/plain.html": ("text/html", html_page("Plain", ["/media/talk.mp3"])),
    }
    with media_server(files) as m, SimServer(SimConfig(latency=(0.1, 0.3), upload_audio_max_bytes=CAP)) as sim:
        urls = [m.url("/pages/captioned.html"), m.url("/pages/plain.html"), m.url("/media/long.mp3"), yt(1, "mix")]
        session = make_session(tmp_path, urls, sim.base_url, captions="first", upload_max_mb=CAP_MB,
                               formats=("srt", "json"), timestamps=True, model="WhisperLargeV3Ct2", concurrency=4)
        session.videos[3].captions_known = True   # looked up before: no captions
        finished, _ = run_engine(session)
        subs = sim.submissions()
        charged = sim.charged()
    captioned, plain, long, youtube = session.videos
    assert all(v.state is VideoState.DONE for v in session.videos), [(v.url, v.message) for v in session.videos]
    assert [v.method for v in session.videos] == ["captions", "deapi-upload", "deapi-upload", "deapi-url"]
    assert captioned.cost == 0.0 and m.hits["/media/v1.mp4"] == 0, "captions: nothing downloaded, nothing paid"
    assert subs[yt(1, "mix")] == 1 and set(subs.values()) == {1}
    assert len(subs) == 1 + 1 + len(long.chunks) and len(long.chunks) >= 3
    assert finished.cost == pytest.approx(charged)
    starts = [a for a, _ in _srt_times(Path(next(p for p in long.outputs if p.endswith(".srt"))).read_text())]
    assert starts == sorted(starts) and starts[-1] >= long.chunks[-1]["offset"]
    with open(write_report(tmp_path / "r.csv", session), newline="", encoding="utf-8-sig") as f:
        rows = {r["url"]: r for r in csv.DictReader(f)}
    assert [rows[u]["method"] for u in urls] == ["captions", "deapi-upload", "deapi-upload", "deapi-url"]


def test_captions_only_never_uploads(tmp_path):
    with media_server({"/media/talk.mp3": ("audio/mpeg", tone(4.0))}) as m, SimServer(SimConfig(latency=(0.1, 0.3))) as sim:
        session = make_session(tmp_path, [m.url("/media/talk.mp3")], sim.base_url, captions="only",
                               formats=("srt",), timestamps=True, model="WhisperLargeV3Ct2")
        run_engine(session)
        assert sim.jobs_created() == 0
    v = session.videos[0]
    assert v.state is VideoState.FAILED and not v.chunks and v.method != "deapi-upload"
