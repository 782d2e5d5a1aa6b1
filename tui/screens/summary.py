"""The end of a run: what was done, what failed and why, and where everything is."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from ...core.events import BatchFinished
from ...core.sanitize import clean
from ..text import fmt_duration


def summary_text(r: BatchFinished, title: str, elapsed: float | None = None) -> Text:
    """Fits 80x24 for any number of categories up to about eight."""
    t = Text()
    head = "Stopped" if r.stopped else "Finished"
    t.append(f"{head}: {clean(title, 60)}\n\n", style="bold")
    took = f" · took {fmt_duration(elapsed)}" if elapsed is not None else ""
    t.append(f"  done {r.done} · failed {r.failed} · remaining {r.remaining} · of {r.total}{took}\n")
    if r.possibly_paid:
        t.append(f"  {r.possibly_paid} submit(s) got no answer and may have been charged.\n")
    if r.remaining:
        t.append(f"  {r.remaining} video(s) not finished: reopen to resume the session.\n")
    if r.failures_by_category:
        t.append("\nFailures by category\n", style="bold")
        for category, n in r.failures_by_category:
            t.append(f"  {clean(category, 20):<16}{n}\n")
    t.append("\nWhere things are\n", style="bold")
    t.append(f"  outputs  {clean(r.output_dir)}\n")
    t.append(f"  report   {clean(r.report_path)}\n")
    t.append(f"  session  {clean(r.session_path)}")
    return t


class SummaryScreen(Screen):
    BINDINGS = [Binding("q,enter,escape", "app.quit", "quit")]

    def __init__(self, result: BatchFinished, title: str, elapsed: float | None = None) -> None:
        super().__init__()
        self.result, self.run_title, self.elapsed = result, title, elapsed

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="summary"):
            yield Static(summary_text(self.result, self.run_title, self.elapsed), id="summary-text")
        yield Footer()
