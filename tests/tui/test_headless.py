"""The headless printer renders events; it holds no behaviour of its own."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

from bulk_transcribe.core.events import BatchFinished, BucketUsage, ErrorLogged, Progress, VideoChanged
from bulk_transcribe.core.model import Video, VideoState
from bulk_transcribe.tui.commands import warn_over_balance
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


def test_warns_when_the_estimate_exceeds_the_balance():
    seen = []
    videos = [Video(key=f"k{i}", url="u", vid="v", duration=3600.0 * 10) for i in range(3)]
    videos[0].state = VideoState.DONE
    warn_over_balance(SimpleNamespace(videos=videos), 0.5, seen.append)
    # 2 videos to go, each $0.005 + 10 h x $0.046875 (deAPI's documented shape, core/prices.py)
    assert seen and "$0.95" in seen[0].message and "exceeds the balance $0.50" in seen[0].message
    seen.clear()
    warn_over_balance(SimpleNamespace(videos=videos), 5.0, seen.append)
    assert not seen
