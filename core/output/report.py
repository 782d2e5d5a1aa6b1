"""The end-of-batch CSV: one row per input line that became a video or was rejected."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

from ..sanitize import csv_cell as _cell
from ..store.atomic import PRIVATE, atomic_write_bytes, ensure_dir

if TYPE_CHECKING:
    from ..store.session import Session

COLUMNS = ("line", "url", "video_id", "title", "status", "method", "category", "message", "request_id",
           "attempts", "possibly_paid", "output")


def write_report(path: Path, session: "Session") -> Path:
    """Write the report CSV for `session` atomically and return its path.

    Rows are sorted by input line; videos expanded from a playlist (line 0) come last with an
    empty line cell. Encoding is plain UTF-8; with `settings.excel` (`--excel`) a byte-order mark
    first, so Excel reads the titles right. Mode 0600, like the session it comes from.
    Every text cell comes from a title, a server or a file: it goes through `sanitize.csv_cell`
    (no escape sequences, control or bidi characters, so ``cat`` replays nothing; one line;
    a leading ``= + - @`` prefixed with ``'`` so no formula runs). Raises OSError on write failure.
    """
    # One row at a time, in order: the cells of 10,000 videos held at once cost a run's end ~9 MB.
    last = 1 << 62   # expanded videos (line 0) and lines without a number come last
    order = sorted([(v.line or last, i, 0) for i, v in enumerate(session.videos)]
                   + [(r.line or last, i, 1) for i, r in enumerate(session.rejected)])
    rows = (_video_cells(session.videos[i]) if kind == 0 else _rejected_cells(session.rejected[i])
            for _, i, kind in order)
    buf = io.BytesIO()
    text = io.TextIOWrapper(buf, encoding="utf-8-sig" if session.settings.excel else "utf-8", newline="")
    writer = csv.writer(text)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    text.flush()
    path = Path(path)
    ensure_dir(path.parent)
    atomic_write_bytes(path, buf.getvalue(), mode=PRIVATE)
    return path


def _video_cells(v) -> list[str]:
    return [str(v.line or ""), _cell(v.url), _cell(v.vid), _cell(v.title), _cell(v.state.value), _cell(v.method),
            _cell(v.category), _cell(v.message), _cell(_request_ids(v)), str(v.attempts),
            "yes" if v.possibly_paid else "no", _cell("; ".join(v.outputs))]


def _rejected_cells(r) -> list[str]:
    status = "duplicate" if r.category == "duplicate" else "rejected"
    return [str(r.line or ""), _cell(r.raw), "", "", status, "", _cell(r.category), _cell(r.reason), "", "0", "no", ""]


def _request_ids(v) -> str:
    """The video's request id; an upload's are its chunks', space-separated, in order."""
    return v.request_id or " ".join(str(c["request_id"]) for c in v.chunks if c.get("request_id"))
