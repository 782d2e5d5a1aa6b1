"""The end-of-batch CSV: one row per input line that became a video or was rejected."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

from ..sanitize import csv_cell as _cell
from ..store.atomic import atomic_write_text, ensure_dir

if TYPE_CHECKING:
    from ..store.session import Session

COLUMNS = ("line", "url", "video_id", "title", "status", "method", "category", "message", "request_id",
           "attempts", "possibly_paid", "output")


def write_report(path: Path, session: "Session") -> Path:
    """Write the report CSV for `session` atomically and return its path.

    Rows are sorted by input line; videos expanded from a playlist (line 0) come last with an
    empty line cell. Encoding is UTF-8 with a BOM so spreadsheet programs read titles right.
    Every text cell comes from a title, a server or a file: it goes through `sanitize.csv_cell`
    (no escape sequences, control or bidi characters, so ``cat`` replays nothing; one line;
    a leading ``= + - @`` prefixed with ``'`` so no formula runs). Raises OSError on write failure.
    """
    rows: list[tuple[int, int, list[str]]] = []
    for order, v in enumerate(session.videos):
        rows.append((v.line or 1 << 62, order, [
            str(v.line or ""), _cell(v.url), _cell(v.vid), _cell(v.title), _cell(v.state.value), _cell(v.method),
            _cell(v.category),
            _cell(v.message), _cell(_request_ids(v)), str(v.attempts), "yes" if v.possibly_paid else "no",
            _cell("; ".join(v.outputs)),
        ]))
    for order, r in enumerate(session.rejected):
        status = "duplicate" if r.category == "duplicate" else "rejected"
        rows.append((r.line or 1 << 62, order, [
            str(r.line or ""), _cell(r.raw), "", "", status, "", _cell(r.category), _cell(r.reason), "", "0", "no",
            "",
        ]))
    rows.sort(key=lambda row: (row[0], row[1]))
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    writer.writerows(cells for _, _, cells in rows)
    path = Path(path)
    ensure_dir(path.parent)
    atomic_write_text(path, buf.getvalue(), encoding="utf-8-sig")
    return path


def _request_ids(v) -> str:
    """The video's request id; an upload's are its chunks', space-separated, in order."""
    return v.request_id or " ".join(str(c["request_id"]) for c in v.chunks if c.get("request_id"))
