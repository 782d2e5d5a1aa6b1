"""From a batch to a run: the session at once, then expansion and metadata while the batch runs."""

from __future__ import annotations

import anyio

from bulk_transcribe.core.model import VideoState
from bulk_transcribe.core.prepare import prepare_session
from bulk_transcribe.core.run.engine import Engine
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.simulator import SimConfig, SimServer

from .engine_harness import KEY
from .media_server import closed_port, media_server
from .test_plan import IDS, seed_cache, watch, write_batch


def test_a_mixed_batch_runs_shortest_first_and_metadata_never_fails_a_video(tmp_path, monkeypatch):
    monkeypatch.setenv("BULK_TRANSCRIBE_DATA_DIR", str(tmp_path / "data"))
    seed_cache(tmp_path / "data" / "cache", {IDS[0]: 600.0, IDS[1]: 60.0, IDS[2]: 5.0})
    with media_server() as srv, SimServer(SimConfig(latency=(0.1, 0.3))) as sim:
        batch = write_batch(tmp_path, [
            watch(IDS[0]),                                        # 1: 600 s (cached)
            srv.url("/pages/two.html"),                           # 2: expands into two clips
            f"https://youtu.be/{IDS[1]}?si=x",                    # 3: 60 s
            watch(IDS[0]),                                        # 4: duplicate of line 1
            f"http://127.0.0.1:{closed_port()}/gone.html",        # 5: unreachable source
            watch(IDS[2]),                                        # 6: 5 s
            watch(IDS[3]),                                        # 7: metadata cannot be read (no network)
        ])
        settings = Settings(api_base=sim.base_url, output_dir=str(tmp_path / "out"), order="shortest").validate()
        session, resumed = anyio.run(lambda: prepare_session(batch, settings, session_path=tmp_path / "s.toml"))
        order = [v.url for v in session.videos]
        events: list = []
        finished = anyio.run(Engine(session, api_key=KEY, sink=events.append).run)
        subs = sim.submissions()

    assert not resumed
    # at once: the single video lines, shortest first among what the cache knows, unknown after
    assert order == [watch(IDS[2]), watch(IDS[1]), watch(IDS[0]), watch(IDS[3])]
    assert len(session.videos) == 6, "the page's two clips joined while the batch ran; the duplicate dropped"
    by_url = {v.url: v for v in session.videos}
    assert by_url[watch(IDS[3])].state is VideoState.DONE, "unreadable metadata never fails a video"
    assert all(by_url[watch(i)].state is VideoState.DONE for i in IDS[:4])
    clips = [v for v in session.videos if v.url.startswith(srv.url("/"))]
    assert len(clips) == 2 and all(v.state is VideoState.DONE and v.method == "deapi-upload" for v in clips), \
        "clips on a host deAPI does not fetch are downloaded and uploaded"
    assert not any(u.startswith(srv.url("/")) for u in subs), "deAPI is never asked to fetch a host it does not"
    assert sum(u.startswith("upload://") for u in subs) == 2
    reasons = {r.line: r for r in session.rejected}
    assert reasons[4].category == "duplicate" and reasons[5].category == "source"
    assert 7 not in reasons, "a video kept without metadata is not a rejected line (the report has its row)"
    said = [e.message for e in events if hasattr(e, "level") and e.level == "warning"]
    assert sum("metadata not read" in m for m in said) == 1, "said once, not once per video"
    assert finished.done == 6


def test_lines_added_to_a_batch_are_picked_up_by_the_next_run_and_expanded_while_it_runs(tmp_path, monkeypatch):
    """Lines appended after a run: the next run opens the session at once with the new video line
    as a video and the new page as a source still to expand (nothing fetched yet), then expands
    the page while it submits. What was done is never paid again; each new video is paid once."""
    monkeypatch.setenv("BULK_TRANSCRIBE_DATA_DIR", str(tmp_path / "data"))
    with media_server() as srv, SimServer(SimConfig(latency=(0.1, 0.3))) as sim:
        batch = write_batch(tmp_path, [watch(IDS[0])])
        settings = Settings(api_base=sim.base_url, output_dir=str(tmp_path / "out"), metadata=False).validate()
        session, _ = anyio.run(lambda: prepare_session(batch, settings, session_path=tmp_path / "s.toml"))
        assert anyio.run(Engine(session, api_key=KEY, sink=lambda e: None).run).done == 1

        batch.write_text(batch.read_text(encoding="utf-8") + srv.url("/pages/two.html") + "\n" + watch(IDS[1]) + "\n",
                         encoding="utf-8")
        session, resumed = anyio.run(lambda: prepare_session(batch, settings, session_path=tmp_path / "s.toml"))
        assert resumed
        assert [v.url for v in session.videos] == [watch(IDS[0]), watch(IDS[1])]
        assert [s["url"] for s in session.meta["sources"]] == [srv.url("/pages/two.html")]
        assert srv.hits["/pages/two.html"] == 0, "the new page is expanded by the run, not before it"
        finished = anyio.run(Engine(session, api_key=KEY, sink=lambda e: None).run)
        subs = sim.submissions()
    assert finished.done == 4 and finished.remaining == 0, "the old video, the new one and the page's two clips"
    assert session.meta["sources"] == []
    assert subs[watch(IDS[0])] == 1 and subs[watch(IDS[1])] == 1, subs
    assert sum(u.startswith("upload://") for u in subs) == 2 and set(subs.values()) == {1}, subs
