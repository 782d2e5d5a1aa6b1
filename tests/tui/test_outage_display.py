"""A long 5xx outage (deAPI down for hours) is one statement: the header, the worker row and the
headless progress line name it ("deAPI answering 503 for 12 m; next try in 40 s")."""

from __future__ import annotations

import dataclasses
import io

import pytest

from bulk_transcribe.core.events import Activity, ServerTrouble, WorkerChanged
from bulk_transcribe.tui.headless import HeadlessPrinter
from bulk_transcribe.tui.widgets.table import WorkerTable

from .fakes import NOW, make_app, mid_batch, progress, until
from .test_keys import alert_with, rendered_with, started

OUTAGE = ServerTrouble(status=503, since=NOW - 725, tries=42, next_try=NOW + 40)


def down() -> list:
    return [dataclasses.replace(progress(42, 320.0), server_trouble=OUTAGE),
            WorkerChanged(2, Activity.BACKING_OFF, "youtube:dQw4w9WgXcQ", "A talk", detail="503 for 12 m",
                          until=NOW + 40, since=NOW - 20)]


@pytest.mark.anyio
async def test_the_header_and_the_worker_row_name_a_long_outage():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, mid_batch(), down())
        alert = await alert_with(pilot, "deAPI answering 503 for 12 m; next try in 40 s")
        assert "deAPI answering 503 for 12 m; next try in 40 s" in alert, alert
        assert app.screen.query_one("#run-alert").display
        rows = await rendered_with(pilot, app.screen.query_one(WorkerTable), "backing off 40 s after 503 for 12 m")
        assert any("backing off 40 s after 503 for 12 m" in row for row in rows), rows
        pilot.app.sink(progress(43, 321.0))   # deAPI answers again: the line goes
        pilot.app.repaint_now()
        await until(pilot, lambda: not app.screen.query_one("#run-alert").display, timeout=15.0, what="alert gone")


def test_headless_progress_names_the_outage():
    err = io.StringIO()
    printer = HeadlessPrinter(err=err, clock=lambda: NOW)
    printer(down()[0])
    assert "deAPI answering 503 for 12 m; next try in 40 s" in err.getvalue(), err.getvalue()
