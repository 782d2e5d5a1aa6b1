"""The end of a run: what was done, what failed and why, and where everything is."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from ...core.durations import fmt_duration
from ...core.events import BatchFinished
from ...core.sanitize import clean
from ..messages import ResubmitInDoubtRequested
from ..text import methods_text
from .modals import Confirm, ask_then_post


def summary_text(r: BatchFinished, title: str, elapsed: float | None = None,
                 skipped: dict[str, int] | None = None, *, began: float | None = None, idle: bool = False) -> Text:
    """Fits 80x24 for any number of categories up to about eight. `skipped`: batch lines that
    never became videos, by category (rejected lines and duplicates); `began`: when a resumed
    session was created (wall time), so "took" says it counts this run only; `idle`: this run
    had nothing to do (every video already done or failed for good)."""
    t = Text()
    head = "Nothing to do" if idle else "Stopped" if r.stopped else "Finished"
    t.append(f"{head}: {clean(title, 60)}\n\n", style="bold")
    took = ""
    if elapsed is not None and not idle:
        took = f" · this run took {fmt_duration(elapsed)}" if began else f" · took {fmt_duration(elapsed)}"
    if began:
        took += time.strftime(" (session begun %Y-%m-%d %H:%M)", time.localtime(began))
    t.append(f"  done {r.done} · failed {r.failed} · remaining {r.remaining} · of {r.total}{took}\n")
    if r.halted:
        t.append(f"  Submitting stopped: {clean(r.halted, 400)}.\n", style="bold reverse")
    if how := methods_text(r.methods):
        t.append(f"  done by: {how}\n")
    if r.cost:
        t.append(f"  spent about ${r.cost:.4f}\n")
    if r.in_doubt:
        t.append(f"  {r.in_doubt} video(s) in doubt, maybe charged already (about ${r.in_doubt_cost:.4f}):\n"
                 "  deAPI got the submit but its answer was lost, so it was not sent again.\n"
                 "  Press R to pay for them again.\n", style="bold")
    if r.remaining:
        t.append(f"  {r.remaining} video(s) not finished: reopen to resume the session.\n")
    if idle:
        t.append("  Every video of this session was already done or failed for good, so nothing was sent.\n"
                 "  To run the batch afresh, delete the session file below (transcripts in the output\n"
                 "  folder are adopted, not paid again) or use --session FILE for a separate one;\n"
                 "  --retry-failed tries its permanent failures again.\n")
    if skipped:
        n = sum(skipped.values())
        kinds = ", ".join(f"{count} {clean(category, 20)}" for category, count in sorted(skipped.items()))
        t.append(f"  {n} line(s) of the batch skipped ({kinds}): listed in the error log and the report.\n")
    if r.failures_by_category:
        t.append("\nFailures by category\n", style="bold")
        for category, n in r.failures_by_category:
            t.append(f"  {clean(category, 20):<16}{n}\n")
    t.append("\nWhere things are\n", style="bold")
    t.append(f"  outputs  {clean(r.output_dir)}\n")
    t.append(f"  report   {clean(r.report_path) if r.report_written else 'not written (see the error log)'}\n")
    t.append(f"  session  {clean(r.session_path)}")
    return t


class SummaryScreen(Screen):
    # Escape does not quit: it means "back" everywhere else, and a stray one must not end the app.
    BINDINGS = [Binding("q,enter", "app.quit", "quit"),
                Binding("R", "resubmit", "resubmit possibly paid", show=False)]
    HELP = (("q, enter", "quit (the session and the report are saved)"),
            ("R", "resubmit the videos in doubt (asks first, saying what it may cost)"),
            ("↑ ↓", "scroll"))
    HELP_TITLE = "Keys on the summary"

    def __init__(self, result: BatchFinished, title: str, elapsed: float | None = None, *,
                 skipped: dict[str, int] | None = None, began: float | None = None, idle: bool = False) -> None:
        super().__init__()
        self.result, self.run_title, self.elapsed = result, title, elapsed
        self.skipped, self.began, self.idle = skipped or {}, began, idle

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="summary"):
            yield Static(summary_text(self.result, self.run_title, self.elapsed, self.skipped,
                                      began=self.began, idle=self.idle), id="summary-text")
        yield Footer()

    def action_resubmit(self) -> None:
        """Ask first, saying what it may cost; only a yes sends them again."""
        r = self.result
        if not r.in_doubt:
            self.notify("No video is in doubt.")
            return

        ask_then_post(self, Confirm(
            f"Resubmit {r.in_doubt} possibly paid video(s), about ${r.in_doubt_cost:.2f}?",
            "Their first submit reached deAPI but its answer was lost, so deAPI may already have charged "
            "for them: submitting again may pay twice.", yes="resubmit", no="keep as they are"),
            ResubmitInDoubtRequested(r.session_path))
