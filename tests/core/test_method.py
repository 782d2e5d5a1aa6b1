"""How each video's transcript came (`Method`): recorded in the session, the report, the outputs and the events."""

from __future__ import annotations

import csv
import json

from bulk_transcribe.core.events import VideoChanged, WorkerChanged
from bulk_transcribe.core.model import METHODS, Method, Video, VideoState
from bulk_transcribe.core.output.report import COLUMNS, write_report
from bulk_transcribe.core.output.transcripts import render
from bulk_transcribe.core.simulator import SimConfig, SimServer
from bulk_transcribe.core.store.format import row_to_video, video_to_row
from bulk_transcribe.core.store.session import Session
from bulk_transcribe.core.transcript import Segment, Transcript

from .engine_harness import make_session, run_engine, yt


def test_the_four_methods_and_which_are_paid():
    assert METHODS == ("captions", "captions-auto", "deapi-url", "deapi-upload")
    assert [m.value for m in Method if m.paid] == ["deapi-url", "deapi-upload"]


def test_method_survives_the_session_row():
    v = Video(key="youtube:a", url="https://youtu.be/a", vid="a", method=Method.CAPTIONS)
    row = video_to_row(v)
    assert row["method"] == "captions" and type(row["method"]) is str   # stored as plain text
    assert row_to_video(row).method == "captions"
    assert "method" not in video_to_row(Video(key="k", url="u", vid="v")), "an unset method is not written"


def test_outputs_say_where_the_text_came_from():
    v = Video(key="youtube:a", url="https://youtu.be/a", vid="a", title="A", method="captions-auto")
    t = Transcript("hello", language="en", segments=(Segment(0.0, 1.5, "hello"),))
    assert json.loads(render("json", v, t))["method"] == "captions-auto"
    assert 'method: "captions-auto"' in render("md", v, t).split("---")[1]


def test_engine_records_deapi_url_everywhere(tmp_path):
    """Today's only path: deAPI fetches the link. The session, the report's `method` column, the
    outputs and the events all say so."""
    urls = [yt(i) for i in range(2)]
    with SimServer(SimConfig(latency=(0.1, 0.3), pending_share=0.0)) as sim:
        session = make_session(tmp_path, urls, sim.base_url, formats=("json", "md"))
        finished, events = run_engine(session)
    assert finished.done == 2 and finished.methods == (("deapi-url", 2),)
    reopened = Session.open(tmp_path / "session.toml")
    try:
        assert [v.method for v in reopened.videos] == ["deapi-url"] * 2
        path = write_report(tmp_path / "report.csv", reopened)
        for v in reopened.videos:
            js = next(p for p in v.outputs if p.endswith(".json"))
            assert json.loads(open(js, encoding="utf-8").read())["method"] == "deapi-url"
    finally:
        reopened.close()
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert "method" in COLUMNS and [r["method"] for r in rows] == ["deapi-url"] * 2
    done = [e for e in events if isinstance(e, VideoChanged) and e.state is VideoState.DONE]
    assert [e.method for e in done] == ["deapi-url"] * 2
    assert any(isinstance(e, WorkerChanged) and e.method == "deapi-url" for e in events)


def test_adopted_outputs_keep_the_method_their_json_says(tmp_path):
    from bulk_transcribe.core.output.adopt import adopt_outputs
    from bulk_transcribe.core.output.transcripts import write_outputs

    made = Video(key="youtube:a", url="https://youtu.be/a", vid="a", title="A", method="captions")
    old = Video(key="youtube:b", url="https://youtu.be/b", vid="b", title="B")
    t = Transcript("hello", segments=(Segment(0.0, 1.0, "hello"),))
    write_outputs(tmp_path, made, t, ("json",), "{title} [{id}]")
    write_outputs(tmp_path, old, t, ("json",), "{title} [{id}]")
    fresh = [Video(key="youtube:a", url="https://youtu.be/a", vid="a", title="A"),
             Video(key="youtube:b", url="https://youtu.be/b", vid="b", title="B")]
    adopt_outputs(fresh, tmp_path, ("json", "md"), "{title} [{id}]")
    assert [v.method for v in fresh] == ["captions", ""]   # b's json records no method
    md = next(p for p in fresh[0].outputs if p.endswith(".md"))
    assert 'method: "captions"' in open(md, encoding="utf-8").read()
