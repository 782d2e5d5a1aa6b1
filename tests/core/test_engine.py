"""The engine against the simulated deAPI over real loopback HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulk_transcribe.core.events import BatchFinished, ConcurrencyChanged, ErrorLogged, Progress, VideoChanged
from bulk_transcribe.core.model import VideoState
from bulk_transcribe.core.simulator import SimConfig, SimServer
from bulk_transcribe.core.store.session import Session

from .engine_harness import KEY, make_session, max_in_window, run_engine, yt

FAST = dict(latency=(0.2, 0.6), pending_share=0.2)


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()]


def test_happy_path_every_video_once_with_transcripts(tmp_path):
    urls = [yt(i) for i in range(12)]
    with SimServer(SimConfig(**FAST)) as sim:
        session = make_session(tmp_path, urls, sim.base_url, concurrency=5)
        finished, events = run_engine(session)
        submissions = sim.submissions()
    assert isinstance(finished, BatchFinished)
    assert (finished.done, finished.failed, finished.remaining) == (12, 0, 0)
    assert sorted(submissions.values()) == [1] * 12, "each video is paid for exactly once"
    reopened = Session.open(tmp_path / "session.toml")
    try:
        for v in reopened.videos:
            assert v.state is VideoState.DONE and v.request_id
            out = Path(v.outputs[0])
            out = out if out.is_absolute() else tmp_path / "out" / out
            assert v.vid in out.read_text(encoding="utf-8") or out.stat().st_size > 0
    finally:
        reopened.close()
    assert any(isinstance(e, Progress) for e in events)
    assert sum(isinstance(e, VideoChanged) and e.state is VideoState.DONE for e in events) == 12
    # The key is never written anywhere.
    for p in files_under(tmp_path):
        assert KEY not in p.read_text(encoding="utf-8", errors="replace"), p


def test_failures_stay_with_their_video(tmp_path):
    urls = [yt(i) for i in range(8)]
    faults = {urls[0][-11:]: "private", urls[1][-11:]: "restricted", urls[2][-11:]: "flaky:1",
              urls[3][-11:]: "capacity", urls[4][-11:]: "invalid", urls[5][-11:]: "flaky:9", urls[6][-11:]: "silent"}
    with SimServer(SimConfig(faults=faults, **FAST)) as sim:
        session = make_session(tmp_path, urls, sim.base_url, concurrency=4, max_attempts=3)
        finished, events = run_engine(session)
        subs = sim.submissions()
    by_url = {v.url: v for v in session.videos}
    assert by_url[urls[0]].state is VideoState.FAILED and subs[urls[0]] == 1, "permanent: no retry"
    assert by_url[urls[0]].category == "job-failed" and not by_url[urls[0]].retryable
    assert by_url[urls[1]].state is VideoState.FAILED and subs[urls[1]] == 1
    assert by_url[urls[2]].state is VideoState.DONE and subs[urls[2]] == 2, "retryable job error: one retry"
    assert by_url[urls[3]].state is VideoState.DONE and subs[urls[3]] == 2
    assert by_url[urls[4]].state is VideoState.FAILED and by_url[urls[4]].category == "validation"
    assert urls[4] not in subs or subs[urls[4]] == 0
    assert by_url[urls[5]].state is VideoState.FAILED and subs[urls[5]] == 3, "never more than --max-attempts"
    assert by_url[urls[5]].retryable, "a resume may try it again"
    assert by_url[urls[6]].state is VideoState.DONE, "a silent video is a result, not an error"
    assert by_url[urls[7]].state is VideoState.DONE
    assert (finished.done, finished.failed) == (4, 4)
    assert dict(finished.failures_by_category) == {"job-failed": 3, "validation": 1}
    logged = [e for e in events if isinstance(e, ErrorLogged)]
    assert any(e.will_retry and e.key == by_url[urls[2]].key for e in logged)


def test_server_errors_and_html_bodies_are_retried(tmp_path):
    urls = [yt(i) for i in range(10)]
    with SimServer(SimConfig(server_error_share=0.25, server_error_statuses=(500, 503), seed=3, **FAST)) as sim:
        # premium: under --plan auto a first submit answered 5xx (no X-RateLimit-* headers) teaches
        # nothing, and the next one waits Basic's minute; that start is tested in test_engine_limits.
        session = make_session(tmp_path, urls, sim.base_url, concurrency=5, max_attempts=6, plan="premium")
        finished, events = run_engine(session)
        errors_5xx = sim.count_5xx
        subs = sim.submissions()
    assert errors_5xx > 0, "the fault was injected"
    assert finished.done == 10
    assert all(n == 1 for n in subs.values()), "a 5xx on submit creates no job, and jobs are never resubmitted"
    assert any(isinstance(e, ErrorLogged) and e.category == "server" for e in events)
    assert any(isinstance(e, ConcurrencyChanged) for e in events), "server errors lower the concurrency"


def test_known_request_id_is_polled_never_resubmitted(tmp_path):
    import anyio

    from bulk_transcribe.core.deapi.client import DeapiClient

    urls = [yt(i) for i in range(3)]
    with SimServer(SimConfig(**FAST)) as sim:
        session = make_session(tmp_path, urls, sim.base_url)

        async def submit_first():
            async with DeapiClient(sim.base_url, KEY) as c:
                return await c.submit(urls[0], model="WhisperLargeV3", include_ts=False)

        rid = anyio.run(submit_first)
        v = session.videos[0]
        session.record_nowait(v, state=VideoState.SUBMITTED, request_id=rid, attempts=1)
        session.close()
        session = Session.open(tmp_path / "session.toml")
        finished, _ = run_engine(session)
        subs = sim.submissions()
    assert finished.done == 3
    assert subs[urls[0]] == 1, "the job in flight was re-attached by its request id"
    assert session.videos[0].request_id == rid


def test_graceful_stop_leaves_the_rest_queued(tmp_path):
    import anyio

    urls = [yt(i) for i in range(20)]
    with SimServer(SimConfig(latency=(0.5, 1.0))) as sim:
        session = make_session(tmp_path, urls, sim.base_url, concurrency=2)

        async def stop_soon(engine):
            while engine.progress().done < 2:
                await anyio.sleep(0.05)
            engine.request_stop()

        finished, _ = run_engine(session, controls=stop_soon)
        subs = sim.submissions()
    assert finished.stopped
    assert 2 <= finished.done < 20 and finished.remaining > 0
    in_flight_left = [v for v in session.videos if v.request_id and v.state is not VideoState.DONE]
    assert not in_flight_left, "jobs already paid for are followed to the end"
    assert sum(subs.values()) == finished.done


@pytest.mark.slow
def test_true_limit_configured_never_exceeded(tmp_path):
    """With the account's true limit configured, no 60 s window at the server holds more."""
    urls = [yt(i) for i in range(26)]
    with SimServer(SimConfig(submit_rpm=20, latency=(0.1, 0.3))) as sim:
        session = make_session(tmp_path, urls, sim.base_url, concurrency=10, limit_mode="per-endpoint",
                               rpm=20, status_rpm=300, adaptive=False)
        finished, _ = run_engine(session)
        accepted = sim.accepted("submit")
        rejected = sim.count_429
    assert finished.done == 26
    assert sum(rejected.values()) == 0, "no 429 provoked"
    assert max_in_window(accepted) <= 20


@pytest.mark.slow
def test_too_high_limit_obeys_retry_after_and_completes(tmp_path):
    """Configured 10x over the server's limit, and deaf to the X-RateLimit-* headers (a client
    without `on_limits`, so nothing is learned): every Retry-After is obeyed, the batch completes."""
    import anyio

    from bulk_transcribe.core.deapi.client import DeapiClient
    from bulk_transcribe.core.run.engine import Engine

    urls = [yt(i) for i in range(8)]
    with SimServer(SimConfig(submit_rpm=5, latency=(0.1, 0.3))) as sim:
        session = make_session(tmp_path, urls, sim.base_url, concurrency=8, limit_mode="per-endpoint",
                               plan="premium", rpm=50, status_rpm=300)
        events: list = []

        async def main():
            async with DeapiClient(sim.base_url, KEY) as client:
                return await Engine(session, api_key=KEY, sink=events.append, client=client).run()

        finished = anyio.run(main)
        arrivals = sim.arrivals("submit")
        accepted = sim.accepted("submit")
        rejected = sim.count_429
    assert finished.done == 8
    assert max_in_window(accepted) <= 5
    # After the first 429 the whole submit bucket waits out Retry-After: the server sees no
    # stream of retries, only the one that hit the limit (plus at most one per pause).
    assert rejected.get("submit", 0) <= 2, rejected
    assert len(arrivals) - len(accepted) == rejected.get("submit", 0)
    assert any(isinstance(e, ErrorLogged) and e.category == "rate-limited" for e in events)


def test_wait_limit_keeps_the_job_and_a_resume_collects_it(tmp_path):
    urls = [yt(i) for i in range(2)]
    with SimServer(SimConfig(latency=(0.1, 0.2), faults={urls[0][-11:]: "slow:2.5"})) as sim:
        session = make_session(tmp_path, urls, sim.base_url, wait_limit=1.0)
        finished, _ = run_engine(session)
        slow = session.videos[0]
        assert slow.state is VideoState.FAILED and slow.category == "wait-limit" and slow.request_id
        rid = slow.request_id
        import time as _t
        _t.sleep(2.0)
        reopened = Session.open(tmp_path / "session.toml")
        reopened.settings = reopened.settings.with_(wait_limit=60.0)
        finished2, _ = run_engine(reopened)
        subs = sim.submissions()
    assert finished.failed == 1 and finished2.done == 2
    assert reopened.videos[0].request_id == rid and subs[urls[0]] == 1, "the paid job was collected, not resubmitted"


@pytest.mark.slow
def test_a_resume_right_after_a_run_does_not_burst_over_the_limit(tmp_path):
    """The limiter's recent grants outlive the process: run, reopen at once, still <= limit per window."""
    urls = [yt(i) for i in range(14)]
    with SimServer(SimConfig(submit_rpm=8, latency=(0.1, 0.2))) as sim:
        session = make_session(tmp_path, urls[:8], sim.base_url, limit_mode="per-endpoint", rpm=8, status_rpm=300)
        run_engine(session)
        reopened = Session.open(tmp_path / "session.toml")
        from .engine_harness import videos_for
        reopened.add_videos(videos_for(urls)[8:])
        finished, _ = run_engine(reopened)
        accepted, rejected = sim.accepted("submit"), sim.count_429
    assert finished.done == 14
    assert sum(rejected.values()) == 0 and max_in_window(accepted) <= 8


def test_every_format_from_a_structured_result(tmp_path):
    urls = [yt(i) for i in range(2)]
    with SimServer(SimConfig(**FAST)) as sim:
        session = make_session(tmp_path, urls, sim.base_url, model="WhisperLargeV3Ct2", timestamps=True,
                               formats=("txt", "json", "srt", "vtt", "md"))
        finished, _ = run_engine(session)
    assert finished.done == 2
    import json as _json
    for v in session.videos:
        paths = {Path(p).suffix: Path(p) for p in v.outputs}
        assert set(paths) == {".txt", ".json", ".srt", ".vtt", ".md"}
        paths = {k: (p if p.is_absolute() else tmp_path / "out" / p) for k, p in paths.items()}
        srt = paths[".srt"].read_text(encoding="utf-8")
        assert srt.startswith("1\n") and " --> " in srt and "," in srt.split(" --> ")[0]
        assert paths[".vtt"].read_text(encoding="utf-8").startswith("WEBVTT")
        doc = _json.loads(paths[".json"].read_text(encoding="utf-8"))
        assert doc["segments"] and doc["request_id"] == v.request_id
        assert paths[".md"].read_text(encoding="utf-8").startswith("---\n")


@pytest.mark.parametrize("as_date", [False, True])
def test_429_storm_every_retry_after_obeyed_by_every_worker(tmp_path, as_date):
    """Windows scaled to 3 s on both sides; the client is configured 10x over the server's limit,
    and its answers' X-RateLimit-* headers are not passed to the limiter (a client without
    `on_limits`), so it cannot learn the real limit and must meet the 429s."""
    import anyio

    from bulk_transcribe.core.deapi.client import DeapiClient
    from bulk_transcribe.core.limiter import RateLimiter
    from bulk_transcribe.core.run.engine import Engine

    urls = [yt(i) for i in range(16)]
    cfg = SimConfig(window=3.0, submit_rpm=4, latency=(0.1, 0.2), retry_after_as_date=as_date)
    with SimServer(cfg) as sim:
        session = make_session(tmp_path, urls, sim.base_url, concurrency=8, limit_mode="per-endpoint",
                               plan="premium", rpm=40, status_rpm=1000, max_attempts=2)
        limiter = RateLimiter.from_settings(session.settings, window=3.0)
        events: list = []

        async def main():
            async with DeapiClient(sim.base_url, KEY) as client:
                return await Engine(session, api_key=KEY, sink=events.append, client=client, limiter=limiter).run()

        finished = anyio.run(main)
        arrivals, accepted = sim.arrivals("submit"), sim.accepted("submit")
    assert finished.done == 16, "429s are not attempts: max_attempts=2 never fails a video here"
    rejected = sorted(set(arrivals) - set(accepted))
    assert rejected, "the storm happened"
    for t in rejected:
        later = [a for a in arrivals if a > t]
        if later:
            # Retry-After is at least 1 s (whole seconds, or an HTTP date): no worker may go earlier.
            assert min(later) - t >= 0.9, f"a submit {min(later) - t:.2f} s after a 429"


def test_an_unreadable_submit_answer_leaves_the_video_in_doubt_and_unpaid_twice(tmp_path):
    """A 2xx we cannot read may still have created a job: the video is in doubt, never sent again."""
    urls = [yt(0), yt(1)]
    with SimServer(SimConfig(faults={urls[0][-11:]: "garbled:1"}, **FAST)) as sim:
        session = make_session(tmp_path, urls, sim.base_url)
        finished, _ = run_engine(session)
        subs = sim.submissions()
    assert subs[urls[0]] == 1, "the job was made; its id never reached us; it is not paid for twice"
    assert finished.done == 1 and finished.in_doubt == 1 and finished.possibly_paid == 1
    v = session.videos[0]
    assert v.possibly_paid and v.category == "in-doubt" and not session.videos[1].possibly_paid


def test_a_tiktok_line_is_submitted_with_ct2_and_accepted(tmp_path):
    """deAPI takes TikTok only with WhisperLargeV3Ct2 (the simulator refuses it otherwise, 422):
    under the default model the TikTok line goes with Ct2, the YouTube one with the model asked."""
    urls = ["https://www.tiktok.com/@someone/video/7234567890123456789", yt(0)]
    with SimServer(SimConfig(**FAST)) as sim:
        session = make_session(tmp_path, urls, sim.base_url, model="WhisperLargeV3")
        finished, _ = run_engine(session)
        subs = sim.submissions()
        models = {row["source_url"]: row["model"] for row in sim.export_jobs()[1:]}
    assert finished.done == 2 and finished.failed == 0
    assert subs == {session.videos[0].url: 1, urls[1]: 1}
    assert models == {session.videos[0].url: "WhisperLargeV3Ct2", urls[1]: "WhisperLargeV3"}
