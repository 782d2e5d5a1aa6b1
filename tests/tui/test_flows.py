"""The app against the real engine and the simulated deAPI over loopback HTTP.

Waiting is done by polling the app or the simulator between short pilot pauses, with a
deadline; nothing here depends on how fast the machine is beyond that deadline.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bulk_transcribe.core.model import Video, VideoState
from bulk_transcribe.core.paths import sessions_dir
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.simulator import SimConfig, SimServer
from bulk_transcribe.core.store.session import Session
from bulk_transcribe.tui.app import build_app
from bulk_transcribe.tui.screens.modals import Confirm
from bulk_transcribe.tui.screens.plan import PlanScreen
from bulk_transcribe.tui.screens.resume import ResumeScreen
from bulk_transcribe.tui.screens.run import RunScreen
from bulk_transcribe.tui.screens.summary import SummaryScreen

from .fakes import shown, until

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def videos(n: int) -> list[Video]:
    out = []
    for i in range(n):
        vid = f"tuiflow{i:04d}"
        title = "A [bold]title[/] with \x1b[31mescapes" if i == 1 else f"Video {i}"
        out.append(Video(key=f"youtube:{vid}", url=f"https://www.youtube.com/watch?v={vid}", vid=vid, title=title))
    return out


@pytest.fixture
def sim():
    with SimServer(SimConfig(latency=(0.6, 1.5), seed=3)) as server:
        yield server


def saved_session(tmp_path: Path, sim, n: int) -> tuple[Path, Settings]:
    settings = Settings(output_dir=str(tmp_path / "out"), api_base=sim.base_url, metadata=False, concurrency=3)
    path = sessions_dir() / "lectures.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    Session.create(path, batch=str(tmp_path / "lectures.txt"), settings=settings, videos=videos(n),
                   rejected=[]).close()
    return path, settings


async def test_quit_mid_run_then_resume_from_the_prompt_finishes_with_no_second_submit(tmp_path, sim):
    path, settings = saved_session(tmp_path, sim, 8)
    # As `bulk-transcribe resume SESSION` does: the session's settings, command line on top.
    first = build_app(settings=settings, api_key="sim-key", key_source="test", session_path=str(path),
                      start=True, testing=True)
    async with first.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: shown(first, RunScreen, "#workers"), what="the run screen")
        await until(pilot, lambda: len(sim.submissions()) >= 3, what="three submits")
        await pilot.press("q")
        assert isinstance(first.screen, Confirm)
        await pilot.press("y")
        await until(pilot, lambda: not first.is_running, what="the app to exit")
    assert first.return_value == 1
    paid_before = sim.submissions()
    assert 3 <= len(paid_before) < 8

    # The host in force (the user's config names the simulator): a session never chooses it.
    second = build_app(settings=Settings(api_base=sim.base_url), api_key="sim-key", key_source="test", testing=True)
    async with second.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: shown(second, ResumeScreen, "#sessions"), what="the resume prompt")
        await pilot.press("enter")
        await until(pilot, lambda: shown(second, SummaryScreen, "#summary-text"), timeout=60, what="the summary")
        assert second.view.finished is not None and second.view.finished.done == 8
        await pilot.press("q")
    assert second.return_value == 0
    paid = sim.submissions()
    assert len(paid) == 8 and set(paid.values()) == {1}, paid   # nobody paid twice
    reopened = Session.open(path)
    try:
        assert all(v.state is VideoState.DONE for v in reopened.videos)
    finally:
        reopened.close()


async def test_configure_run_summary(tmp_path, sim):
    ids = [f"cfgflow{i:04d}" for i in range(4)]
    batch = tmp_path / "talks.txt"
    lines = [f"https://www.youtube.com/watch?v={vid}" for vid in ids]
    batch.write_text("\n".join([*lines, "not a url", lines[0]]) + "\n")
    settings = Settings(output_dir=str(tmp_path / "out"), api_base=sim.base_url, metadata=False, concurrency=3)
    app = build_app(settings=settings, api_key="sim-key", key_source="DEAPI_API_KEY", testing=True)
    async with app.run_test(size=(100, 40)) as pilot:
        await until(pilot, lambda: app.screen.query("#batch"), what="the config screen")
        app.screen.query_one("#batch").value = str(batch)
        await until(pilot, lambda: "4 valid" in str(app.screen.query_one("#batch-info").render()),
                    what="the batch counts")
        info = str(app.screen.query_one("#batch-info").render())
        assert "1 invalid" in info and "1 duplicate" in info and "line 5" in info
        await pilot.press("ctrl+s")
        # The plan first (the real build_plan against the simulator's balance route), then enter.
        await until(pilot, lambda: isinstance(app.screen, PlanScreen) and app.screen.plan is not None,
                    what="the plan")
        assert app.screen.plan.totals.to_run == 4 and app.screen.plan.totals.balance is not None
        assert sim.submissions() == {}
        await pilot.press("enter")
        await until(pilot, lambda: shown(app, RunScreen, "#workers"), what="the run screen")
        await until(pilot, lambda: shown(app, SummaryScreen, "#summary-text"), timeout=60, what="the summary")
        result = app.view.finished
        assert (result.done, result.failed, result.remaining) == (4, 0, 0)
        assert Path(result.output_dir).is_dir() and len(list(Path(result.output_dir).glob("*.txt"))) == 4
        await pilot.press("q")
    assert app.return_value == 0
    assert sorted(sim.submissions().values()) == [1, 1, 1, 1]
    session = Session.open(sessions_dir() / next(p.name for p in sessions_dir().glob("talks-*.toml")))
    try:   # made from the plan: the bad line and the duplicate are recorded as before
        assert [(r.line, r.category) for r in session.rejected] == [(5, "input"), (6, "duplicate")]
        assert session.rejected[1].reason == "duplicate of line 1"
    finally:
        session.close()


async def test_graceful_stop_finishes_what_is_in_flight_and_submits_nothing_new(tmp_path, sim):
    path, settings = saved_session(tmp_path, sim, 8)
    app = build_app(settings=settings, api_key="sim-key", key_source="test", session_path=str(path),
                    start=True, testing=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: len(sim.submissions()) >= 2, what="two submits")
        await pilot.press("s")
        stopped_at = len(sim.submissions())
        await until(pilot, lambda: shown(app, SummaryScreen, "#summary-text"), timeout=60, what="the summary")
        result = app.view.finished
        assert result.stopped and result.remaining > 0
        assert "Stopped" in str(app.screen.query_one("#summary-text").render())
        await pilot.press("q")
    # Jobs on the wire when s was pressed may still land; nothing after them.
    assert len(sim.submissions()) <= stopped_at + settings.concurrency
    assert result.done == len(sim.submissions())


async def test_the_summary_resubmits_the_videos_in_doubt_only_after_a_yes_naming_the_cost(tmp_path, sim):
    """A submit whose connection was reset after deAPI made its job leaves its video in doubt; the
    summary's R asks with the cost, a no pays nothing, a yes resumes with that video sent again:
    one more job in the ledger, for it only."""
    path, settings = saved_session(tmp_path, sim, 3)
    lost = videos(3)[2].url   # the last: the first answers teach --plan auto the account's limits
    sim.set_config(faults={lost[-11:]: "reset:1"})
    app = build_app(settings=settings, api_key="sim-key", key_source="test", session_path=str(path),
                    start=True, testing=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: shown(app, SummaryScreen, "#summary-text"), timeout=60, what="the summary")
        first = app.view.finished
        assert (first.done, first.in_doubt) == (2, 1) and first.in_doubt_cost > 0
        assert sim.submissions() == {v.url: 1 for v in videos(3)}
        await pilot.press("R")
        assert isinstance(app.screen, Confirm) and "Resubmit 1 possibly paid" in app.screen.title_text
        assert "$" in app.screen.title_text
        await pilot.press("n")
        await pilot.pause()
        assert sim.submissions()[lost] == 1, "a no pays nothing"
        await pilot.press("R", "y")
        await until(pilot, lambda: sim.submissions()[lost] == 2 and shown(app, SummaryScreen, "#summary-text")
                    and app.view.finished is not first, timeout=60, what="the resubmitted run's summary")
        assert app.view.finished.done == 3 and app.view.finished.in_doubt == 0
        await pilot.press("q")
    paid = sim.submissions()
    assert paid[lost] == 2 and all(n == 1 for url, n in paid.items() if url != lost), paid
