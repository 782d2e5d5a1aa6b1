"""The plan's rows as a table that fills itself a chunk at a time.

A 10,000-video plan must not mean 10,000 rows built when the screen opens: the table starts
with one chunk and appends the next when the cursor comes near the end of what is loaded.
Cells are plain text (`literal`), so a title like `[bold]x[/]` is shown, never applied.
"""

from __future__ import annotations

from typing import Sequence

from textual.message import Message
from textual.widgets import DataTable

from ...core.durations import fmt_clock
from ...core.plan import PlanRow
from ...core.sanitize import clean
from .table import literal

CHUNK = 200      # rows added at a time
AHEAD = 20       # load the next chunk when the cursor is this close to the last loaded row


def plan_cells(number: int, row: PlanRow, video_width: int) -> tuple[str, ...]:
    """One row's cells: number, duration, price, title (or URL when unknown), and how deAPI gets it:
    "yes" (it fetches the link), "up" (downloaded here and uploaded), "up×N" (uploaded in N chunks)."""
    price = "-" if row.price_estimate is None else f"${row.price_estimate:.4f}"
    if row.done_already:
        runs = "done"
    else:
        runs = "yes" if row.supported else ("up" if row.chunks <= 1 else f"up×{row.chunks}")
    return (str(number), fmt_clock(row.duration), price,
            clean(row.title or row.url, video_width), runs)


class PlanTable(DataTable):
    COLUMNS = (("#", 5), ("duration", 8), ("price", 8), ("video", 38), ("deAPI", 5))

    class Loaded(Message):
        """More rows were added; `shown` of `total` are in the table now."""

        def __init__(self, shown: int, total: int) -> None:
            super().__init__()
            self.shown, self.total = shown, total

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", **kwargs)
        self._rows: Sequence[PlanRow] = ()
        self.loaded = 0

    def on_mount(self) -> None:
        for label, width in self.COLUMNS:
            self.add_column(label, key=label, width=width)

    def show(self, rows: Sequence[PlanRow]) -> None:
        """Replace the content with `rows`; only the first chunk is built now."""
        self.clear()
        self._rows, self.loaded = rows, 0
        self.load_more()

    @property
    def remaining(self) -> int:
        return len(self._rows) - self.loaded

    def load_more(self) -> int:
        """Append the next chunk; returns how many rows were added."""
        chunk = self._rows[self.loaded:self.loaded + CHUNK]
        if not chunk:
            return 0
        width = self.COLUMNS[3][1]
        self.add_rows([tuple(literal(c) for c in plan_cells(self.loaded + i + 1, row, width))
                       for i, row in enumerate(chunk)])
        self.loaded += len(chunk)
        self.post_message(self.Loaded(self.loaded, len(self._rows)))
        return len(chunk)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.remaining and event.cursor_row >= self.loaded - AHEAD:
            self.load_more()
