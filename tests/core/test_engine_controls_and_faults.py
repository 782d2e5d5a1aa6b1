"""The engine's controls (pause, stop, retry failed) racing its failure paths, against the simulator over loopback."""

from __future__ import annotations

import os
import time

import anyio

from bulk_transcribe.core.errors import Category
from bulk_transcribe.core.events import Activity, Notice, WorkerChanged
from bulk_transcribe.core.model import VideoState
from bulk_transcribe.core.run import video as walk
from bulk_transcribe.core.run.engine import Engine
from bulk_transcribe.core.simulator import SimConfig, SimServer
from bulk_transcribe.core.store.session import Session

from .engine_harness import KEY, make_session, run_engine, yt

FAST = dict(latency=(0.2, 0.6), pending_share=0.2)


def test_retry_failed_never_queues_a_video_that_is_already_queued(tmp_path):
    """A resumed retryable failure waits in the queue still FAILED; pressing "retry failed"
    then must not queue it a second time (two workers would submit it twice)."""
    urls = [yt(i) for i in range(2)]
    with SimServer(SimConfig(**FAST)) as sim:
        session = make_session(tmp_path, urls, sim.base_url, concurrency=3)
        session.record_nowait(session.videos[0], state=VideoState.FAILED, category="server",
                              message="a 503", retryable=True)
        queued_again: list[int] = []

        async def main():
            engine = Engine(session, api_key=KEY, sink=lambda e: None)
            engine.pause_submitting()   # the workers hold nothing until the user resumes

            async def steer():
                while not engine.queue.pending:
                    await anyio.sleep(0.01)
                queued_again.append(engine.retry_failed())
                engine.resume_submitting()

            async with anyio.create_task_group() as tg:
                tg.start_soon(steer)
                return await engine.run()

        finished = anyio.run(main)
        subs = sim.submissions()
    assert queued_again == [0], "the failed video was already queued by the resume"
    assert subs[urls[0]] == 1, "one video, one paid job"
    assert finished.done == 2


def test_a_session_write_failure_halts_submitting_and_never_crashes_the_run(tmp_path):
    """The journal's disk fills up mid-run: the run must not die with a SessionError; it stops
    submitting (nothing more may be paid for without a durable record) and a resume finishes
    every video without paying twice."""
    urls = [yt(i) for i in range(6)]
    with SimServer(SimConfig(latency=(0.3, 0.8))) as sim:
        session = make_session(tmp_path, urls, sim.base_url, concurrency=2)
        fd = session._journal._fd
        saved = os.dup(fd)
        seen: list[Engine] = []

        def sink(event):
            # Space comes back the moment the engine halts (synchronously, before its final save).
            if isinstance(event, Notice) and event.level == "error" and seen and seen[0].halted is not None:
                os.dup2(saved, fd)

        async def main():
            engine = Engine(session, api_key=KEY, sink=sink)
            seen.append(engine)

            async def fill_disk():
                while not any(v.request_id for v in session.videos):
                    await anyio.sleep(0.01)
                full = os.open("/dev/full", os.O_WRONLY)   # every write: ENOSPC
                os.dup2(full, fd)
                os.close(full)

            async with anyio.create_task_group() as tg:
                tg.start_soon(fill_disk)
                result = await engine.run()
                tg.cancel_scope.cancel()
            return result

        try:
            finished = anyio.run(main)
        finally:
            os.dup2(saved, fd)
            os.close(saved)
        assert seen[0].halted is not None and seen[0].halted.category is Category.DISK
        assert finished.done < 6
        assert "could not save the session" in finished.halted and "free some disk space" in finished.halted
        resumed = Session.open(tmp_path / "session.toml")
        again, _ = run_engine(resumed)
        subs = sim.submissions()
    assert again.done == 6
    assert sorted(subs.values()) == [1] * 6, "nothing paid twice"


def test_pause_stop_then_retry_failed_waits_paused_without_spinning(tmp_path):
    """Pause, stop, then "retry failed": the retried video must wait for the user to resume
    submitting, not spin on an already-set event (a flood of PAUSED events)."""
    urls = [yt(0, "slow"), yt(1, "flaky")]
    # slow outlives the other's first status check (~10 s for a job of unknown length): the run is still on
    faults = {urls[0][-11:]: "slow:25", urls[1][-11:]: "flaky:1"}
    with SimServer(SimConfig(faults=faults, **FAST)) as sim:
        session = make_session(tmp_path, urls, sim.base_url, concurrency=2, max_attempts=1)
        flaky = session.videos[1]
        events: list = []
        paused_events: list[int] = []

        async def steer(engine):
            while flaky.state is not VideoState.FAILED or flaky.key in engine.queue.active:
                await anyio.sleep(0.01)
            engine.pause_submitting()
            engine.request_stop()
            mark = len(events)
            assert engine.retry_failed() == 1
            while not any(isinstance(e, WorkerChanged) and e.activity is Activity.PAUSED for e in events[mark:]):
                await anyio.sleep(0.01)
            before = len(events)
            for _ in range(200):
                await anyio.sleep(0)
            paused_events.append(sum(1 for e in events[before:]
                                     if isinstance(e, WorkerChanged) and e.activity is Activity.PAUSED))
            engine.resume_submitting()

        async def main():
            engine = Engine(session, api_key=KEY, sink=events.append)
            async with anyio.create_task_group() as tg:
                tg.start_soon(steer, engine)
                with anyio.fail_after(120):
                    return await engine.run()

        finished = anyio.run(main)
    assert paused_events and paused_events[0] < 5, f"{paused_events[0]} PAUSED events while nothing changed"
    assert finished.done == 2


def test_pausing_twice_then_resuming_wakes_every_worker(tmp_path):
    urls = [yt(i) for i in range(3)]
    with SimServer(SimConfig(**FAST)) as sim:
        session = make_session(tmp_path, urls, sim.base_url, concurrency=2)

        async def main():
            engine = Engine(session, api_key=KEY, sink=lambda e: None)
            engine.pause_submitting()

            async def steer():
                while not engine.queue.pending:
                    await anyio.sleep(0.01)
                for _ in range(20):
                    await anyio.sleep(0)   # the workers are waiting, paused
                engine.pause_submitting()
                engine.resume_submitting()

            async with anyio.create_task_group() as tg:
                tg.start_soon(steer)
                with anyio.fail_after(60):
                    return await engine.run()

        finished = anyio.run(main)
    assert finished.done == 3


def test_a_submit_answered_within_the_grace_is_kept_even_if_its_record_is_slow(tmp_path, monkeypatch):
    """The grace bounds the wait for deAPI's answer, not the disk write of it: when the grace
    runs out while the request id is being recorded, the video must not be submitted again."""
    monkeypatch.setattr(walk, "SUBMIT_ANSWER_GRACE", 0.3)
    urls = [yt(0)]
    with SimServer(SimConfig(**FAST)) as sim:
        session = make_session(tmp_path, urls, sim.base_url, concurrency=1)
        session.commits.commit_delay = 1.0   # a slow disk: every durable record takes a second
        finished, _ = run_engine(session)
        subs = sim.submissions()
    assert subs[urls[0]] == 1, "the request id was known: never submitted again"
    assert finished.done == 1
    assert not session.videos[0].possibly_paid


def test_resuming_twice_does_not_repeat_a_rejected_line(tmp_path, monkeypatch):
    """A line that could not be expanded has no video, so every resume resolves it again: its
    rejection must still be recorded once, not once per resume (the report lists each)."""
    from bulk_transcribe.core.prepare import prepare_session
    from bulk_transcribe.core.settings import Settings

    from .media_server import closed_port
    from .test_plan import write_batch

    monkeypatch.setenv("BULK_TRANSCRIBE_DATA_DIR", str(tmp_path / "data"))
    batch = write_batch(tmp_path, [yt(1), f"http://127.0.0.1:{closed_port()}/gone.html"])
    with SimServer(SimConfig(**FAST)) as sim:
        settings = Settings(api_base=sim.base_url, output_dir=str(tmp_path / "out"), metadata=False).validate()
        for _ in range(3):
            session, _ = anyio.run(lambda: prepare_session(batch, settings, session_path=tmp_path / "s.toml"))
            run_engine(session)   # the feeder expands the page while the batch runs
    session = Session.open(tmp_path / "s.toml")
    try:
        assert [r.line for r in session.rejected] == [2]
    finally:
        session.close()


def test_retry_failed_resubmits_a_job_deapi_failed_instead_of_polling_it_again(tmp_path):
    """"Retry failed" on a video whose deAPI job failed for good: polling that job again only
    answers "failed" again, so the video gets a new job (failed jobs are not charged)."""
    urls = [yt(0, "slow"), yt(1, "private")]
    # slow outlives the other's first status check (~10 s for a job of unknown length): the run is still on
    faults = {urls[0][-11:]: "slow:25", urls[1][-11:]: "private"}
    with SimServer(SimConfig(faults=faults, **FAST)) as sim:
        session = make_session(tmp_path, urls, sim.base_url, concurrency=2)
        refused = session.videos[1]
        retried: list[int] = []

        async def steer(engine):
            while refused.state is not VideoState.FAILED or refused.key in engine.queue.active:
                await anyio.sleep(0.01)
            assert refused.request_id and refused.category == Category.JOB_FAILED.value
            first_job = refused.request_id
            assert engine.retry_failed() == 0, "a permanent failure is not retried without asking"
            assert engine.permanent_failures()[0] == 1
            retried.append(engine.retry_failed(permanent=True))
            with anyio.move_on_after(60):   # without a new job this never ends: fail, don't hang
                while refused.state is VideoState.FAILED and refused.request_id == first_job:
                    await anyio.sleep(0.01)

        async def main():
            engine = Engine(session, api_key=KEY, sink=lambda e: None)
            async with anyio.create_task_group() as tg:
                tg.start_soon(steer, engine)
                return await engine.run()

        finished = anyio.run(main)
        subs = sim.submissions()
    assert retried == [1]
    assert subs[urls[1]] == 2, "a new job for the retried video, not another poll of the failed one"
    assert finished.done == 1 and finished.failed == 1


def test_quit_while_the_submit_intent_is_saved_is_not_possibly_paid(tmp_path):
    """Quitting while the "about to submit" record is still reaching the disk: nothing was sent,
    so the resumed video is simply queued, not flagged as possibly paid for."""
    urls = [yt(0)]
    with SimServer(SimConfig(**FAST)) as sim:
        session = make_session(tmp_path, urls, sim.base_url, concurrency=1)
        journal = session._journal
        real_append = journal.append

        def slow_disk(records):   # the intent's fsync takes a while, as on a busy disk
            if any(r.get("state") == VideoState.SUBMITTING.value for r in records):
                time.sleep(0.5)
            real_append(records)

        journal.append = slow_disk
        video = session.videos[0]

        async def main():
            engine = Engine(session, api_key=KEY, sink=lambda e: None)
            async with anyio.create_task_group() as tg:
                async def quit_mid_intent():
                    while video.state is not VideoState.SUBMITTING:
                        await anyio.sleep(0.001)
                    tg.cancel_scope.cancel()   # what quitting the app does

                tg.start_soon(quit_mid_intent)
                await engine.run()

        anyio.run(main)
        subs = sim.submissions()
    assert subs == {}, "the quit came before the submit was sent"
    reopened = Session.open(tmp_path / "session.toml")
    try:
        [v] = reopened.videos
        assert v.state is VideoState.QUEUED and not v.possibly_paid and v.attempts == 0
    finally:
        reopened.close()
