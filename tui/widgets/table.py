"""Tables whose cells are always plain text: a title like `[bold]x[/]` is shown, never applied."""

from __future__ import annotations

from typing import Iterable, Sequence

from rich.text import Text
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey


def literal(value: object) -> Text:
    """A cell that Rich will never parse as markup (DataTable would parse a bare str)."""
    return value if isinstance(value, Text) else Text(str(value), no_wrap=True, overflow="ellipsis")


def _set_widths(table: DataTable, widths: dict[str, int]) -> None:
    """Give columns new widths (DataTable has no public way) and re-lay the table once."""
    changed = False
    for key, width in widths.items():
        column = table.columns.get(ColumnKey(key))
        if column is not None and (column.width != width or column.auto_width):
            column.width, column.auto_width = width, False
            changed = True
    if changed:
        table._require_update_dimensions = True
        table._clear_caches()
        table.refresh()


def split_extra(room: int, minimum: dict[str, int], share: dict[str, float]) -> dict[str, int]:
    """Columns at their minimum widths, plus `room` beyond those shared out by `share`."""
    extra = max(room - sum(minimum.values()), 0)
    out = {k: w + int(extra * share.get(k, 0)) for k, w in minimum.items()}
    last = next(reversed(share)) if share else None
    if last is not None:   # the rounding's leftovers go to the last shared column
        out[last] += max(room - sum(out.values()), 0) if extra else 0
    return out


class WorkerTable(DataTable):
    """One stable row per worker slot; a repaint touches only the cells that changed.

    At 80 columns the doing column keeps 34 cells (a countdown and its reason); a wider terminal
    gives the extra width to the title and the doing columns."""

    COLUMNS = (("#", "slot", 2), ("video", "video", 22), ("doing", "doing", 34),
               ("%", "progress", 5), ("elapsed", "elapsed", 7))
    MINIMUM = {"video": 20, "doing": 34}
    SHARE = {"video": 0.5, "doing": 0.5}

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, show_cursor=True, **kwargs)
        self._shown: list[tuple[str, ...]] = []

    def on_mount(self) -> None:
        for label, key, width in self.COLUMNS:
            self.add_column(label, key=key, width=width)

    def on_resize(self) -> None:
        fixed = sum(w for _, k, w in self.COLUMNS if k not in self.MINIMUM)
        room = self.size.width - 1 - 2 * len(self.COLUMNS) - fixed   # a cell of padding each side; a scrollbar
        _set_widths(self, split_extra(room, self.MINIMUM, self.SHARE))

    @property
    def doing_width(self) -> int:
        column = self.columns.get(ColumnKey("doing"))
        return column.width if column is not None else self.COLUMNS[2][2]

    def sync(self, lines: Sequence[Sequence[str]]) -> None:
        keys = [k for _, k, _ in self.COLUMNS]
        for i, line in enumerate(lines):
            cells = tuple(line)
            if i >= len(self._shown):
                self.add_row(*(literal(c) for c in cells), key=str(i))
                self._shown.append(cells)
                continue
            old = self._shown[i]
            if old == cells:
                continue
            changed = [column for column, (before, after) in enumerate(zip(old, cells)) if before != after]
            for column in changed:
                self._data[RowKey(str(i))][ColumnKey(keys[column])] = literal(cells[column])
            self._update_count += 1   # the row render cache is keyed on it
            self._refresh_cells(i, changed)
            self._shown[i] = cells
        # Slots only grow during a run; drop extras only if a new run starts smaller.
        while len(self._shown) > len(lines):
            self.remove_row(str(len(self._shown) - 1))
            self._shown.pop()


    def _refresh_cells(self, row: int, columns: list[int]) -> None:
        """Repaint only these cells of `row`, as one stretch of the line (DataTable's `update_cell`
        repaints every line of the table, heading and empty rows included: with a countdown and
        an elapsed time ticking in every row, that was the whole worker block a few times a
        second, about 6 KB/s at 80x24 over SSH). One stretch, because Textual writes each dirty
        stretch of a line from the widget's left edge: two cells refreshed apart cost two lines."""
        regions = [self._get_cell_region(Coordinate(row, column)) for column in columns]
        if regions:
            self._refresh_region(Region.from_union(regions))


class ErrorTable(DataTable):
    """The error log: newest at the bottom, bounded to `limit` rows (older ones drop off).

    Rows are appended as errors arrive, so its cost is per error, never per video. The
    message column takes most of the screen's width and is cut at its edge; Enter on a row
    posts `Chosen` with the whole row (every field uncut) so the screen can show it in full.
    """

    COLUMNS = (("time", 8), ("video", 18), ("category", 16), ("message", 29))
    MINIMUM = {"video": 18, "message": 29}
    SHARE = {"video": 0.3, "message": 0.7}   # a wide terminal's extra width goes mostly to the message

    class Chosen(Message):
        def __init__(self, row: tuple[str, ...]) -> None:
            super().__init__()
            self.row = row

    def __init__(self, *, limit: int = 500, **kwargs) -> None:
        super().__init__(cursor_type="row", **kwargs)
        self.limit = limit
        self._next = 0
        self._first = 0
        self._rows: dict[str, tuple[str, ...]] = {}

    def on_mount(self) -> None:
        for label, width in self.COLUMNS:
            self.add_column(label, key=label, width=width)

    def on_resize(self) -> None:
        fixed = sum(w for k, w in self.COLUMNS if k not in self.MINIMUM)
        room = self.size.width - 1 - 2 * len(self.COLUMNS) - fixed
        _set_widths(self, split_extra(room, self.MINIMUM, self.SHARE))

    @staticmethod
    def cells(row: Sequence[str]) -> tuple[str, ...]:
        """What the log shows of a whole row (time, video, category, HTTP status, request id,
        message): the status joins the category; the request id is in the detail (enter)."""
        time_, video, category, status, _request_id, message = row
        return time_, video, f"{category.replace(' ↻', '')} {status}".strip() + (" ↻" if "↻" in category else ""), message

    def append(self, rows: Iterable[Sequence[str]]) -> None:
        follow = self.cursor_row >= self.row_count - 1
        added = False
        for row in rows:
            key = str(self._next)
            self._rows[key] = tuple(row)
            self.add_row(*(literal(c) for c in self.cells(row)), key=key)
            self._next += 1
            added = True
        while self._next - self._first > self.limit:
            key = str(self._first)
            self.remove_row(key)
            self._rows.pop(key, None)
            self._first += 1
        if added and follow:
            self.move_cursor(row=self.row_count - 1, animate=False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        row = self._rows.get(str(event.row_key.value))
        if row is not None:
            self.post_message(self.Chosen(row))
