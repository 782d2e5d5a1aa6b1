"""Snapshots of every screen, from deterministic events fed through the app's one sink.

Plain (non-async) tests at a fixed size; the clock is injected and times render in UTC.
Review a changed SVG like code: `pytest tests/tui --snapshot-update`, then look at it.
"""

from __future__ import annotations

from bulk_transcribe.core.store.format import SessionInfo

from .fakes import WALL, FakeEngine, failures, finished, make_app, mid_batch, sample_plan


def feed(*batches):
    """A run_before that shows the run screen for a fake engine and settles the given events."""
    async def run_before(pilot):
        app = pilot.app
        app.attach(FakeEngine(), "lectures.txt")
        await pilot.pause()
        for batch in batches:
            for event in batch:
                app.sink(event)
        app.repaint_now()
        await pilot.pause()
    return run_before


def test_run_screen_mid_batch(snap_compare):
    assert snap_compare(make_app(), terminal_size=(110, 32), run_before=feed(mid_batch()))


def test_run_screen_80x24(snap_compare):
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=feed(mid_batch(), failures()))


def test_run_screen_halted_keeps_the_reason_in_view(snap_compare):
    from bulk_transcribe.core.events import Notice

    halt = [Notice(WALL + 300, "error", "deAPI refused the key (401 Unauthorized): check DEAPI_API_KEY (or the key "
                                        "in the config file), then resume. Jobs already paid for are still followed."),
            Notice(WALL + 301, "info", "session saved")]
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=feed(mid_batch(), failures(), halt))


def test_error_log_with_failures(snap_compare):
    async def focus_log(pilot):
        await feed(mid_batch(), failures())(pilot)
        await pilot.press("tab")   # worker panel -> error log
        await pilot.pause()
    assert snap_compare(make_app(), terminal_size=(110, 32), run_before=focus_log)


def test_summary(snap_compare):
    async def finish(pilot):
        await feed(mid_batch(), failures())(pilot)
        pilot.app.engine.finish(finished())
        await pilot.app.workers.wait_for_complete()
        pilot.app.repaint_now()
        await pilot.pause()
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=finish)


def test_config_screen(snap_compare, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)   # a relative batch path, so the snapshot never shows tmp_path
    (tmp_path / "lectures.txt").write_text(
        "# spring term\n"
        "https://www.youtube.com/watch?v=aaaaaaaaaaa\n"
        "https://youtu.be/bbbbbbbbbbb\n"
        "not a url\n"
        "https://www.youtube.com/watch?v=aaaaaaaaaaa\n"
        "ftp://example.com/video.mp4\n"
        "https://www.youtube.com/watch?v=ccccccccccc\n"
    )

    async def settle(pilot):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        pilot.app.screen.query_one("#concurrency").value = "8"
        await pilot.pause()
    app = make_app(batch_path="lectures.txt", api_key=None, key_source="")
    assert snap_compare(app, terminal_size=(80, 30), run_before=settle)


def test_resume_prompt(snap_compare):
    sessions = [
        SessionInfo("/data/sessions/lectures-1a2b.toml", batch="/home/ana/batches/lectures.txt",
                    created=WALL, total=120, done=42, failed=3),
        SessionInfo("/data/sessions/x-9f9f.toml", batch="/home/ana/[bold]odd[/] name.txt",
                    created=WALL - 86_400, total=10_000, done=9_120, failed=31),
    ]

    async def show(pilot):
        from bulk_transcribe.tui.screens.resume import ResumeScreen

        await pilot.app.push_screen(ResumeScreen(sessions))
        await pilot.pause()
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=show)


def test_help_dialog(snap_compare):
    async def help_open(pilot):
        await feed(mid_batch())(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=help_open)


def test_plan_screen_over_the_balance(snap_compare):
    async def show(pilot):
        from bulk_transcribe.tui.screens.plan import PlanScreen

        plan = sample_plan(balance=0.01)

        async def build(_say):
            return plan
        await pilot.app.push_screen(PlanScreen(build, title="lectures.txt"))
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=show)


def test_run_screen_no_color_keeps_the_sparkline_visible(snap_compare, monkeypatch):
    """NO_COLOR (Textual turns every colour to grey): the throughput sparkline used to fade to grey
    235 on 233, invisible; under NO_COLOR its bars are drawn in the text's own colour."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=feed(mid_batch(), failures()))
