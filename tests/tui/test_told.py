"""What the app tells the user about a run: skipped lines, halts, where things are."""

from __future__ import annotations

import pytest

from bulk_transcribe.core.model import Video
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.store.session import Session
from bulk_transcribe.tui.screens.run import RunScreen

from .fakes import FakeEngine, make_app, until_shown

pytestmark = pytest.mark.anyio


def engines(session, *, api_key, sink):
    session.close()
    return FakeEngine()


async def test_rejected_and_duplicate_lines_are_in_the_error_log_and_the_summary(tmp_path):
    from bulk_transcribe.core.store.session import RejectedLine
    from bulk_transcribe.tui.screens.summary import SummaryScreen
    from bulk_transcribe.tui.widgets.table import ErrorTable

    from .fakes import finished

    path = tmp_path / "s.toml"
    video = Video(key="youtube:v0000000001", url="https://youtu.be/v0000000001", vid="v0000000001")
    session = Session.create(path, batch=str(tmp_path / "b.txt"), settings=Settings(), videos=[video], rejected=[
        RejectedLine(2, "not a url", "not a video URL", "input"),
        RejectedLine(3, "https://youtu.be/v0000000001", "duplicate of line 1", "duplicate")])
    app = make_app(engine_factory=engines)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        app.launch(session, resumed=False)
        await until_shown(pilot, RunScreen, "#workers")
        app.repaint_now()
        await pilot.pause()
        log = app.screen.query_one(ErrorTable)
        rows = [tuple(str(c) for c in log.get_row_at(i)) for i in range(log.row_count)]
        assert any("batch line 2" in r and "input" in r and "not a video URL" in r for r in rows), rows
        assert any("batch line 3" in r and "duplicate" in r for r in rows), rows
        assert not app._notifications, "skipped lines go to the log, not one toast each"
        app.engine.finish(finished())
        await app.workers.wait_for_complete()
        app.repaint_now()
        await pilot.pause()
        assert isinstance(app.screen, SummaryScreen)
        summary = str(app.screen.query_one("#summary-text").render())
        assert "2 line(s) of the batch skipped (1 duplicate, 1 input)" in summary


async def test_quitting_mid_run_leaves_where_things_are_and_how_to_resume_on_the_terminal():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        app.attach(FakeEngine(), "lectures.txt")
        await until_shown(pilot, RunScreen, "#workers")
        await pilot.press("q", "y")
        await app.workers.wait_for_complete()
        await pilot.pause()
    goodbye = app.farewell()
    assert goodbye is not None
    for words in ("Stopped: 114 done", "Transcripts: transcripts", "Session:     sessions/lectures-1a2b3c4d.toml",
                  "Resume with: bulk-transcribe resume sessions/lectures-1a2b3c4d.toml"):
        assert words in goodbye, goodbye


async def test_nothing_is_printed_when_nothing_ran():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+q")
    assert app.farewell() is None
