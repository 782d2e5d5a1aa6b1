"""The run screen's fixed header: progress, counts, rates, rate-limit buckets, throughput."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import Sparkline, Static

from ...core.durations import fmt_duration
from ...core.sanitize import clean
from ..run_view import RunView
from ..text import finding_text, outage_text
from .bar import TextBar


class RunHeader(Vertical):
    """Reads a `RunView` when told to (`show`); it never subscribes to anything itself."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="run-title", markup=False)
        yield Static(id="run-alert", markup=False)
        yield TextBar(id="run-bar")
        yield Static(id="run-counts", markup=False)
        yield Static(id="run-buckets", markup=False)
        with Horizontal(id="run-chart"):
            yield Static("videos/min", id="run-chart-label", markup=False)
            yield Sparkline([], id="run-spark")

    def show(self, view: RunView, title: str, state: str, now: float | None = None) -> None:
        """`now` is the engine's monotonic clock (countdowns such as a server outage's next try)."""
        if not self.children:   # composing, or torn down with its screen: nothing to show on yet
            return
        try:
            self._show(view, title, state, now)
        except NoMatches:   # a line being removed as the screen goes away: nothing to show on
            return

    def _show(self, view: RunView, title: str, state: str, now: float | None) -> None:
        t = view.totals()
        self._set("#run-title", f"{clean(title, 40)}  {state} · {fmt_duration(t.elapsed)}")
        # A failure that stops the batch (a refused key, no balance, a full disk) stays in view,
        # whatever notices come after it; a toast would be gone before the user looks. So does
        # deAPI answering only 5xx for a while, while it lasts.
        alert = view.alert
        lines = [f"! {clean(alert.message, 400)}"] if alert else []
        if view.progress is not None and view.finished is None and (
                outage := outage_text(view.progress, time.monotonic() if now is None else now)):
            lines.append(f"! {outage}")
        self._set("#run-alert", "\n".join(lines), wrap=True)
        self.query_one("#run-alert").display = bool(lines)
        self.query_one(TextBar).fraction = (t.done + t.failed) / t.total if t.total else 0.0
        rate = "—" if t.videos_per_min is None else f"{t.videos_per_min:.1f}"
        self._set("#run-counts", f"done {t.done}/{t.total} · failed {t.failed} · in flight {t.in_flight} · "
                                 f"queued {t.queued} · {rate}/min · ETA {fmt_duration(t.eta_seconds)}")
        buckets = view.bucket_text()
        if view.progress is not None:
            p = view.progress
            # "in flight" never exceeds this: both count videos actually running.
            if p.concurrency_reason:   # auto: the level and why ("in flight 120 (auto: 300/min × 24 s)")
                level = f"in flight up to {p.concurrency} ({p.concurrency_reason})"
            else:
                level = (f"{p.max_concurrency} at once" if p.concurrency >= p.max_concurrency
                         else f"held to {p.concurrency} of {p.max_concurrency} at once")
            buckets = f"{level} · {buckets}"
            if finding := finding_text(p):
                buckets = f"{buckets} · {finding}"
        self._set("#run-buckets", buckets, wrap=True)
        data = view.throughput()
        spark = self.query_one(Sparkline)
        if list(spark.data or []) != data:
            spark.data = data

    def _set(self, selector: str, text: str, wrap: bool = False) -> None:
        """Update a line only when its text changed: an unchanged header costs nothing to send."""
        if self._shown.get(selector) == text:
            return
        self._shown[selector] = text
        self.query_one(selector, Static).update(Text(text) if wrap else Text(text, no_wrap=True, overflow="ellipsis"))
