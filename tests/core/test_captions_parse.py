"""Caption files read into timed transcripts, and which track a run takes."""

from __future__ import annotations

import json

import pytest

from bulk_transcribe.core.model import Video
from bulk_transcribe.core.sources.expand import apply_meta, meta_from_info
from bulk_transcribe.core.sources.subtitles import CaptionFormatError, parse_captions
from bulk_transcribe.core.sources.tracks import caption_tracks, choose_track

VTT = b"""WEBVTT
Kind: captions

NOTE a comment

intro
00:00:00.500 --> 00:00:02.000 align:start position:0%
Hello &amp; <c.colorE5E5E5>welcome</c>

00:00:02.000 --> 00:00:04.250
<v Ann>second<00:00:02.500> line
"""

SRT = b"""1
00:00:01,000 --> 00:00:02,500
first

2
01:00:02,000 --> 01:00:03,000
<i>late</i> one
"""

ROLLING = b"""WEBVTT

00:00:00.000 --> 00:00:02.000
one two

00:00:02.000 --> 00:00:02.010
one two

00:00:02.010 --> 00:00:04.000
one two
three four
"""


def test_vtt_cues_lose_their_markup_and_keep_their_times():
    t = parse_captions(VTT, "vtt", language="en")
    assert [(s.start, s.end, s.text, s.speaker) for s in t.segments] == [
        (0.5, 2.0, "Hello & welcome", ""), (2.0, 4.25, "second line", "Ann")]
    assert t.text == "Hello & welcome second line" and t.language == "en"


def test_srt_and_hours():
    t = parse_captions(SRT, "srt")
    assert [(s.start, s.end, s.text) for s in t.segments] == [(1.0, 2.5, "first"), (3602.0, 3603.0, "late one")]


def test_rolling_automatic_captions_are_not_said_twice():
    t = parse_captions(ROLLING, "vtt")
    assert t.text == "one two three four"


def test_json3():
    doc = {"events": [{"tStartMs": 0, "dDurationMs": 1500, "segs": [{"utf8": "hi "}, {"utf8": "there"}]},
                      {"tStartMs": 1500, "segs": [{"utf8": "\n"}]},
                      {"tStartMs": 2000, "dDurationMs": 500, "segs": [{"utf8": "bye"}]}]}
    t = parse_captions(json.dumps(doc).encode(), "json3")
    assert [(s.start, s.end, s.text) for s in t.segments] == [(0.0, 1.5, "hi there"), (2.0, 2.5, "bye")]


@pytest.mark.parametrize("data,ext", [(b"<html>blocked</html>", "vtt"), (b"WEBVTT\n\n", "vtt"), (b"{}", "json3"),
                                      (b"x", "ttml")])
def test_what_is_not_captions_says_so(data, ext):
    with pytest.raises(CaptionFormatError):
        parse_captions(data, ext)


INFO = {
    "_type": "video", "language": "de",
    "subtitles": {"de": [{"ext": "json3", "url": "https://s/de.json3"}, {"ext": "vtt", "url": "https://s/de.vtt"}],
                  "live_chat": [{"ext": "json", "url": "https://s/chat"}]},
    "automatic_captions": {"de-orig": [{"ext": "vtt", "url": "https://a/de-orig.vtt"}],
                           "en": [{"ext": "vtt", "url": "https://a/en.vtt"}],
                           **{f"x{i}": [{"ext": "vtt", "url": f"https://a/{i}"}] for i in range(150)}},
}


def test_tracks_are_kept_compact():
    tracks = caption_tracks(INFO)
    assert tracks == ["sub:de:vtt:https://s/de.vtt", "auto:de-orig:vtt:https://a/de-orig.vtt", "auto:en:vtt:https://a/en.vtt"]
    v = Video(key="k", url="u", vid="v")
    apply_meta(v, meta_from_info(INFO))
    assert v.captions_known and v.captions == tracks and v.language == "de"
    flat = Video(key="k", url="u", vid="v")
    apply_meta(flat, meta_from_info({"_type": "url", "title": "a playlist entry"}))
    assert not flat.captions_known, "a flat entry says nothing about captions"


def test_language_wanted_then_original_then_english():
    tracks = caption_tracks(INFO)
    assert choose_track(tracks, original="de").url == "https://s/de.vtt"
    assert choose_track(tracks, lang="en") is None, "English exists only as automatic captions"
    auto = choose_track(tracks, lang="en", auto=True)
    assert auto.auto and auto.url == "https://a/en.vtt"
    assert choose_track(["auto:de-orig:vtt:u1", "auto:de:vtt:u2"], original="de", auto=True).url == "u1"
    assert choose_track(["sub:fr:vtt:u"], original="") .lang == "fr", "a single creator track when nothing is known"
    assert choose_track(["sub:fr:vtt:u", "sub:en-US:vtt:e"]).lang == "en-US", "else English"
    assert choose_track(["sub:fr:vtt:u"], lang="de") is None
