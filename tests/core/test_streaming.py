"""Work starts at once (issue 9): submitting runs beside expansion and metadata lookups.

The engine runs against the simulator over loopback; yt-dlp is replaced by an `extract`
seam (the feeder's own injection point) so a lookup can be held back at will.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import anyio
import pytest

from bulk_transcribe.core.events import Progress
from bulk_transcribe.core.prepare import prepare_session
from bulk_transcribe.core.run.engine import Engine
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.simulator import SimConfig, SimServer
from bulk_transcribe.core.sources.stream import Feeder
from bulk_transcribe.tui.headless import progress_line

from .engine_harness import KEY, yt
from .test_plan import write_batch

FAST = dict(latency=(0.05, 0.15), pending_share=0.0)
PLAYLIST = "https://www.youtube.com/playlist?list=PLstream0000000000000000000000000"


def settings_for(sim: SimServer, tmp_path, **kw) -> Settings:
    return Settings(api_base=sim.base_url, output_dir=str(tmp_path / "out"), plan="premium", **kw).validate()


def run(session, feeder: Feeder, sink) -> object:
    engine = Engine(session, api_key=KEY, sink=sink, feeder=feeder)
    return anyio.run(engine.run)



def kill_9_after_two_transcripts(child: subprocess.Popen, out) -> None:
    """kill -9 the child run once two transcripts are on disk (or a minute has passed)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(out.glob("*.txt"))) < 2:
        assert child.poll() is None, child.stderr.read().decode()
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stderr.close()

def test_the_first_submit_goes_before_any_lookup_answers(tmp_path, monkeypatch):
    """Every lookup is held until the simulator has seen a submit: the batch finishes only if
    submitting does not wait for metadata (the lookups would otherwise wait 30 s and fail the test)."""
    monkeypatch.setenv("BULK_TRANSCRIBE_DATA_DIR", str(tmp_path / "data"))
    urls = [yt(i) for i in range(4)]
    submitted = threading.Event()
    held: list[bool] = []

    def extract(url, options):
        held.append(submitted.wait(30))
        return {"id": url[-11:], "title": f"title {url[-2:]}", "duration": 30.0, "webpage_url": url}

    def sink(event):
        if getattr(event, "state", None) is not None and str(getattr(event.state, "value", "")) == "submitted":
            submitted.set()

    with SimServer(SimConfig(**FAST)) as sim:
        session, _ = anyio.run(lambda: prepare_session(write_batch(tmp_path, urls), settings_for(sim, tmp_path),
                                                       session_path=tmp_path / "s.toml"))
        finished = run(session, Feeder(extract=extract, cache_dir=None), sink)
        assert sim.jobs_created() == 4   # each video paid once
    assert finished.done == 4
    assert held and all(held), "a lookup answered before the first submit was made"


def test_a_playlist_is_expanded_while_the_batch_runs_and_its_flat_durations_need_no_lookup(tmp_path, monkeypatch):
    monkeypatch.setenv("BULK_TRANSCRIBE_DATA_DIR", str(tmp_path / "data"))
    calls: list[str] = []
    entries = [{"_type": "url", "url": yt(10 + i), "id": yt(10 + i)[-11:], "title": f"entry {i}",
                "duration": 20.0 + i} for i in range(3)]

    def extract(url, options):
        calls.append(url)
        if "playlist" in url:
            time.sleep(1.5)   # a slow listing: the run's progress meanwhile says so
            return {"_type": "playlist", "id": "PLstream", "title": "a playlist", "entries": entries}
        return {"id": url[-11:], "title": "looked up", "duration": 10.0, "webpage_url": url}

    events: list = []
    with SimServer(SimConfig(**FAST)) as sim:
        session, _ = anyio.run(lambda: prepare_session(write_batch(tmp_path, [PLAYLIST]), settings_for(sim, tmp_path),
                                                       session_path=tmp_path / "s.toml"))
        assert session.videos == [] and session.meta["sources"], "the playlist is a source still to expand"
        finished = run(session, Feeder(extract=extract, cache_dir=None), events.append)
        assert sim.jobs_created() == 3
    assert finished.done == 3
    assert calls == [PLAYLIST], "flat entries carried titles and durations: no per-video lookup"
    pending = [e for e in events if isinstance(e, Progress) and e.sources_pending]
    assert pending, "progress said the playlist was still being listed"
    assert "still being listed" in progress_line(pending[0])


CHILD = r'''
import sys, time, anyio
from bulk_transcribe.core.prepare import prepare_session
from bulk_transcribe.core.run.engine import Engine
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.sources.stream import Feeder

base, out, batch, session_path, slow, entries = sys.argv[1:7]
slow, urls = float(slow), entries.split(",")

def extract(url, options):
    if "playlist" in url:   # listed without durations: every entry needs a lookup
        return {"_type": "playlist", "id": "PLkill", "title": "kill", "entries": [
            {"_type": "url", "url": u, "id": u[-11:]} for u in urls]}
    time.sleep(slow)
    return {"id": url[-11:], "title": "title " + url[-3:], "duration": 30.0, "webpage_url": url}

async def main():
    settings = Settings(api_base=base, output_dir=out, plan="premium", concurrency=4).validate()
    session, _ = await prepare_session(batch, settings, session_path=session_path)
    engine = Engine(session, api_key="test-key-0123456789", sink=lambda e: None,
                    feeder=Feeder(extract=extract, cache_dir=None, concurrency=2))
    await engine.run()

anyio.run(main)
'''


@pytest.mark.slow
def test_kill_9_while_a_playlist_is_being_looked_up_then_resume(tmp_path):
    """The child lists a playlist of 12 videos and looks each up slowly (2 s, two at a time)
    while it submits; it is killed with lookups still pending, then run again: every transcript
    is there and nothing was paid twice but what was on the wire at the kill."""
    import sys

    urls = [yt(i, "exp") for i in range(12)]
    batch = write_batch(tmp_path, [PLAYLIST])
    out, session = tmp_path / "out", tmp_path / "s.toml"
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    env = {**os.environ, "BULK_TRANSCRIBE_DATA_DIR": str(tmp_path / "data")}
    with SimServer(SimConfig(latency=(0.3, 0.8), pending_share=0.0)) as sim:
        args = [sys.executable, str(script), sim.base_url, str(out), str(batch), str(session)]
        child = subprocess.Popen([*args, "2.0", ",".join(urls)], env=env, stderr=subprocess.PIPE)
        kill_9_after_two_transcripts(child, out)
        at_kill = len(list(out.glob("*.txt")))
        assert 2 <= at_kill < 12, "the kill landed while lookups were pending"
        again = subprocess.run([*args, "0.0", ",".join(urls)], env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        subs = sim.submissions()
    from bulk_transcribe.core.store.session import Session
    s = Session.open(session)
    try:
        doubtful = {v.url for v in s.videos if v.category == "in-doubt"}
        done = {v.url for v in s.videos if v.state.value == "done"}
    finally:
        s.close()
    assert done | doubtful == set(urls), "every video of the playlist is in the session after the kill"
    assert len(list(out.glob("*.txt"))) == len(done) >= 12 - len(doubtful)
    assert all(n == 1 for n in subs.values()), f"nothing paid twice: {subs}"


def _hls_site(n: int):
    from .media_server import hls_playlist, media_server

    files = {f"/media/talk{i}.m3u8": ("application/vnd.apple.mpegurl", hls_playlist([10.0, 5.0 + i]))
             for i in range(n)}
    return media_server(files)


def _lookups(srv, n: int):
    from bulk_transcribe.core.model import Video

    return [Video(key=f"generic:talk{i}", url=srv.url(f"/media/talk{i}.m3u8"), vid=f"talk{i}") for i in range(n)]


def _feed(feeder: Feeder, videos) -> tuple[dict, list]:
    found: dict = {}
    said: list = []

    async def on_videos(src, vs):
        return vs

    async def main():
        await feeder.run([], videos, known=set(), on_videos=on_videos,
                         on_meta=lambda v, meta: found.__setitem__(v.key, meta),
                         on_source_done=lambda src, problem: None, say=lambda level, m: said.append(m))

    anyio.run(main)
    return found, said


def test_lookups_refused_at_once_back_off_once_and_are_tried_again_after_the_pause(tmp_path):
    """Four lookups in flight are all refused (429, real yt-dlp against a loopback site): that is
    one push-back, said once, with one pause; each video is asked again after it and read, and
    asked only once more (the refused request, then what one reading costs)."""
    with _hls_site(1) as srv:
        _feed(Feeder(cache_dir=None), _lookups(srv, 1))
        one_reading = srv.hits["/media/talk0.m3u8"]
    with _hls_site(4) as srv:
        for i in range(4):
            srv.refuse[f"/media/talk{i}.m3u8"] = [429]
        videos = _lookups(srv, 4)
        found, said = _feed(Feeder(cache_dir=None, concurrency=4, pushback_pause=(0.3, 1.0)), videos)
        hits = {p: n for p, n in srv.hits.items() if p.endswith(".m3u8")}
    assert sum("pushes back" in m for m in said) == 1, said
    assert not any("stopped" in m for m in said), said
    assert set(found) == {v.key for v in videos} and all(m["duration"] for m in found.values()), \
        "every refused lookup was asked again after the pause and read"
    assert set(hits.values()) == {1 + one_reading}, (one_reading, hits)


def test_a_site_that_keeps_refusing_stops_the_lookups_for_the_run_and_says_so_once(tmp_path):
    with _hls_site(12) as srv:
        for i in range(12):
            srv.refuse[f"/media/talk{i}.m3u8"] = [429] * 50
        found, said = _feed(Feeder(cache_dir=None, concurrency=4, pushback_pause=(0.05, 0.2)), _lookups(srv, 12))
        asked = sum(n for p, n in srv.hits.items() if p.endswith(".m3u8"))
    from bulk_transcribe.core.sources.stream import GIVE_UP_AFTER

    assert found == {}
    assert sum("lookups stopped for this run" in m for m in said) == 1, said
    assert sum("pushes back" in m for m in said) <= GIVE_UP_AFTER - 1, said
    assert asked <= 4 * GIVE_UP_AFTER, f"{asked} lookups sent to a site that kept refusing"


LISTING_CHILD = r'''
import sys, anyio
from bulk_transcribe.core.prepare import prepare_session
from bulk_transcribe.core.run.engine import Engine
from bulk_transcribe.core.settings import Settings

base, out, batch, session_path = sys.argv[1:5]

async def main():
    settings = Settings(api_base=base, output_dir=out, metadata=False, concurrency=4).validate()
    session, _ = await prepare_session(batch, settings, session_path=session_path)
    await Engine(session, api_key="test-key-0123456789", sink=lambda e: None).run()

anyio.run(main)
'''


@pytest.mark.slow
def test_kill_9_while_a_page_is_still_being_listed_then_resume(tmp_path):
    """Real yt-dlp lists a loopback page that answers only when let go; meanwhile the batch's two
    video lines are submitted and transcribed. Killed then (the page still unlisted), the session
    on disk still holds the page as a source to expand; run again, the page is listed and its
    three clips transcribed: every transcript present, nothing paid twice (ledger)."""
    import sys

    from bulk_transcribe.core.store.session import Session

    from .media_server import html_page, media_server, wav_bytes

    files = {f"/media/c{i}.wav": ("audio/wav", wav_bytes(0.2 + 0.1 * i)) for i in range(3)}
    files["/pages/list.html"] = ("text/html", html_page("List", [f"/media/c{i}.wav" for i in range(3)]))
    out, session_path = tmp_path / "out", tmp_path / "s.toml"
    script = tmp_path / "child.py"
    script.write_text(LISTING_CHILD, encoding="utf-8")
    env = {**os.environ, "BULK_TRANSCRIBE_DATA_DIR": str(tmp_path / "data")}
    with media_server(files) as srv, SimServer(SimConfig(latency=(0.2, 0.5), pending_share=0.0)) as sim:
        srv.hold.add("/pages/list.html")
        batch = write_batch(tmp_path, [srv.url("/pages/list.html"), yt(0, "lst"), yt(1, "lst")])
        args = [sys.executable, str(script), sim.base_url, str(out), str(batch), str(session_path)]
        child = subprocess.Popen(args, env=env, stderr=subprocess.PIPE)
        kill_9_after_two_transcripts(child, out)
        assert len(list(out.glob("*.txt"))) == 2 and srv.hits["/pages/list.html"] >= 1, \
            "the two videos were transcribed while the page was being listed"
        s = Session.open(session_path)
        try:
            assert [d["url"] for d in s.meta["sources"]] == [srv.url("/pages/list.html")], \
                "the session on disk still has the page to expand"
        finally:
            s.close()
        srv.unhold()
        again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        subs = sim.submissions()
    s = Session.open(session_path)
    try:
        assert len(s.videos) == 5 and all(v.state.value == "done" for v in s.videos)
        assert s.meta["sources"] == []
    finally:
        s.close()
    assert len(list(out.glob("*.txt"))) == 5, "every transcript present"
    assert len(subs) == 5 and set(subs.values()) == {1}, f"nothing paid twice: {subs}"


def test_a_batch_ends_with_its_last_transcript_even_if_no_lookup_ever_answers(tmp_path, monkeypatch):
    """Real yt-dlp lookups to a site that never answers (a loopback proxy holding every
    connection): the batch is done without them, and its last progress says nothing is pending
    any more (the lookups left were dropped with the run, not still 'pending' on a finished batch)."""
    from .slow_site import proxy_env, slow_site

    monkeypatch.setenv("BULK_TRANSCRIBE_DATA_DIR", str(tmp_path / "data"))
    events: list = []
    with slow_site(lambda: False, hold_max=60) as site, SimServer(SimConfig(**FAST)) as sim:
        for name, value in proxy_env(site).items():
            monkeypatch.setenv(name, value)
        urls = [yt(i, "never") for i in range(6)]
        session, _ = anyio.run(lambda: prepare_session(write_batch(tmp_path, urls), settings_for(sim, tmp_path),
                                                       session_path=tmp_path / "s.toml"))
        finished = anyio.run(Engine(session, api_key=KEY, sink=events.append).run)
        jobs = sim.jobs_created()
        asked = len(site.held)   # lookups answered so far: none, the proxy holds them all
    assert finished.done == 6 and jobs == 6
    assert asked == 0, "no lookup had an answer while the batch ran"
    last = [e for e in events if isinstance(e, Progress)][-1]
    assert (last.sources_pending, last.lookups_pending) == (0, 0), last
    assert "pending" not in progress_line(last)
