"""Transcript files: safe names for any title, exact subtitle formats, safe front matter."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulk_transcribe.core.model import Video
from bulk_transcribe.core.output.transcripts import (
    MAX_NAME_BYTES,
    _clean,
    output_name,
    render,
    write_outputs,
    yaml_quote,
)
from bulk_transcribe.core.settings import DEFAULT_TEMPLATE
from bulk_transcribe.core.transcript import Segment, Transcript

IDS = st.from_regex(r"[A-Za-z0-9_-]{1,11}", fullmatch=True)


def video(**kw) -> Video:
    base = dict(key="youtube:abc123", url="https://youtu.be/abc123", vid="abc123", line=4)
    return Video(**{**base, **kw})


TRANSCRIPT = Transcript(
    text="Hello world again",
    language="en",
    segments=(Segment(0.0, 1.5, "Hello"), Segment(61.25, 3723.4, " World\n\nagain "),
              Segment(3723.4, 3724.0, "a <b> -->", "Ann")),
)


# -- names --------------------------------------------------------------------------------
@settings(max_examples=300)
@given(title=st.one_of(st.text(max_size=40), st.text(min_size=170, max_size=400)), channel=st.text(max_size=100), vid=IDS)
def test_names_are_always_safe_and_bounded(title, channel, vid):
    for template in (DEFAULT_TEMPLATE, "{channel}/{title}", "{title}"):
        name = output_name(template, video(title=title, channel=channel, vid=vid), "txt")
        stem = name[: -len(".txt")]
        assert name.endswith(".txt") and stem.strip()
        assert "/" not in name and "\\" not in name and "\x00" not in name
        assert not any(unicodedata.category(c) in ("Cc", "Cs") for c in name)
        assert not name.startswith(".") and stem == stem.strip()
        assert len(stem.encode("utf-8")) <= MAX_NAME_BYTES
        if template == DEFAULT_TEMPLATE:
            # the id survives any cut (alone when there is no title to show)
            assert name.endswith(f"[{vid}].txt") or (name == f"{vid}.txt" and not _clean(title))


def test_name_examples():
    assert output_name(DEFAULT_TEMPLATE, video(title="A/B: C?  \n D"), "srt") == "A_B_ C_ D [abc123].srt"
    assert output_name(DEFAULT_TEMPLATE, video(title=""), "txt") == "abc123.txt", "no title: the id alone"
    assert output_name("{title}", video(title="..hidden"), "txt") == "hidden.txt"
    assert output_name("{title}", video(title="con"), "txt") == "_con.txt"
    assert output_name("{index:03d} {title}", video(title="x"), "md") == "004 x.md"
    assert output_name("{upload_date} {id}", video(upload_date="20240101"), "txt") == "20240101 abc123.txt"
    long = output_name(DEFAULT_TEMPLATE, video(title="é" * 500), "txt")
    assert long.endswith(" [abc123].txt") and len(long[:-4].encode()) <= MAX_NAME_BYTES
    with pytest.raises(ValueError, match="unknown field"):
        output_name("{title.__class__}", video(), "txt")


# -- formats --------------------------------------------------------------------------------
def test_srt_exact():
    assert render("srt", video(), TRANSCRIPT) == (
        "1\n00:00:00,000 --> 00:00:01,500\nHello\n\n"
        "2\n00:01:01,250 --> 01:02:03,400\nWorld\nagain\n\n"
        "3\n01:02:03,400 --> 01:02:04,000\nAnn: a <b> -->\n"
    )


def test_vtt_exact():
    assert render("vtt", video(), TRANSCRIPT) == (
        "WEBVTT\n\n"
        "00:00:00.000 --> 00:00:01.500\nHello\n\n"
        "00:01:01.250 --> 01:02:03.400\nWorld\nagain\n\n"
        "01:02:03.400 --> 01:02:04.000\n<v Ann>a &lt;b&gt; --&gt;\n"
    )


def test_subtitles_need_segments():
    for fmt in ("srt", "vtt"):
        with pytest.raises(ValueError, match="timestamps"):
            render(fmt, video(), Transcript(text="no segments"))
    with pytest.raises(ValueError):
        render("doc", video(), TRANSCRIPT)


def test_txt_and_json():
    v = video(title="T", duration=12.5, channel="C", request_id="req-9")
    assert render("txt", v, TRANSCRIPT) == "Hello world again\n"
    doc = json.loads(render("json", v, Transcript(text="hi", language="en", raw={"text": "hi", "x": 1})))
    assert doc["id"] == "abc123" and doc["url"] == v.url and doc["request_id"] == "req-9"
    assert doc["duration"] == 12.5 and doc["language"] == "en" and doc["result"] == {"text": "hi", "x": 1}
    assert doc["segments"] == []


def front_matter(md: str) -> dict:
    head, sep, _body = md.partition("\n---\n\n")
    lines = head.split("\n")
    assert sep and lines[0] == "---"
    out = {}
    for line in lines[1:]:
        key, _, value = line.partition(": ")
        out[key] = json.loads(value)  # every value is a JSON-compatible quoted scalar or a number
    return out


def test_md_front_matter_survives_hostile_titles():
    v = video(title='Say "no": really?\n---\nkey: injected #x', channel="Ch: 'a'", duration=90.0, request_id="r")
    md = render("md", v, TRANSCRIPT)
    meta = front_matter(md)
    assert meta == {"title": v.title, "url": v.url, "id": "abc123", "channel": v.channel, "duration": 90,
                    "request_id": "r", "language": "en"}
    assert md.endswith("\n---\n\nHello world again\n")


@given(st.text())
def test_yaml_quote_round_trips_and_stays_on_one_line(text):
    quoted = yaml_quote(text)
    assert json.loads(quoted) == text
    assert not any(c in quoted for c in "\n\r\x85\u2028\u2029")


# -- writing ---------------------------------------------------------------------------------
def test_write_outputs_writes_every_format(tmp_path):
    v = video(title="My talk")
    paths = write_outputs(tmp_path / "out", v, TRANSCRIPT, ("txt", "srt", "md"), DEFAULT_TEMPLATE)
    assert [p.split("/")[-1] for p in paths] == ["My talk [abc123].txt", "My talk [abc123].srt", "My talk [abc123].md"]
    assert open(paths[0]).read() == "Hello world again\n"
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")]


def test_nothing_is_written_when_a_format_cannot_be_rendered(tmp_path):
    with pytest.raises(ValueError):
        write_outputs(tmp_path / "out", video(), Transcript(text="x"), ("txt", "srt"), DEFAULT_TEMPLATE)
    assert not (tmp_path / "out").exists()


def test_same_title_never_overwrites_another_video(tmp_path):
    a = video(title="Same", vid="aaa", key="youtube:aaa")
    b = video(title="Same", vid="bbb", key="youtube:bbb")
    pa = write_outputs(tmp_path, a, Transcript(text="A"), ("txt", "json"), "{title}")
    pb = write_outputs(tmp_path, b, Transcript(text="B"), ("txt", "json"), "{title}")
    assert pa[0].endswith("/Same.txt") and pb == [str(tmp_path / "Same [bbb].txt"), str(tmp_path / "Same [bbb].json")]
    assert (tmp_path / "Same.txt").read_text() == "A\n"
    a.outputs = pa  # a rewrite of the same video keeps its own name
    assert write_outputs(tmp_path, a, Transcript(text="A2"), ("txt", "json"), "{title}") == pa
    assert (tmp_path / "Same.txt").read_text() == "A2\n"
    # with the default template the ids already keep them apart
    qa = write_outputs(tmp_path, a, Transcript(text="A"), ("txt",), DEFAULT_TEMPLATE)
    qb = write_outputs(tmp_path, b, Transcript(text="B"), ("txt",), DEFAULT_TEMPLATE)
    assert qa != qb
