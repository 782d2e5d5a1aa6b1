"""The end-of-batch CSV report."""

from __future__ import annotations

import csv

import pytest

from bulk_transcribe.core.model import Video, VideoState
from bulk_transcribe.core.output.report import COLUMNS, write_report
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.store.session import RejectedLine, Session


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_report_has_one_row_per_line_sorted(tmp_path):
    vids = [
        Video(key="youtube:b", url="https://youtu.be/b", vid="b", line=3, title="=HYPERLINK(\"x\")"),
        Video(key="youtube:a", url="https://youtu.be/a", vid="a", line=1, title="Ünïcode, \"quoted\""),
        Video(key="youtube:p", url="https://youtu.be/p", vid="p", line=0, source="https://youtube.com/playlist?list=L"),
    ]
    rejected = [RejectedLine(2, "not a url", "unsupported URL"),
                RejectedLine(4, "https://youtu.be/a", "duplicate of line 1", "duplicate")]
    s = Session.create(tmp_path / "s.toml", batch="b.txt", settings=Settings(), videos=vids, rejected=rejected)
    await s.record(vids[1], state=VideoState.DONE, request_id="r-a", attempts=1, outputs=["out/a.txt", "out/a.md"])
    await s.record(vids[0], state=VideoState.FAILED, category="job-failed", message="deAPI: bad audio",
                   attempts=2, possibly_paid=True)

    path = write_report(tmp_path / "reports" / "report.csv", s)
    s.close()
    assert path.read_bytes().startswith(b"line,url,"), "plain UTF-8: no byte-order mark unless --excel"
    assert (path.stat().st_mode & 0o777) == 0o600
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == COLUMNS
    assert [r["line"] for r in rows] == ["1", "2", "3", "4", ""]
    a, bad, b, dup, p = rows
    assert (a["status"], a["request_id"], a["attempts"], a["output"]) == ("done", "r-a", "1", "out/a.txt; out/a.md")
    assert a["title"] == 'Ünïcode, "quoted"' and a["possibly_paid"] == "no"
    assert (bad["status"], bad["category"], bad["message"], bad["url"]) == ("rejected", "input", "unsupported URL", "not a url")
    assert (b["status"], b["category"], b["possibly_paid"], b["attempts"]) == ("failed", "job-failed", "yes", "2")
    assert b["title"].startswith("'=")  # no formula runs when a spreadsheet opens it
    assert (dup["status"], dup["category"]) == ("duplicate", "duplicate")
    assert (p["video_id"], p["status"]) == ("p", "queued")
    assert not [x for x in path.parent.iterdir() if x.name.endswith(".tmp")]


def test_report_cells_replay_nothing_in_a_terminal(tmp_path):
    """`cat report.csv` must not run escape sequences or reorder text: every cell from a title, a
    server or a file is cleaned, and formula protection still applies after cleaning."""
    from tests.core.test_sanitize import FORBIDDEN, HOSTILE_MESSAGE, HOSTILE_TITLE

    vids = [Video(key="youtube:h", url="https://youtu.be/h\x1b[2J", vid="h", line=1, title=HOSTILE_TITLE,
                  state=VideoState.FAILED, category="server\x07", message=HOSTILE_MESSAGE, request_id="r\u202e1"),
            Video(key="youtube:f", url="https://youtu.be/f", vid="f", line=2, title="\x1b[0m=HYPERLINK(\"x\")")]
    rejected = [RejectedLine(3, "\x9b31mnot a url\u202e", "bad \x1b]0;t\x07line")]
    s = Session.create(tmp_path / "s.toml", batch="b.txt", settings=Settings(), videos=vids, rejected=rejected)
    path = write_report(tmp_path / "report.csv", s)
    s.close()
    raw = path.read_text(encoding="utf-8-sig")
    assert not FORBIDDEN.search(raw.replace("\r\n", "").replace("\n", ""))
    with open(path, newline="", encoding="utf-8-sig") as f:
        h, f_, bad = list(csv.DictReader(f))
    assert "gpj.exe" in h["title"] and h["message"].startswith("502 Bad Gateway")
    assert f_["title"].startswith("'="), "a formula hidden behind an escape sequence is still defused"
    assert bad["url"] == "not a url" and bad["message"] == "bad line"


def test_excel_asks_for_the_byte_order_mark(tmp_path):
    s = Session.create(tmp_path / "s.toml", batch="b.txt", settings=Settings(excel=True),
                       videos=[Video(key="youtube:a", url="https://youtu.be/a", vid="a", line=1, title="Ünïcode")])
    path = write_report(tmp_path / "report.csv", s)
    s.close()
    assert path.read_bytes().startswith(b"\xef\xbb\xbfline,url,")


def test_ties_keep_the_order_they_always_had(tmp_path):
    """Rows by line; on one line (or among the numberless ones, last) by place in the session's list
    of videos or of rejected lines, a video before a rejected line at the same place."""
    vids = [Video(key="youtube:s", url="https://youtu.be/s", vid="s", line=5)]
    vids += [Video(key=f"youtube:e{i}", url=f"https://youtu.be/e{i}", vid=f"e{i}", line=0) for i in (3, 1, 2)]
    rejected = [RejectedLine(5, "https://site.example/page", "the page listed a bad entry", "source"),
                RejectedLine(0, "?", "no line", "input")]
    s = Session.create(tmp_path / "s.toml", batch="b.txt", settings=Settings(), videos=vids, rejected=rejected)
    path = write_report(tmp_path / "report.csv", s)
    s.close()
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["line"], r["video_id"] or r["url"]) for r in rows] == [
        ("5", "s"), ("5", "https://site.example/page"), ("", "e3"), ("", "?"), ("", "e1"), ("", "e2")]
