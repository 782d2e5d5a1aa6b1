"""The method of each video as the faces show it: --json events, readable lines, summaries, worker rows."""

from __future__ import annotations

import io
import json

from bulk_transcribe.core.events import Activity, BatchFinished, VideoChanged, WorkerChanged
from bulk_transcribe.core.model import VideoState
from bulk_transcribe.tui.headless import HeadlessPrinter, summary_text
from bulk_transcribe.tui.run_view import describe_worker
from bulk_transcribe.tui.screens.summary import summary_text as app_summary
from bulk_transcribe.tui.text import methods_text


def _finished(methods) -> BatchFinished:
    return BatchFinished(total=3, done=3, failed=0, remaining=0, possibly_paid=0, failures_by_category=(),
                         report_path="r.csv", output_dir="out", session_path="s.toml", stopped=False,
                         methods=methods)


def test_json_events_carry_the_method():
    out = io.StringIO()
    p = HeadlessPrinter(json_lines=True, out=out)
    p(VideoChanged("youtube:a", 0, VideoState.DONE, "A", method="captions"))
    p(_finished((("captions", 1), ("deapi-url", 2))))
    first, last = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["method"] == "captions"
    assert last["methods"] == [["captions", 1], ["deapi-url", 2]]


def test_readable_lines_and_summaries_name_the_free_ones():
    err = io.StringIO()
    HeadlessPrinter(err=err)(VideoChanged("youtube:a", 0, VideoState.DONE, "A", outputs=("a.txt",), method="captions"))
    assert "done    A (captions) -> a.txt" in err.getvalue()
    mixed = (("captions", 1), ("deapi-url", 2))
    assert methods_text(mixed) == "1 own captions (free) · 2 deAPI from the link"
    assert "done by: 1 own captions (free)" in summary_text(_finished(mixed))
    assert "done by: 1 own captions" in app_summary(_finished(mixed), "t").plain
    # The usual way alone says nothing new.
    assert methods_text((("deapi-url", 3),)) == "" and "done by" not in summary_text(_finished((("deapi-url", 3),)))


def test_worker_rows_show_a_method_other_than_the_usual():
    w = WorkerChanged(0, Activity.DOWNLOADING, "youtube:a", "A", since=1.0, method="captions-auto")
    assert describe_worker(w, 0, 2.0).doing.endswith("[captions-auto]")
    usual = WorkerChanged(0, Activity.DOWNLOADING, "youtube:a", "A", since=1.0, method="deapi-url")
    assert "[" not in describe_worker(usual, 0, 2.0).doing


def test_a_caption_wait_counts_down_in_the_worker_row():
    w = WorkerChanged(0, Activity.CAPTIONS, "youtube:a", "A", detail="waiting: 429 from the caption site",
                      until=12.0, since=1.0)
    assert describe_worker(w, 0, 2.0).doing == "fetching captions 10 s (waiting: 429 from the caption site)"
