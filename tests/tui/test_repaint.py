"""What a repaint sends the terminal: only what changed (issue 11: ~8 KB/s over SSH at 80x24).

The figure itself is the benchmark's (tests/benchmark/ssh_bytes.py, scenario 8); these tests
hold the two rules it rests on: a changed cell repaints one stretch of its own line, and every
row's clock-driven cells change together, once a second."""

from __future__ import annotations

import pytest
from textual.app import App

from bulk_transcribe.tui.widgets.table import WorkerTable

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


class TableApp(App):
    def compose(self):
        yield WorkerTable()


ROWS = [("1", "Lecture 1", "transcribing, next check 4 s", "10 %", "5s"),
        ("2", "Lecture 2", "transcribing, next check 2 s", "", "3s")]


async def test_a_changed_cell_repaints_one_stretch_of_its_row_and_shows_the_new_value():
    app = TableApp()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(WorkerTable)
        table.sync(ROWS)
        await pilot.pause()
        table._repaint_regions.clear()
        table.sync([ROWS[0][:3] + ("11 %", "6s"), ROWS[1]])
        regions = set(table._repaint_regions)
        assert len(regions) == 1, regions              # not the whole table (update_cell's refresh())
        (region,) = regions
        assert region.height == 1 and region.y == 1 and region.x > 0 and region.width < 20, region
        await pilot.pause()
        line = "".join(seg.text for seg in table.render_line(1))
        assert "11 %" in line and "6s" in line and "Lecture 1" in line
        assert "3s" in "".join(seg.text for seg in table.render_line(2))   # the untouched row is intact


async def test_the_worker_rows_read_one_whole_second_clock():
    from bulk_transcribe.core.events import Activity, WorkerChanged
    from bulk_transcribe.tui.run_view import RunView
    from bulk_transcribe.tui.screens.run import RunScreen

    from .fakes import FakeEngine

    view = RunView()
    view.apply(WorkerChanged(0, Activity.TRANSCRIBING, "youtube:a", "A", since=100.2, until=104.9))   # phases .2, .9
    view.apply(WorkerChanged(1, Activity.TRANSCRIBING, "youtube:b", "B", since=100.7, until=103.1))   # and .7, .1

    class RunApp(App):
        def on_mount(self):
            self.push_screen(RunScreen(FakeEngine(), "t"))

    app = RunApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        table = screen.query_one(WorkerTable)
        seen = []
        for now in (101.0, 101.3, 101.6, 101.9, 102.0):
            screen.repaint(view, now)
            seen.append(tuple(table._shown))
        # Within one second nothing changes, whatever each row's own phase; at the second, all do.
        assert seen[0] == seen[1] == seen[2] == seen[3] != seen[4]
