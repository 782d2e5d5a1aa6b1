"""The run screen's fixed header: progress, counts, rates, rate-limit buckets, throughput."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline, Static

from ..state import RunView, clean, fmt_duration
from .bar import TextBar


class RunHeader(Vertical):
    """Reads a `RunView` when told to (`show`); it never subscribes to anything itself."""

    def compose(self) -> ComposeResult:
        yield Static(id="run-title", markup=False)
        yield TextBar(id="run-bar")
        yield Static(id="run-counts", markup=False)
        yield Static(id="run-buckets", markup=False)
        with Horizontal(id="run-chart"):
            yield Static("videos/min", id="run-chart-label", markup=False)
            yield Sparkline([], id="run-spark")

    def show(self, view: RunView, title: str, state: str) -> None:
        t = view.totals()
        self.query_one("#run-title", Static).update(
            Text(f"{clean(title, 40)}  {state} · {fmt_duration(t.elapsed)}", no_wrap=True, overflow="ellipsis"))
        self.query_one(TextBar).fraction = (t.done + t.failed) / t.total if t.total else 0.0
        counts = (f"done {t.done}/{t.total} · failed {t.failed} · in flight {t.in_flight} · "
                  f"remaining {t.remaining} · {t.videos_per_min:.1f}/min · ETA {fmt_duration(t.eta_seconds)}")
        self.query_one("#run-counts", Static).update(Text(counts, no_wrap=True, overflow="ellipsis"))
        buckets = view.bucket_text()
        if view.progress is not None:
            p = view.progress
            buckets = f"workers {p.concurrency}/{p.max_concurrency} · {buckets}"
        self.query_one("#run-buckets", Static).update(Text(buckets))
        data = view.throughput()
        spark = self.query_one(Sparkline)
        if list(spark.data or []) != data:
            spark.data = data
