"""Pilot tests of the run screen's keys, the modals and the repaint discipline.

A fake engine records which Engine methods the keys called: the screen owns no behaviour.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from textual.widgets import DataTable

from bulk_transcribe.core.events import Activity, WorkerChanged
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.tui.screens.modals import Confirm, ErrorDetail, HelpScreen
from bulk_transcribe.tui.screens.run import RunScreen
from bulk_transcribe.tui.screens.summary import SummaryScreen
from bulk_transcribe.tui.widgets.table import ErrorTable, WorkerTable

from .fakes import NOW, FakeEngine, failures, finished, make_app, mid_batch, progress, until, until_shown

pytestmark = pytest.mark.anyio


async def started(pilot, *batches) -> FakeEngine:
    engine = FakeEngine()
    pilot.app.attach(engine, "lectures.txt")
    await until_shown(pilot, RunScreen, "#run-title")
    for batch in batches:
        for event in batch:
            pilot.app.sink(event)
    pilot.app.repaint_now()
    await pilot.pause()
    return engine


async def test_keys_call_the_engine_api():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        engine = await started(pilot, mid_batch())
        await pilot.press("p")
        assert engine.calls == ["pause"] and "submitting paused" in str(app.screen.query_one("#run-title").render())
        await pilot.press("p", "r", "s")
        assert engine.calls == ["pause", "resume", "retry", "stop"]
        assert "stopping" in str(app.screen.query_one("#run-title").render())
        await pilot.press("s")   # a second stop is not sent twice
        assert engine.calls.count("stop") == 1


async def test_log_toggle_help_and_error_detail():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, mid_batch(), failures())
        log = app.screen.query_one(ErrorTable)
        assert log.display and log.row_count == 4
        await pilot.press("l")
        assert not log.display
        await pilot.press("l", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, RunScreen)
        await pilot.press("tab")
        assert log.has_focus
        await pilot.press("enter")   # the last (newest) error, in full
        assert isinstance(app.screen, ErrorDetail)
        assert app.screen.row[3] == "" and app.screen.row[2] == "network ↻"
        await pilot.press("escape")
        assert isinstance(app.screen, RunScreen)


async def test_quit_asks_while_running_and_cancels_the_engine_on_yes():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        engine = await started(pilot, mid_batch())
        await pilot.press("q")
        assert isinstance(app.screen, Confirm)
        await pilot.press("n")
        assert isinstance(app.screen, RunScreen) and app.running
        await pilot.press("q", "y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert engine.cancelled
    assert app.return_value == 1   # unfinished: the session is saved for a resume


async def test_finish_shows_the_summary_and_q_quits_without_asking():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        engine = await started(pilot, mid_batch())
        await pilot.press("question_mark")      # a dialog left open must not hide the summary
        engine.finish(finished())
        await app.workers.wait_for_complete()
        app.repaint_now()
        await pilot.pause()
        assert isinstance(app.screen, SummaryScreen)
        await pilot.press("q")
    assert app.return_value == 1   # 4 failed, 2 remaining


async def test_events_are_buffered_and_repainted_in_one_go():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        screen = app.screen
        painted = []
        original = screen.repaint
        screen.repaint = lambda view, now: (painted.append(view.version), original(view, now))
        for i in range(5_000):   # a burst: nothing is drawn per event
            app.sink(WorkerChanged(i % 5, Activity.TRANSCRIBING, f"k{i}", f"video {i}", progress=i % 100, since=NOW))
        app.sink(progress(10, 30.0))
        assert painted == [] and len(app._inbox) == 5_001
        app.repaint_now()
        assert len(painted) == 1 and not app._inbox
        workers = screen.query_one(WorkerTable)
        assert workers.row_count == 5      # one row per slot, never per video


async def test_hostile_titles_render_literally():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, mid_batch(), failures())
        table = app.screen.query_one(WorkerTable)
        cell = table.get_cell("1", "video")
        assert cell.plain.startswith("Intro to [bold]markup") and cell.spans == []
        log = app.screen.query_one(ErrorTable)
        texts = [log.get_row_at(i)[1].plain for i in range(log.row_count)]
        assert "Talk about [red]colour[/red]" in texts   # whole: the column cuts it, the detail shows it


async def test_resume_prompt_keys(tmp_path):
    from bulk_transcribe.core.store.format import SessionInfo
    from bulk_transcribe.tui.screens.resume import ResumeScreen

    resumed, discarded = [], []
    app = make_app()
    app.resume_session = lambda path, settings=None: resumed.append(path)
    app.discard_session = lambda path: discarded.append(path) or True
    infos = [SessionInfo(tmp_path / "a.toml", batch="a.txt", total=3, done=1),
             SessionInfo(tmp_path / "b.toml", batch="b.txt", total=5, done=0)]
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(ResumeScreen(infos))
        await pilot.pause()
        await pilot.press("down", "d")
        assert isinstance(app.screen, Confirm)
        await pilot.press("y")
        assert discarded == [tmp_path / "b.toml"]
        assert app.screen.query_one(DataTable).row_count == 1
        await pilot.press("enter")
        assert resumed == [tmp_path / "a.toml"]


async def test_no_color_still_tells_states_apart(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TEXTUAL_COLOR_SYSTEM", "standard")
    app = make_app()
    assert app.no_color
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        from bulk_transcribe.tui.widgets.tick import Tick

        ticks = {t.id: str(t.render()) for t in app.screen.query(Tick)}
        assert "X" in ticks["fmt-txt"] and "X" not in ticks["fmt-srt"]
        await started(pilot, mid_batch(), failures())
        bar = str(app.screen.query_one("#run-bar").render())
        assert "█" in bar and "░" in bar   # done and to-do differ by glyph, not colour


async def test_warnings_from_the_engine_pop_up_but_info_stays_on_the_notice_line():
    from bulk_transcribe.core.events import Notice

    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, [Notice(0, "info", "session saved"),
                              Notice(0, "warning", "daily submit limit reached: [b]paused[/b] until 00:00")])
        toasts = [str(n.message) for n in app._notifications]
        assert toasts == ["daily submit limit reached: [b]paused[/b] until 00:00"]
        assert "warning: daily submit limit" in str(app.screen.query_one("#notice").render())


async def test_discard_from_the_prompt_goes_through_core_and_keeps_the_lock_file(tmp_path):
    from bulk_transcribe.core.model import Video
    from bulk_transcribe.core.store.format import lock_path
    from bulk_transcribe.core.store.session import Session, list_sessions
    from bulk_transcribe.tui.screens.resume import ResumeScreen

    path = tmp_path / "a.toml"
    video = Video(key="youtube:v000000001", url="https://youtu.be/v000000001", vid="v000000001")
    Session.create(path, batch="a.txt", settings=Settings(), videos=[video]).close()
    busy = Session.open(path)   # held elsewhere: refused with a message, nothing deleted
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(ResumeScreen(list_sessions(tmp_path)))
        await pilot.pause()
        await pilot.press("d", "y")
        await pilot.pause()
        assert path.exists() and "Not discarded" in str(list(app._notifications)[-1].message)
        busy.close()
        await pilot.press("d", "y")
        await pilot.pause()
    assert not path.exists() and lock_path(path).exists()


def test_the_fake_engine_and_the_real_one_share_one_contract(tmp_path):
    """The screens program against RunControls; a fake that drifted from the Engine would
    let the app's tests pass against an API the engine no longer has."""
    from bulk_transcribe.core.run.controls import RunControls
    from bulk_transcribe.core.run.engine import Engine
    from bulk_transcribe.tui.remote_engine import RemoteEngine
    from tests.core.engine_harness import make_session

    session = make_session(tmp_path, [], "http://127.0.0.1:9")
    try:
        engines = [Engine(session, api_key="k", sink=lambda e: None), FakeEngine(),
                   RemoteEngine(lambda e: None, name="batch")]   # the service's batch, as the app drives it
        for engine in engines:
            assert isinstance(engine, RunControls), type(engine)
            for name in ("pause_submitting", "resume_submitting", "request_stop", "retry_failed", "permanent_failures"):
                # the same parameters as the contract (isinstance only sees that the names exist)
                assert (list(inspect.signature(getattr(engine, name)).parameters)
                        == list(inspect.signature(getattr(RunControls, name)).parameters)[1:]), (type(engine), name)
    finally:
        session.close()


async def test_the_summary_asks_before_paying_again_for_videos_in_doubt(tmp_path):
    """R on the summary: a question that says what it may cost; only a yes resubmits."""
    import dataclasses

    from bulk_transcribe.tui.screens.summary import SummaryScreen

    from .fakes import finished, text

    resumed: list = []
    app = make_app()
    app.resume_session = lambda path, settings=None, resubmit_in_doubt=False: resumed.append((path, resubmit_in_doubt))
    result = dataclasses.replace(finished(), in_doubt=2, in_doubt_cost=0.0123)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(SummaryScreen(result, "lectures.txt"))
        await pilot.pause()
        assert "2 video(s) in doubt" in text(app.screen, "#summary-text") and "$0.0123" in text(app.screen, "#summary-text")
        await pilot.press("R")
        assert isinstance(app.screen, Confirm) and "$0.01" in app.screen.title_text
        await pilot.press("n")
        assert resumed == []
        await pilot.press("R", "y")
        await pilot.pause()
    assert resumed == [(Path(result.session_path), True)]


async def test_retry_takes_what_may_succeed_and_asks_before_permanent_failures():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        engine = FakeEngine(retryable=2, permanent=3)
        app.attach(engine, "lectures.txt")
        await until_shown(pilot, RunScreen, "#run-title")
        await pilot.press("r")
        assert engine.calls == ["retry"], "nothing permanent is re-queued without a yes"
        assert isinstance(app.screen, Confirm) and "3 permanent failure(s)" in app.screen.title_text
        assert "$0.04" in app.screen.title_text
        await pilot.press("n")
        assert engine.calls == ["retry"] and engine.permanent == 3
        await pilot.press("r", "y")
        assert engine.calls == ["retry", "retry", "retry permanent"] and engine.permanent == 0


async def test_a_failure_that_stops_the_batch_stays_on_screen_then_on_the_summary():
    import dataclasses

    from bulk_transcribe.core.events import Notice

    halt = "deAPI refused the key (401 Unauthorized): check DEAPI_API_KEY (or the key in the config file), then resume"
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        engine = await started(pilot, mid_batch())
        app.sink(Notice(0, "error", halt + ". Jobs already paid for are still followed."))
        for i in range(5):   # later notices must not push it away
            app.sink(Notice(0, "info", f"session saved {i}"))
        app.repaint_now()
        assert "refused the key" in await alert_with(pilot, "refused the key")
        assert app.screen.query_one("#run-alert").display
        engine.finish(dataclasses.replace(finished(stopped=True), halted=halt))
        await app.workers.wait_for_complete()
        app.repaint_now()
        await pilot.pause()
        assert isinstance(app.screen, SummaryScreen)
        summary = str(app.screen.query_one("#summary-text").render())
        assert "Submitting stopped: deAPI refused the key" in summary and "check DEAPI_API_KEY" in summary


async def test_help_on_every_screen_and_never_typed_into_a_field(tmp_path):
    from bulk_transcribe.core.store.format import SessionInfo
    from bulk_transcribe.tui.screens.config import ConfigScreen
    from bulk_transcribe.tui.screens.resume import ResumeScreen

    app = make_app(api_key=None, key_source="")
    async with app.run_test(size=(80, 24)) as pilot:
        await until_shown(pilot, ConfigScreen, "#batch")
        assert app.screen.query_one("#batch").has_focus
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen) and "config screen" in app.screen.help_title
        await pilot.press("question_mark")   # ? again closes it
        assert isinstance(app.screen, ConfigScreen) and app.screen.query_one("#batch").value == ""
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        await app.push_screen(ResumeScreen([SessionInfo("/s.toml", batch="/b.txt", created=0, total=1)]))
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen) and "resume prompt" in app.screen.help_title
        await pilot.press("escape")
        await pilot.pause()
        engine = FakeEngine()
        app.attach(engine, "lectures.txt")
        await until_shown(pilot, RunScreen, "#workers")
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen) and "run screen" in app.screen.help_title
        await pilot.press("escape")
        await pilot.pause()
        engine.finish(finished())
        await app.workers.wait_for_complete()
        app.repaint_now()
        await pilot.pause()
        assert isinstance(app.screen, SummaryScreen)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen) and "summary" in app.screen.help_title
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("escape")   # escape on the summary does not end the app
        await pilot.pause()
        assert isinstance(app.screen, SummaryScreen) and app.is_running
        await pilot.press("q")


async def test_ctrl_c_explains_quitting_and_the_palette_lists_the_screens_actions():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, mid_batch())
        await pilot.press("ctrl+c")
        await pilot.pause()
        said = [n.message for n in app._notifications]
        assert any("Ctrl+C does not quit the app. Press q" in m for m in said), said
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert titles[:5] == ["Pause", "Stop", "Retry", "Log", "Quit"] and "Help" in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        from textual.command import CommandPalette
        assert isinstance(app.screen, CommandPalette)


def _rendered(widget) -> list[str]:
    """The lines the widget draws, as the terminal would show them."""
    return [widget.render_line(y).text for y in range(widget.size.height)]


async def rendered_with(pilot, widget, words: str) -> list[str]:
    """The widget's lines once one holds `words` (bounded: a loaded machine may lay it out a
    refresh later; a missing line still fails, with what was drawn)."""
    try:
        await until(pilot, lambda: any(words in line for line in _rendered(widget)), timeout=15.0, what=words)
    except AssertionError:
        pass   # the caller's assert shows the lines
    return _rendered(widget)


async def alert_with(pilot, words: str) -> str:
    """The run screen's alert line once it shows `words` (bounded, as `rendered_with`)."""
    def shown() -> bool:
        alert = pilot.app.screen.query_one("#run-alert")
        return alert.display and words in str(alert.render())
    try:
        await until(pilot, shown, timeout=15.0, what=words)
    except AssertionError:
        pass
    return str(pilot.app.screen.query_one("#run-alert").render())


async def test_widths_follow_the_terminal_so_messages_and_countdowns_are_not_cut():
    from bulk_transcribe.core.events import ErrorLogged

    from .fakes import WALL

    message = "502 Bad Gateway: upstream did not answer within 60 s"
    gateway = ErrorLogged(WALL + 5, "youtube:zzz", "A talk", "server", message, status=502,
                          request_id="req-5020aa", will_retry=True)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await started(pilot, mid_batch(), [gateway])
        lines = await rendered_with(pilot, app.screen.query_one(ErrorTable), message)
        assert any(message in line for line in lines), lines
    waiting = WorkerChanged(0, Activity.WAITING_RATE, "youtube:aaa", "Lecture 12",
                            detail="429 Too Many Requests from submit", until=NOW + 26, since=NOW - 1)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, mid_batch(), [waiting])
        lines = await rendered_with(pilot, app.screen.query_one(WorkerTable), "waiting for the rate limit 26 s")
        assert any("waiting for the rate limit 26 s" in line for line in lines), lines
