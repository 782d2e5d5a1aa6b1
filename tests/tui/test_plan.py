"""The plan before spending: shown between Start and the run, confirmed when over the balance."""

from __future__ import annotations

import pytest

from bulk_transcribe.core.model import Video
from bulk_transcribe.core.paths import session_path_for
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.store.session import Session
from bulk_transcribe.tui.screens.config import ConfigScreen
from bulk_transcribe.tui.screens.modals import Confirm
from bulk_transcribe.tui.screens.plan import PlanScreen, totals_text
from bulk_transcribe.tui.screens.run import RunScreen
from bulk_transcribe.tui.widgets.plan_table import CHUNK, PlanTable

from .fakes import FakeEngine, make_app, plan_factory, sample_plan, settle, text, until, until_shown

pytestmark = pytest.mark.anyio

@pytest.fixture
def batch(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "talks.txt").write_text("https://www.youtube.com/watch?v=aaaaaaaaaaa\n")
    return "talks.txt"


def record_starts(app) -> list:
    started: list = []
    app.start_planned = lambda request, plan: started.append((request, plan))
    return started


def test_totals_say_what_runs_what_it_costs_and_whether_the_balance_covers_it():
    plan = sample_plan()
    t = totals_text(plan.totals).plain
    assert "6 videos: 6 to run · 1 uploaded (hosts deAPI does not fetch) · 1 duplicate dropped" in t
    assert "1 of unknown length" in t and "$0.0421" in t and "balance $10.00" in t
    assert "NOT ENOUGH" in totals_text(sample_plan(balance=0.01).totals).plain
    assert "balance not known" in totals_text(sample_plan(balance=None).totals).plain


async def test_start_shows_the_plan_and_enter_starts_it(batch):
    plan = sample_plan()
    factory = plan_factory(plan)
    app = make_app(batch_path=batch, plan_factory=factory)
    started = record_starts(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PlanScreen) and screen.plan is plan
        assert factory.calls[0][0] == batch and factory.calls[0][2] == "sk-test-0123456789abcdef"
        assert screen.query_one(PlanTable).row_count == 6
        assert "6 to run" in text(screen, "#plan-totals")
        title = screen.query_one(PlanTable).get_cell_at((1, 3))
        assert title.plain.startswith("Intro to [bold]markup") and title.spans == []
        assert screen.query_one("#plan-problems").row_count == 2
        await pilot.press("enter")
    assert started == [(started[0][0], plan)] and started[0][0].batch_path == batch


async def test_over_the_balance_starting_needs_a_yes(batch):
    plan = sample_plan(balance=0.01)
    app = make_app(batch_path=batch, plan_factory=plan_factory(plan))
    started = record_starts(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("s")
        assert isinstance(app.screen, Confirm)
        assert "Estimated $0.04 exceeds your balance $0.01: start anyway?" in app.screen.title_text
        await pilot.press("n")
        assert isinstance(app.screen, PlanScreen) and started == []
        await pilot.press("enter", "y")
        await settle(pilot)
    assert len(started) == 1


async def test_escape_goes_back_to_the_config_screen_as_it_was(batch):
    app = make_app(batch_path=batch, plan_factory=plan_factory(sample_plan()))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#concurrency").value = "9"
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, PlanScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ConfigScreen)
        assert app.screen.query_one("#concurrency").value == "9"


def recording_engines():
    engines: list = []

    def engine(session, *, api_key, sink):
        engines.append((session, FakeEngine()))
        session.close()
        return engines[-1][1]

    return engines, engine


async def test_with_start_a_new_batch_begins_at_once_without_waiting_for_a_plan(batch):
    """--start: the session and the run exist at once; lookups and the balance are the run's."""
    factory = plan_factory(sample_plan())
    engines, engine = recording_engines()
    app = make_app(batch_path=batch, start=True, settings=Settings(metadata=False), plan_factory=factory,
                   engine_factory=engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        await pilot.press("q", "y")
    assert factory.calls == [], "no plan before starting"
    assert [v.key for v in engines[0][0].videos] == ["youtube:aaaaaaaaaaa"]


async def test_start_now_on_the_plan_begins_while_the_plan_is_still_being_built(batch):
    import anyio

    async def never(batch_path, settings, *, api_key=None, on_progress=None):
        await anyio.sleep_forever()

    engines, engine = recording_engines()
    app = make_app(batch_path=batch, settings=Settings(metadata=False), plan_factory=never, engine_factory=engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await until_shown(pilot, ConfigScreen, "#concurrency")   # ctrl+s sent before the form exists is lost
        await pilot.pause(0.2)
        for _ in range(3):
            # Under load (a CI run, 2026-12-03) the key was lost even so: sent again only while
            # the config screen is still on top after 10 s, so the plan screen never gets it.
            await pilot.press("ctrl+s")
            try:
                await until_shown(pilot, PlanScreen, "#plan-progress", timeout=10.0)
                break
            except AssertionError:
                if not isinstance(app.screen, ConfigScreen):
                    raise
        else:
            raise AssertionError("ctrl+s never opened the plan screen")
        await pilot.pause(0.2)   # the plan screen mounted, its bindings live: a key sent sooner may be lost
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        await pilot.press("q", "y")
    assert len(engines) == 1


async def test_a_batch_with_a_session_resumes_without_a_plan(batch):
    path = session_path_for(batch)
    video = Video(key="youtube:aaaaaaaaaaa", url="https://www.youtube.com/watch?v=aaaaaaaaaaa", vid="aaaaaaaaaaa")
    Session.create(path, batch=batch, settings=Settings(metadata=False), videos=[video]).close()
    factory = plan_factory(sample_plan())
    engines: list = []

    def engine(session, *, api_key, sink):
        session.close()
        engines.append(FakeEngine())
        return engines[-1]

    app = make_app(batch_path=batch, start=True, settings=Settings(metadata=False), plan_factory=factory,
                   engine_factory=engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        await pilot.press("q", "y")
    assert factory.calls == [] and len(engines) == 1


async def test_ten_thousand_rows_are_loaded_a_chunk_at_a_time():
    plan = sample_plan(10_000)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(PlanScreen(lambda say: _ready(plan), title="big.txt"))
        await settle(pilot)
        table = app.screen.query_one(PlanTable)
        assert table.row_count == CHUNK
        assert f"… {10_000 - CHUNK} more" in text(app.screen, "#plan-more")
        await pilot.press("ctrl+end")   # the last loaded row: the next chunk comes in
        await pilot.pause()
        assert table.row_count == 2 * CHUNK
        await pilot.press("ctrl+end")
        await pilot.pause()
        assert table.row_count == 3 * CHUNK and f"… {10_000 - 3 * CHUNK} more" in text(app.screen, "#plan-more")


async def _ready(plan):
    return plan


async def test_the_output_folder_is_shown_absolute_and_the_session_keeps_it(batch, tmp_path):
    plan = sample_plan()
    app = make_app(batch_path=batch, plan_factory=plan_factory(plan), settings=Settings(output_dir="out"))
    started = record_starts(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert f"transcripts to {tmp_path / 'out'}" in text(app.screen, "#plan-totals")
        await pilot.press("enter")
    assert started[0][0].settings.output_dir == str(tmp_path / "out")
