"""The headless printer renders events; it holds no behaviour of its own."""

from __future__ import annotations

import io
import json

from bulk_transcribe.core.events import BatchFinished, BucketUsage, ErrorLogged, Progress, VideoChanged
from bulk_transcribe.core.model import VideoState
from bulk_transcribe.tui.headless import HeadlessPrinter


def test_readable_lines_are_literal_and_rate_limited():
    err = io.StringIO()
    now = [0.0]
    p = HeadlessPrinter(err=err, every=10.0, clock=lambda: now[0])
    p(VideoChanged("k", 0, VideoState.FAILED, "\x1b[31m[bold]evil[/]", category="job-failed", message="private"))
    prog = Progress(10, 1, 1, 2, 6, 5.0, 3.0, 60.0, (BucketUsage("submit", 3, 300),), 5, 5)
    for t in (0.0, 1.0, 2.0, 11.0):
        now[0] = t
        p(prog)
    text = err.getvalue()
    assert "[bold]evil[/]" in text and "\x1b" not in text
    assert text.count("submit 3/300 per min") == 2, "a summary at most every 10 s"


def test_json_lines_one_object_per_event():
    out = io.StringIO()
    p = HeadlessPrinter(json_lines=True, out=out)
    p(ErrorLogged(1.0, "k", "t", "server", "503 Service Unavailable", 503, "rid", True))
    p(BatchFinished(3, 2, 1, 0, 0, (("job-failed", 1),), "r.csv", "out", "s.toml", False))
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["event"] for r in rows] == ["ErrorLogged", "BatchFinished"]
    assert rows[0]["status"] == 503 and rows[1]["failures_by_category"] == [["job-failed", 1]]
    import datetime
    import time

    for row in rows:   # every event says when it happened, on the wall clock (UTC)
        when = datetime.datetime.strptime(row["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
        assert abs(when.timestamp() - time.time()) < 60


def test_hostile_titles_and_server_messages_reach_no_terminal_raw():
    """stderr lines are cleaned (escapes, C1 and bidi controls gone); JSON lines are printable
    ASCII (everything else escaped) and still decode to the exact text."""
    from bulk_transcribe.core.events import Notice
    from tests.core.test_sanitize import FORBIDDEN, HOSTILE_MESSAGE, HOSTILE_TITLE

    events = [
        VideoChanged("k", 0, VideoState.FAILED, HOSTILE_TITLE, category="server", message=HOSTILE_MESSAGE),
        VideoChanged("k", 0, VideoState.DONE, HOSTILE_TITLE, outputs=("out/\u202etxt.exe",)),
        ErrorLogged(1.0, "k", HOSTILE_TITLE, "server", HOSTILE_MESSAGE, 502, "rid", True),
        Notice(1.0, "warning", HOSTILE_MESSAGE),
        BatchFinished(1, 0, 1, 0, 0, (("\u202eserver", 1),), "r\x9b.csv", "o\u2066ut", "s\x1b[2J.toml", False),
    ]
    err = io.StringIO()
    p = HeadlessPrinter(err=err)
    for e in events:
        p(e)
    text = err.getvalue()
    assert not FORBIDDEN.search(text.replace("\n", ""))
    assert "gpj.exe" in text and "502 Bad Gateway" in text

    out = io.StringIO()
    p = HeadlessPrinter(json_lines=True, out=out)
    for e in events:
        p(e)
    lines = out.getvalue().splitlines()
    assert all(" " <= ch <= "~" for line in lines for ch in line), "only printable ASCII on stdout"
    rows = [json.loads(line) for line in lines]
    assert rows[0]["label"] == HOSTILE_TITLE and rows[0]["message"] == HOSTILE_MESSAGE, "the data is kept exactly"


def test_the_summary_says_why_submitting_stopped():
    from bulk_transcribe.tui.headless import summary_text

    why = "the output folder /x/out cannot be written (Read-only file system): make it writable"
    f = BatchFinished(3, 0, 0, 3, 0, (), "r.csv", "out", "s.toml", True, halted=why)
    assert f"submitting stopped: {why}" in summary_text(f)
    assert "submitting stopped" not in summary_text(BatchFinished(3, 3, 0, 0, 0, (), "r.csv", "out", "s.toml", False))
