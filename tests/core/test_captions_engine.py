"""--captions first|only through the real engine: yt-dlp reads a loopback page's <track> captions,
the simulated deAPI's ledger proves what was (not) paid."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from bulk_transcribe.core.model import VideoState
from bulk_transcribe.core.output.report import write_report
from bulk_transcribe.core.run import captions as run_captions
from bulk_transcribe.core.simulator import SimConfig, SimServer

from .engine_harness import make_session, run_engine, yt
from .media_server import html_page, media_server

VTT = b"WEBVTT\n\n00:00:01.250 --> 00:00:03.500\nWelcome to the talk.\n\n00:00:03.500 --> 00:00:06.000\nToday: captions.\n"
SRT_TIMES = "00:00:01,250 --> 00:00:03,500"


def _files() -> dict:
    return {
        "/media/v1.mp4": ("video/mp4", b"\0" * 64),
        "/subs/talk.en.vtt": ("text/vtt", VTT),
        "/subs/busy.en.vtt": ("text/vtt", VTT),
        "/pages/captioned.html": ("text/html", html_page("Captioned talk", ["/media/v1.mp4"],
                                                         captions={"en": "/subs/talk.en.vtt"})),
        "/pages/plain.html": ("text/html", html_page("Plain talk", ["/media/v1.mp4"])),
    }


@pytest.fixture(autouse=True)
def _quick_pacing(monkeypatch):
    monkeypatch.setattr(run_captions, "GAP", 0.05)


def _batch(tmp_path, m, sim, mode: str):
    """A captioned page and an uncaptioned one (yt-dlp looks both up during the run), a YouTube
    video known to have no captions, one whose caption site keeps failing (500), and one whose
    caption site answers 429 once."""
    urls = [m.url("/pages/captioned.html"), m.url("/pages/plain.html"), yt(1), yt(2), yt(3)]
    session = make_session(tmp_path, urls, sim.base_url, captions=mode, formats=("srt", "json", "md"),
                           timestamps=True, model="WhisperLargeV3Ct2", concurrency=3)
    by_url = {v.url: v for v in session.videos}
    by_url[yt(1)].captions_known = True    # looked up before: none
    by_url[yt(2)].captions_known, by_url[yt(2)].captions = True, [f"sub:en:vtt:{m.url('/subs/gone.en.vtt')}"]
    by_url[yt(3)].captions_known, by_url[yt(3)].captions = True, [f"sub:en:vtt:{m.url('/subs/busy.en.vtt')}"]
    m.refuse["/subs/busy.en.vtt"] = [429]
    m.refuse["/subs/gone.en.vtt"] = [500] * run_captions.TRIES
    return session, urls


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return {r["url"]: r for r in csv.DictReader(f)}


def test_first_takes_captions_and_pays_deapi_once_for_the_rest(tmp_path):
    with media_server(_files()) as m, SimServer(SimConfig(latency=(0.1, 0.3), pending_share=0.0)) as sim:
        session, urls = _batch(tmp_path, m, sim, "first")
        finished, events = run_engine(session)
        subs, jobs = sim.submissions(), sim.jobs_created()
        assert m.hits["/subs/busy.en.vtt"] == 2, "the 429 was waited out, then the file fetched"
    captioned, plain, none, gone, busy = (next(v for v in session.videos if v.url == u) for u in urls)
    # Paid exactly once each: the two videos without usable captions; the captioned ones never.
    assert subs == {yt(1): 1, yt(2): 1} and jobs == 2
    assert (captioned.state, captioned.method, captioned.cost) == (VideoState.DONE, "captions", 0.0)
    assert (busy.state, busy.method) == (VideoState.DONE, "captions")
    assert (none.method, gone.method) == ("deapi-url", "deapi-url") and none.state is gone.state is VideoState.DONE
    # No captions and no deAPI fetch for a loopback page: it fails unpaid (an upload is another path).
    assert plain.state is VideoState.FAILED and plain.category == "input" and not plain.attempts
    assert finished.cost == pytest.approx(none.cost + gone.cost) and none.cost > 0
    assert dict(finished.methods) == {"captions": 2, "deapi-url": 2}

    srt = Path(next(p for p in captioned.outputs if p.endswith(".srt"))).read_text(encoding="utf-8")
    assert SRT_TIMES in srt and "Welcome to the talk." in srt
    doc = json.loads(Path(next(p for p in captioned.outputs if p.endswith(".json"))).read_text(encoding="utf-8"))
    assert doc["method"] == "captions" and doc["language"] == "en"
    assert doc["segments"][0] == {"start": 1.25, "end": 3.5, "text": "Welcome to the talk."}
    assert doc["result"]["source"] == "captions uploaded with the video"
    md = Path(next(p for p in captioned.outputs if p.endswith(".md"))).read_text(encoding="utf-8")
    assert 'method: "captions"' in md.split("---")[1]

    rows = _rows(write_report(tmp_path / "report.csv", session))
    assert [rows[u]["method"] for u in urls] == ["captions", "", "deapi-url", "deapi-url", "captions"]
    assert any(getattr(e, "category", "") == "captions" and "deAPI transcribes it instead" in e.message
               for e in events), "the failed caption fetch is said, with what happens instead"


def test_only_never_pays_and_says_why(tmp_path):
    with media_server(_files()) as m, SimServer(SimConfig(latency=(0.1, 0.3), pending_share=0.0)) as sim:
        session, urls = _batch(tmp_path, m, sim, "only")
        finished, _events = run_engine(session)
        jobs, charged = sim.jobs_created(), sim.charged()
    assert jobs == 0 and charged == 0 and finished.cost == 0
    captioned, plain, none, gone, busy = (next(v for v in session.videos if v.url == u) for u in urls)
    assert captioned.state is busy.state is VideoState.DONE
    for v in (plain, none):
        assert v.state is VideoState.FAILED and v.category == "no-captions" and not v.retryable
        assert "nothing was paid" in v.message and "--captions first" in v.message
    assert gone.state is VideoState.FAILED and gone.category == "captions" and gone.retryable
    assert "500" in gone.message
    assert not any(v.attempts for v in session.videos)


def test_a_resume_retries_captions_and_refetches_lost_files_without_paying(tmp_path):
    """Under `only`, a retryable caption failure is tried again on the resume (never submitted);
    a video done from captions whose files were deleted gets them again from its captions, even
    with --captions off, since that is free."""
    from bulk_transcribe.core.store.session import Session

    with media_server(_files()) as m, SimServer(SimConfig(latency=(0.1, 0.3), pending_share=0.0)) as sim:
        session, urls = _batch(tmp_path, m, sim, "only")
        run_engine(session)
        session.close()
        m.files["/subs/gone.en.vtt"] = ("text/vtt", VTT)   # the site answers again
        captioned = next(v for v in session.videos if v.url == urls[0])
        for p in captioned.outputs:
            Path(p).unlink()
        hits = m.hits["/subs/talk.en.vtt"]

        again = Session.open(tmp_path / "session.toml")
        run_engine(again)
        by_url = {v.url: v for v in again.videos}
        assert by_url[yt(2)].state is VideoState.DONE and by_url[yt(2)].method == "captions"
        again.close()

        off = Session.open(tmp_path / "session.toml")
        off.settings = off.settings.with_(captions="off")
        for p in next(v for v in off.videos if v.url == urls[0]).outputs:
            Path(p).unlink()
        run_engine(off)
        jobs = sim.jobs_created()
        fetched = m.hits["/subs/talk.en.vtt"] - hits
    assert jobs == 0, "neither the retry nor the lost files cost a job"
    v = next(v for v in off.videos if v.url == urls[0])
    assert v.state is VideoState.DONE and v.method == "captions" and all(Path(p).stat().st_size for p in v.outputs)
    assert fetched == 2, "the lost files came from the captions again, once per run"


def test_an_expired_caption_link_is_looked_up_again_once(tmp_path):
    """Caption links from an earlier lookup expire (YouTube's within hours): a 404 on a stored link
    means one fresh lookup and the new link, not a paid job."""
    files = _files()
    files["/pages/moved.html"] = ("text/html", html_page("Moved", ["/media/v1.mp4"], captions={"en": "/subs/talk.en.vtt"}))
    with media_server(files) as m, SimServer(SimConfig(latency=(0.1, 0.3), pending_share=0.0)) as sim:
        session = make_session(tmp_path, [m.url("/pages/moved.html")], sim.base_url, captions="first")
        v = session.videos[0]
        v.captions_known, v.captions = True, [f"sub:en:vtt:{m.url('/subs/expired.en.vtt')}"]
        run_engine(session)
        jobs, lookups = sim.jobs_created(), m.hits["/pages/moved.html"]
    assert (v.state, v.method, jobs) == (VideoState.DONE, "captions", 0)
    assert lookups == 1 and m.hits["/subs/expired.en.vtt"] == 1 and m.hits["/subs/talk.en.vtt"] == 1


def test_lost_caption_files_that_cannot_come_again_are_never_paid_for(tmp_path):
    """A video done from captions whose files are lost, and whose captions now fail: it fails
    saying so (retryable), and is not sent to deAPI unasked, even with --captions off."""
    with media_server(_files()) as m, SimServer(SimConfig(latency=(0.1, 0.3), pending_share=0.0)) as sim:
        session = make_session(tmp_path, [yt(7)], sim.base_url, captions="off")
        v = session.videos[0]
        session.record_nowait(v, state=VideoState.DONE, method="captions", outputs=[str(tmp_path / "gone.txt")],
                              captions_known=True, captions=[f"sub:en:vtt:{m.url('/subs/talk.en.vtt')}"])
        m.refuse["/subs/talk.en.vtt"] = [500] * run_captions.TRIES
        run_engine(session)
        jobs = sim.jobs_created()
    assert jobs == 0
    assert (v.state, v.category, v.retryable) == (VideoState.FAILED, "captions", True)
    assert "not sent to deAPI" in v.message


def test_under_only_the_submit_itself_refuses(tmp_path, monkeypatch):
    """The guard where money is spent: even if the caption step let a video through, `only` submits nothing."""
    from bulk_transcribe.core.run import video as walk

    async def let_through(ctx, slot, v):
        return False

    monkeypatch.setattr(walk, "take_captions", let_through)
    with SimServer(SimConfig(latency=(0.1, 0.3), pending_share=0.0)) as sim:
        session = make_session(tmp_path, [yt(1)], sim.base_url, captions="only")
        run_engine(session)
        jobs = sim.jobs_created()
    assert jobs == 0 and session.videos[0].state is VideoState.FAILED
    assert "never pays" in session.videos[0].message
