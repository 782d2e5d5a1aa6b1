"""The run screen: a fixed header, one row per worker slot, and the error log.

It holds no state of its own beyond what is on screen: the app folds events into a
`RunView` and calls `repaint` at a bounded rate. Keys call the Engine's API and nothing else.
"""

from __future__ import annotations

import math
import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from ...core.run.controls import RunControls
from ...core.sanitize import clean
from ..messages import QuitRequested, RunSteered
from ..run_view import RunView
from ..widgets.header import RunHeader
from ..widgets.table import ErrorTable, WorkerTable
from .modals import HELP_KEYS, Confirm, ErrorDetail


def error_row(e) -> tuple[str, ...]:
    category = e.category + (" ↻" if e.will_retry else "")
    return (
        time.strftime("%H:%M:%S", time.localtime(e.wall)),
        clean(e.label or e.key, 500),   # whole: the detail shows it; the log cuts it to its column
        category,
        "" if e.status is None else str(e.status),
        clean(e.request_id, 200),
        clean(e.message, 2000),
    )


class RunScreen(Screen):
    """Watch and steer one run through its `RunControls` (the real Engine, or a test's fake)."""

    BINDINGS = [
        # Short labels: the footer fits 80 columns with ^q and ^p; the tooltip is the palette's line.
        Binding("p", "pause", "pause", tooltip="pause or resume submitting (jobs in flight continue)"),
        Binding("s", "stop", "stop", tooltip="graceful stop: no new submits, finish what is in flight"),
        Binding("r", "retry", "retry", tooltip="retry failed videos that may succeed"),
        Binding("l", "toggle_log", "log", tooltip="show or hide the error log"),
        Binding("q", "quit_run", "quit"),
    ]
    HELP = HELP_KEYS
    HELP_TITLE = "Keys on the run screen"

    def __init__(self, engine: RunControls, title: str) -> None:
        super().__init__()
        self.engine = engine
        self.run_title = title
        self._errors_seen = 0
        self._notice = ""

    def compose(self) -> ComposeResult:
        yield RunHeader(id="run-header")
        yield WorkerTable(id="workers")
        yield ErrorTable(id="errors")
        yield Static(id="notice", markup=False)
        yield Footer()

    # -- painting -------------------------------------------------------------------
    def state_word(self, view: RunView) -> str:
        if view.finished is not None:
            return "stopped" if view.finished.stopped else "finished"
        if self.engine.stopping:
            return "stopping: finishing jobs in flight"
        if self.engine.submitting_paused:
            return "submitting paused"
        return "running"

    def repaint(self, view: RunView, now: float) -> None:
        """Show `view` as of `now`. Cheap: ≤ one row per worker slot plus the new errors."""
        # Not yet composed, or being torn down (the app quitting removes the children while the
        # repaint timer may still tick once): nothing to paint. The rest runs without awaiting,
        # so the widgets found here stay for the whole repaint.
        if not self.is_mounted or not self.query(RunHeader):
            return
        self.query_one(RunHeader).show(view, self.run_title, self.state_word(view), now)
        table = self.query_one(WorkerTable)
        # Every row's countdown and elapsed time read one whole-second clock: they all change in
        # the same repaint, once a second, instead of each at its own phase (two or three
        # rewrites of every row a second, which is what a terminal over SSH pays for).
        table.sync([(w.slot, w.video, w.doing, w.progress, w.elapsed)
                    for w in view.worker_lines(math.floor(now), doing_width=table.doing_width)])
        new = min(view.errors_total - self._errors_seen, len(view.errors))
        if new > 0:
            self.query_one(ErrorTable).append(error_row(e) for e in list(view.errors)[-new:])
        self._errors_seen = view.errors_total
        notice = view.notice
        text = f"{notice.level}: {clean(notice.message, 200)}" if notice else ""
        if view.errors_total:
            text = f"errors {view.errors_total}  " + text
        if text != self._notice:
            self._notice = text
            self.query_one("#notice", Static).update(Text(text, no_wrap=True, overflow="ellipsis"))

    # -- keys -----------------------------------------------------------------------
    # Pause and stop say so in the header at once; the engine's own Notice explains them.
    def action_pause(self) -> None:
        if self.engine.submitting_paused:
            self.engine.resume_submitting()
        else:
            self.engine.pause_submitting()
        self.post_message(RunSteered())

    def action_stop(self) -> None:
        if not self.engine.stopping:
            self.engine.request_stop()
        self.post_message(RunSteered())

    def action_retry(self) -> None:
        """Retry what may succeed at once; failures deAPI called final only after a yes that
        says what a success would cost."""
        n = self.engine.retry_failed()
        permanent, cost = self.engine.permanent_failures()
        if n or not permanent:
            self.notify(f"Re-queued {n} failed video(s) that may succeed." if n
                        else "No failed videos to retry.")
        self.post_message(RunSteered())
        if permanent and not isinstance(self.app.screen, Confirm):
            def answered(yes: bool | None) -> None:
                if yes:
                    again = self.engine.retry_failed(permanent=True)
                    self.notify(f"Re-queued {again} permanent failure(s).")
                    self.post_message(RunSteered())

            self.app.push_screen(Confirm(
                f"Also retry {permanent} permanent failure(s)? Up to about ${cost:.2f}",
                "deAPI failed them for good (a private, removed or unreadable video, say): a new submit "
                "most likely fails the same way. Failed jobs are not charged; each one that succeeds "
                "this time is paid for like any other.", yes="retry them too", no="leave them failed"), answered)

    def action_toggle_log(self) -> None:
        log = self.query_one(ErrorTable)
        log.display = not log.display
        if not log.display and log.has_focus:
            self.query_one(WorkerTable).focus()

    def on_error_table_chosen(self, event: ErrorTable.Chosen) -> None:
        self.app.push_screen(ErrorDetail(event.row))

    def action_quit_run(self) -> None:
        self.post_message(QuitRequested())
