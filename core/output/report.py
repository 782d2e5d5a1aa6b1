"""The end-of-batch CSV: one row per input line that became a video or was rejected."""

from __future__ import annotations

import codecs
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
    videos, rejected = session.videos, session.rejected
    # The order as one int per row, (line, position, kind) packed (not 100,000 rows of cells at
    # once: those are made and written 1,000 at a time). Kind 0 is a video, 1 a rejected line; the
    # videos come first among rows of one line and position, as they always have.
    order = [((v.line or _LAST) << 42) | (i << 1) for i, v in enumerate(videos)]
    order += [((r.line or _LAST) << 42) | (j << 1) | 1 for j, r in enumerate(rejected)]
    order.sort()

    def cells(entry: int) -> list[str]:
        at = (entry >> 1) & _POSITION
        if entry & 1:
            r = rejected[at]
            status = "duplicate" if r.category == "duplicate" else "rejected"
            return [str(r.line or ""), _cell(r.raw), "", "", status, "", _cell(r.category), _cell(r.reason), "", "0",
                    "no", ""]
        v = videos[at]
        return [str(v.line or ""), _cell(v.url), _cell(v.vid), _cell(v.title), _cell(v.state.value), _cell(v.method),
                _cell(v.category), _cell(v.message), _cell(_request_ids(v)), str(v.attempts),
                "yes" if v.possibly_paid else "no", _cell("; ".join(v.outputs))]

    def text(rows) -> bytes:
        buf = io.StringIO()
        csv.writer(buf).writerows(rows)
        return buf.getvalue().encode("utf-8")

    def chunks():
        if session.settings.excel:
            yield codecs.BOM_UTF8   # so Excel reads the titles right
        yield text([COLUMNS])
        for start in range(0, len(order), _ROWS_PER_WRITE):
            yield text(cells(e) for e in order[start:start + _ROWS_PER_WRITE])

    path = Path(path)
    ensure_dir(path.parent)
    atomic_write_bytes(path, chunks(), mode=PRIVATE)
    return path


_LAST = 1 << 62                # rows of expanded videos (line 0) come last
_POSITION = (1 << 41) - 1
_ROWS_PER_WRITE = 1000


def _request_ids(v) -> str:
    """The video's request id; an upload's are its chunks', space-separated, in order."""
    return v.request_id or " ".join(str(c["request_id"]) for c in v.chunks if c.get("request_id"))
