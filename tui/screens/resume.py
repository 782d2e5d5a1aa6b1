"""The resume prompt: unfinished sessions found in the data folder, and what to do with them."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ...core.sanitize import clean
from ..messages import DiscardRequested, NewBatchRequested, ResumeRequested
from ..widgets.table import literal
from .modals import Confirm, ask_then_post


def fmt_started(value: Any) -> str:
    """A session's creation time, whatever form the session index gives it in."""
    if isinstance(value, (int, float)):
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(value)) if value > 0 else ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return clean(value, 16)


class ResumeScreen(Screen):
    """Lists `SessionInfo`s; resume, discard (after a y/n) or start a new batch."""

    BINDINGS = [
        Binding("enter,r", "resume", "resume"),
        Binding("d", "discard", "discard"),
        Binding("n", "new", "new batch"),
        Binding("q", "app.quit", "quit"),
    ]
    HELP = (("↑ ↓", "choose a session"), ("enter, r", "resume it where it stopped"),
            ("d", "discard it (asks first; transcripts stay)"), ("n", "a new batch instead"), ("q", "quit"))
    HELP_TITLE = "Keys on the resume prompt"

    def __init__(self, sessions: Sequence[Any]) -> None:
        super().__init__()
        self.sessions = list(sessions)

    def compose(self) -> ComposeResult:
        yield Static(Text("Unfinished sessions", style="bold"), id="resume-title")
        yield Static(Text("Resume one to carry on where it stopped: done videos stay done and "
                          "jobs in flight are picked up by their request id."), id="resume-help")
        yield DataTable(id="sessions", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("batch", key="batch")
        table.add_column("started", key="started")
        table.add_column("done", key="done")
        table.add_column("failed", key="failed")
        self._fill()
        table.focus()

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for i, s in enumerate(self.sessions):
            batch = clean(s.batch, 36) if not getattr(s, "error", "") else f"unreadable: {clean(s.error, 24)}"
            table.add_row(literal(batch), literal(fmt_started(s.created)),
                          literal(f"{s.done}/{s.total}"), literal(str(s.failed)), key=str(i))

    def _current(self) -> Any | None:
        table = self.query_one(DataTable)
        if not self.sessions or table.cursor_row < 0:
            return None
        return self.sessions[min(table.cursor_row, len(self.sessions) - 1)]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_resume()

    def action_resume(self) -> None:
        chosen = self._current()
        if chosen is not None:
            self.post_message(ResumeRequested(chosen.path))

    def action_discard(self) -> None:
        chosen = self._current()
        if chosen is None:
            return

        ask_then_post(self, Confirm(
            f"Discard {clean(chosen.batch, 40)}?",
            "The session file is deleted; transcripts already written stay where they are. "
            "Jobs still in flight on deAPI are abandoned.", yes="discard", no="keep"),
            DiscardRequested(chosen.path))

    def session_discarded(self, path) -> None:
        """The app discarded the session at `path`: drop its row (or leave when none is left)."""
        self.sessions = [s for s in self.sessions if s.path != path]
        if self.sessions:
            self._fill()
        else:
            self.post_message(NewBatchRequested())

    def action_new(self) -> None:
        self.post_message(NewBatchRequested())
