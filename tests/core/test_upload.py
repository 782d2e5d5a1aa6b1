"""The upload way, end to end over loopback: yt-dlp downloads media from a local server, the engine
uploads it to the simulated deAPI as `source_file` (in chunks under the cap when it is longer),
and the transcripts come out stitched with continuous times. The ledger says what was paid."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from bulk_transcribe.core.model import VideoState
from bulk_transcribe.core.run import upload
from bulk_transcribe.core.simulator import SimConfig, SimServer

from .audio import tone
from .engine_harness import make_session, run_engine, yt
from .media_server import media_server

CAP = 40_000                     # bytes: the long file (30 s of 32 kbit/s mp3, ~120 KB) needs 4 chunks
CAP_MB = CAP / (1024 * 1024)
TS = dict(model="WhisperLargeV3Ct2", timestamps=True, formats=("txt", "srt", "json"))


def _files():
    return {"/media/short.mp3": ("audio/mpeg", tone(4.0)), "/media/long.mp3": ("audio/mpeg", tone(30.0))}


def _srt_times(text: str) -> list[tuple[float, float]]:
    def sec(stamp: str) -> float:
        h, m, rest = stamp.split(":")
        s, ms = rest.split(",")
        return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000

    out = []
    for line in text.splitlines():
        if " --> " in line:
            a, b = line.split(" --> ")
            out.append((sec(a.strip()), sec(b.strip())))
    return out


def test_a_file_on_a_host_deapi_does_not_fetch_is_uploaded_and_paid_once(tmp_path):
    with media_server(_files()) as media, SimServer(SimConfig(latency=(0.2, 0.5))) as sim:
        url = media.url("/media/short.mp3")
        session = make_session(tmp_path, [url], sim.base_url, upload_max_mb=CAP_MB, **TS)
        finished, events = run_engine(session)
        v = session.videos[0]
        assert finished.done == 1, [(x.state, x.message) for x in session.videos]
        assert v.method == "deapi-upload" and len(v.chunks) == 1 and v.chunks[0]["request_id"]
        subs = sim.submissions()
        assert len(subs) == 1 and list(subs.values()) == [1], subs
        assert next(iter(subs)).startswith("upload://media.mp3#")
        assert v.cost == pytest.approx(sim.charged())
        assert media.hits["/media/short.mp3"] >= 1
    assert not upload.upload_folder_of(session.path, v).exists(), "the downloaded audio is deleted after the upload"
    doc = json.loads(next(Path(session.settings.output_dir).glob("*.json")).read_text())
    assert doc["segments"] and doc["segments"][-1]["end"] <= 4.05
    activities = {e.activity.value for e in events if hasattr(e, "activity")}
    assert {"downloading audio", "uploading"} <= activities
    from bulk_transcribe.tui.run_view import describe_worker

    rows = [describe_worker(e, 0, e.since).doing for e in events
            if hasattr(e, "activity") and e.activity.value == "downloading audio" and e.detail]
    assert any(re.fullmatch(r"downloading audio \(\d+ % of \d+ KB\)( \[deapi-upload\])?", r) for r in rows), rows


def test_audio_over_the_cap_is_uploaded_in_chunks_and_stitched_with_continuous_times(tmp_path):
    with media_server(_files()) as media, SimServer(SimConfig(latency=(0.2, 0.5), upload_audio_max_bytes=CAP)) as sim:
        url = media.url("/media/long.mp3")
        session = make_session(tmp_path, [url], sim.base_url, upload_max_mb=CAP_MB, **TS)
        finished, events = run_engine(session)
        v = session.videos[0]
        assert finished.done == 1, [(x.state, x.message) for x in session.videos]
        assert len(v.chunks) >= 3, v.chunks
        assert all(c["size"] <= CAP for c in v.chunks)
        subs = sim.submissions()
        assert len(subs) == len(v.chunks) and set(subs.values()) == {1}, "each chunk paid once"
        assert v.cost == pytest.approx(sim.charged())
    offsets = [c["offset"] for c in v.chunks]
    assert offsets[0] == 0 and offsets == sorted(offsets) and offsets[-1] > 20
    out = Path(session.settings.output_dir)
    times = _srt_times(next(out.glob("*.srt")).read_text())
    starts = [a for a, _ in times]
    assert starts == sorted(starts), "times run on across chunks"
    assert times[-1][1] <= 30.05 and times[-1][0] >= offsets[-1], "the last cue is in the last chunk's stretch"
    doc = json.loads(next(out.glob("*.json")).read_text())
    firsts = [c["result"]["segments"][0]["start"] for c in doc["result"]["chunks"]]
    assert firsts == [0.0] * len(v.chunks), "deAPI's times start at 0 in every chunk"
    at = 0
    for piece, offset in zip(doc["result"]["chunks"], offsets):   # each chunk's segments moved by its offset
        for seg in piece["result"]["segments"]:
            assert doc["segments"][at]["start"] == pytest.approx(seg["start"] + offset, abs=0.002)
            assert doc["segments"][at]["text"] == seg["text"]
            at += 1
    assert at == len(doc["segments"])
    text = next(out.glob("*.txt")).read_text()
    assert text.index("chunk-000") < text.index("chunk-001"), "the text is in the chunks' order"
    notices = [e.message for e in events if type(e).__name__ == "Notice"]
    assert any("chunks" in n for n in notices)


def test_upload_fallback_after_two_source_download_failures(tmp_path, monkeypatch):
    """--upload-fallback: deAPI failed to fetch the YouTube video twice (SOURCE_DOWNLOAD_FAILED), so
    it is downloaded here and uploaded. YouTube is offline for tests: its URL is served locally."""
    with media_server(_files()) as media, SimServer(SimConfig(latency=(0.1, 0.3), faults={"fb1": "flaky:5"})) as sim:
        url = yt(1, "fb1")
        real = upload.download_audio
        monkeypatch.setattr(upload, "download_audio",
                            lambda u, *a, **k: real(media.url("/media/short.mp3") if u == url else u, *a, **k))
        session = make_session(tmp_path, [url], sim.base_url, upload_fallback=True, max_attempts=5, **TS)
        finished, _ = run_engine(session)
        v = session.videos[0]
        assert v.state is VideoState.DONE, (v.state, v.message)
        assert v.method == "deapi-upload" and v.download_failures == 2
        subs = sim.submissions()
    assert subs[url] == 2, "two failed URL jobs (not charged), no third"
    assert sum(n for s, n in subs.items() if s.startswith("upload://")) == 1


def test_without_upload_fallback_a_failing_youtube_video_is_not_uploaded(tmp_path):
    with SimServer(SimConfig(latency=(0.1, 0.3), faults={"fb2": "flaky:5"})) as sim:
        url = yt(2, "fb2")
        session = make_session(tmp_path, [url], sim.base_url, max_attempts=3, **TS)
        run_engine(session)
        v = session.videos[0]
        assert v.state is VideoState.FAILED and not v.chunks and v.method != "deapi-upload"
        assert set(sim.submissions()) == {url}


def test_the_report_names_every_chunks_request_id(tmp_path):
    with media_server(_files()) as media, SimServer(SimConfig(latency=(0.1, 0.3), upload_audio_max_bytes=CAP)) as sim:
        session = make_session(tmp_path, [media.url("/media/long.mp3")], sim.base_url, upload_max_mb=CAP_MB, **TS)
        run_engine(session)
    v = session.videos[0]
    (row,) = csv.DictReader(next(Path(session.settings.output_dir).glob("*.report.csv")).open(encoding="utf-8-sig"))
    assert row["method"] == "deapi-upload" and row["status"] == "done"
    assert row["request_id"].split() == [c["request_id"] for c in v.chunks] and len(v.chunks) > 1


def test_a_download_over_the_size_limit_is_refused_and_nothing_is_paid(tmp_path):
    with media_server(_files()) as media, SimServer(SimConfig(latency=(0.1, 0.3))) as sim:
        session = make_session(tmp_path, [media.url("/media/long.mp3")], sim.base_url, max_download_mb=0.05, **TS)
        finished, _ = run_engine(session)
        assert sim.jobs_created() == 0
    v = session.videos[0]
    assert v.state is VideoState.FAILED and v.category == "source" and "--max-download-mb" in v.message


@pytest.mark.parametrize("status", [413, 422])
def test_a_deapi_cap_lower_than_ours_is_a_clear_failure_not_a_payment(tmp_path, status):
    """deAPI's caps have changed: when it refuses the upload (413, or 422 as measured), the video
    fails saying to lower --upload-max-mb; nothing was created, so nothing is in doubt."""
    with media_server(_files()) as media, SimServer(SimConfig(upload_audio_max_bytes=1000,
                                                              upload_over_cap_status=status)) as sim:
        session = make_session(tmp_path, [media.url("/media/short.mp3")], sim.base_url, **TS)
        run_engine(session)
        assert sim.jobs_created() == 0
    v = session.videos[0]
    assert v.state is VideoState.FAILED and v.category == "validation" and not v.possibly_paid
    assert "--upload-max-mb" in v.message and v.chunks[0]["state"] == "queued"


def test_no_download_starts_without_room_for_it(tmp_path):
    """The session's folder has room for the run (50 MB) but not for a download and its chunks
    (50 MB + twice the upload cap): the video fails as a disk problem, submitting halts, nothing is paid."""
    import subprocess

    from bulk_transcribe.core.settings import Settings
    from bulk_transcribe.core.store.session import Session

    from .engine_harness import videos_for

    small = tmp_path / "small"
    small.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=60m", "tmpfs", str(small)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        with media_server(_files()) as media, SimServer(SimConfig(latency=(0.1, 0.3))) as sim:
            s = Settings(api_base=sim.base_url, output_dir=str(tmp_path / "out"), metadata=False, **TS).validate()
            session = Session.create(small / "session.toml", batch="test", settings=s,
                                     videos=videos_for([media.url("/media/short.mp3")]))
            finished, _ = run_engine(session)
            assert sim.jobs_created() == 0
        v = session.videos[0]
        assert v.state is VideoState.FAILED and v.category == "disk" and "free" in v.message, v.message
        assert finished.halted
    finally:
        subprocess.run(["umount", str(small)], check=False)


def test_downloads_are_bounded_by_download_concurrency(tmp_path):
    """Three uploads and three free workers, --download-concurrency 2: while the source hangs, only
    two downloads have started."""
    import anyio

    seen: list[int] = []
    with media_server(_files()) as media, SimServer(SimConfig(latency=(0.1, 0.3))) as sim:
        urls = [media.url(f"/slow/{i}.mp3") for i in range(3)]
        session = make_session(tmp_path, urls, sim.base_url, download_concurrency=2, concurrency=3, **TS)

        async def controls(engine):
            for _ in range(400):
                if len([p for p in media.hits if p.startswith("/slow/")]) >= 2:
                    break
                await anyio.sleep(0.025)
            await anyio.sleep(1.0)   # time enough for a third to start, were it allowed
            seen.append(len([p for p in media.hits if p.startswith("/slow/")]))
            media.release()

        run_engine(session, controls=controls)
        assert sim.jobs_created() == 0
    assert seen == [2]
    assert all(v.state is VideoState.FAILED and v.category == "source" for v in session.videos)


def test_a_resume_without_the_chunk_files_downloads_again_and_cuts_at_the_recorded_offsets(tmp_path):
    """Two chunks were sent, the third refused (422), and the chunk files are gone when the user
    retries: the audio is downloaded again and cut at the same offsets; the two sent chunks are
    re-attached (not paid again), only the others are submitted."""
    import shutil

    from bulk_transcribe.core.store.session import Session

    with media_server(_files()) as media, SimServer(SimConfig(
            latency=(0.1, 0.3), upload_audio_max_bytes=CAP, faults={"chunk-002": "invalid"})) as sim:
        url = media.url("/media/long.mp3")
        session = make_session(tmp_path, [url], sim.base_url, upload_max_mb=CAP_MB, **TS)
        run_engine(session)
        v = session.videos[0]
        assert v.state is VideoState.FAILED and v.category == "validation"
        sent = [c["request_id"] for c in v.chunks[:2]]
        offsets = [c["offset"] for c in v.chunks]
        assert all(sent) and not v.chunks[2].get("request_id") and sim.jobs_created() == 2
        shutil.rmtree(upload.upload_folder_of(session.path, v))
        session.close()
        sim.set_config(faults={})
        again = Session.open(session.path)
        again.settings = again.settings.with_(retry_failed=True)
        run_engine(again)
        w = again.videos[0]
        assert w.state is VideoState.DONE, (w.state, w.message)
        assert [c["request_id"] for c in w.chunks[:2]] == sent and [c["offset"] for c in w.chunks] == offsets
        assert set(sim.submissions().values()) == {1} and sim.jobs_created() == len(w.chunks)
        assert media.hits["/media/long.mp3"] >= 2, "downloaded again"


def test_a_chunked_upload_whose_files_are_lost_is_fetched_again_by_its_chunks_ids(tmp_path):
    """Done, then its transcript files deleted: a resume fetches every chunk's result again by its
    request id (free), downloads nothing and pays for nothing."""
    from bulk_transcribe.core.store.session import Session

    with media_server(_files()) as media, SimServer(SimConfig(latency=(0.1, 0.3), upload_audio_max_bytes=CAP)) as sim:
        session = make_session(tmp_path, [media.url("/media/long.mp3")], sim.base_url, upload_max_mb=CAP_MB, **TS)
        run_engine(session)
        paid, downloads = sim.jobs_created(), media.hits["/media/long.mp3"]
        cost = session.videos[0].cost
        out = Path(session.settings.output_dir)
        srt = next(out.glob("*.srt")).read_text()
        for p in out.glob("*.srt"):
            p.unlink()
        session.close()
        again = Session.open(session.path)
        finished, _ = run_engine(again)
        assert finished.done == 1 and sim.jobs_created() == paid and media.hits["/media/long.mp3"] == downloads
        assert again.videos[0].cost == pytest.approx(cost), "not counted as paid twice"
    assert next(out.glob("*.srt")).read_text() == srt


def test_a_chunk_whose_answer_was_lost_puts_the_video_in_doubt_and_only_it_is_sent_again(tmp_path):
    """The second chunk's connection is reset after deAPI made its job: that chunk (and so the
    video) is in doubt and nothing more is sent; resubmitting, as the user may ask, sends that
    chunk again and the rest once, and re-attaches the first."""
    import anyio

    from bulk_transcribe.core.run.engine import Engine
    from bulk_transcribe.core.store.session import Session

    from .engine_harness import KEY

    with media_server(_files()) as media, SimServer(SimConfig(
            latency=(0.1, 0.3), upload_audio_max_bytes=CAP, faults={"chunk-001": "reset:1"})) as sim:
        session = make_session(tmp_path, [media.url("/media/long.mp3")], sim.base_url, upload_max_mb=CAP_MB, **TS)
        finished, _ = run_engine(session)
        v = session.videos[0]
        assert v.state is VideoState.FAILED and v.category == "in-doubt" and v.possibly_paid
        assert [c["state"] for c in v.chunks][:2] == ["submitted", "in-doubt"] and finished.in_doubt == 1
        assert sim.jobs_created() == 2, "nothing more is sent for a video in doubt"
        first = v.chunks[0]["request_id"]
        session.close()
        again = Session.open(session.path)
        anyio.run(Engine(again, api_key=KEY, sink=lambda e: None, resubmit_in_doubt=True).run)
        w = again.videos[0]
        assert w.state is VideoState.DONE and w.chunks[0]["request_id"] == first
        counts = {s.split("#")[0]: n for s, n in sim.submissions().items()}
    assert counts.pop("upload://chunk-001.mp3") == 2
    assert set(counts.values()) == {1} and len(counts) == len(w.chunks) - 1
