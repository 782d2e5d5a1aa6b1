"""Work starts at once (issue 9): submitting runs beside expansion and metadata lookups.

The engine runs against the simulator over loopback; yt-dlp is replaced by an `extract`
seam (the feeder's own injection point) so a lookup can be held back at will.
"""

from __future__ import annotations

import threading
import time

import anyio

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
