"""Tables whose cells are always plain text: a title like `[bold]x[/]` is shown, never applied."""

from __future__ import annotations

from typing import Iterable, Sequence

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable


def literal(value: object) -> Text:
    """A cell that Rich will never parse as markup (DataTable would parse a bare str)."""
    return value if isinstance(value, Text) else Text(str(value), no_wrap=True, overflow="ellipsis")


class WorkerTable(DataTable):
    """One stable row per worker slot; a repaint touches only the cells that changed."""

    # 66 cells of content + padding: fits 80 columns with the scrollbar.
    COLUMNS = (("#", "slot", 2), ("video", "video", 22), ("doing", "doing", 30),
               ("%", "progress", 5), ("elapsed", "elapsed", 7))

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, show_cursor=True, **kwargs)
        self._shown: list[tuple[str, ...]] = []

    def on_mount(self) -> None:
        for label, key, width in self.COLUMNS:
            self.add_column(label, key=key, width=width)

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
            for key, before, after in zip(keys, old, cells):
                if before != after:
                    self.update_cell(str(i), key, literal(after))
            self._shown[i] = cells
        # Slots only grow during a run; drop extras only if a new run starts smaller.
        while len(self._shown) > len(lines):
            self.remove_row(str(len(self._shown) - 1))
            self._shown.pop()


class ErrorTable(DataTable):
    """The error log: newest at the bottom, bounded to `limit` rows (older ones drop off).

    Rows are appended as errors arrive, so its cost is per error, never per video. The
    message column is cut at the screen's edge; Enter on a row posts `Chosen` with the
    whole row so the screen can show it in full.
    """

    COLUMNS = (("time", 8), ("video", 22), ("category", 12), ("HTTP", 4), ("request id", 12), ("message", None))

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

    def append(self, rows: Iterable[Sequence[str]]) -> None:
        follow = self.cursor_row >= self.row_count - 1
        added = False
        for row in rows:
            key = str(self._next)
            self._rows[key] = tuple(row)
            self.add_row(*(literal(c) for c in row), key=key)
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
