"""Caption files (WebVTT, SubRip, YouTube's json3) read into the same `Transcript` a deAPI
result becomes, so every output format works from them.

Sites deliver captions with markup the transcript must not carry: inline tags (``<c>``,
``<00:00:01.200>`` word timings, ``<v Name>``), HTML entities, positioning settings after the
times. YouTube's automatic captions roll: each cue repeats the line before it, so a line equal
to the previous cue's last line is dropped rather than said twice.
"""

from __future__ import annotations

import html
import json
import re

from ..transcript import Segment, Transcript

EXTS = ("vtt", "srt", "json3")   # what `parse_captions` reads, in the order a track is chosen by

_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})"
_CUE_TIMES = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}")
_TAG = re.compile(r"<[^>]*>")
_VOICE = re.compile(r"^<v(?:\.[^ >]*)?\s+([^>]+)>")


class CaptionFormatError(ValueError):
    """The file is not captions in the format it claims (or holds no cue at all)."""


def _seconds(h: str | None, m: str, s: str, frac: str) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(frac.ljust(3, "0")) / 1000


def _clean_line(line: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(_TAG.sub("", line))).strip()


def _cues(text: str) -> list[tuple[float, float, list[str], str]]:
    """(start, end, lines, speaker) of every cue of a VTT or SRT file: both are blocks of a
    times line followed by text lines, ended by a blank line; SRT numbers them, VTT may name them."""
    out: list[tuple[float, float, list[str], str]] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = block.split("\n")
        at = next((i for i, line in enumerate(lines) if _CUE_TIMES.match(line)), None)
        if at is None:
            continue   # the WEBVTT header, NOTE and STYLE blocks
        g = _CUE_TIMES.match(lines[at]).groups()
        start, end = _seconds(*g[:4]), _seconds(*g[4:])
        body = lines[at + 1:]
        speaker = ""
        if body and (voice := _VOICE.match(body[0].strip())):
            speaker = _clean_line(voice.group(1))
        cleaned = [c for line in body if (c := _clean_line(line))]
        out.append((start, end, cleaned, speaker))
    return out


def _from_cues(cues: list[tuple[float, float, list[str], str]]) -> tuple[Segment, ...]:
    segments: list[Segment] = []
    previous: list[str] = []
    for start, end, lines, speaker in cues:
        fresh = list(lines)
        while fresh and previous and fresh[0] == previous[-1]:
            fresh.pop(0)   # a rolling caption repeating the line before it
        if lines:
            previous = lines
        text = " ".join(fresh)
        if text:
            segments.append(Segment(start, max(end, start), text, speaker))
    return tuple(segments)


def _json3(data: str) -> tuple[Segment, ...]:
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise CaptionFormatError(f"not json3 captions ({exc})") from None
    events = doc.get("events") if isinstance(doc, dict) else None
    if not isinstance(events, list):
        raise CaptionFormatError("not json3 captions (no events)")
    segments = []
    for ev in events:
        if not isinstance(ev, dict) or not isinstance(ev.get("segs"), list):
            continue
        text = _clean_line("".join(str(s.get("utf8", "")) for s in ev["segs"] if isinstance(s, dict)))
        start = float(ev.get("tStartMs") or 0) / 1000
        if text:
            segments.append(Segment(start, start + float(ev.get("dDurationMs") or 0) / 1000, text))
    return tuple(segments)


def parse_captions(data: bytes, ext: str, *, language: str = "", raw: dict | None = None) -> Transcript:
    """A caption file as a `Transcript` with timed segments. `ext` is yt-dlp's name for the
    format (vtt, srt, json3; webvtt is taken for vtt). Raises CaptionFormatError when the file
    is not readable as that format or holds no cue with text."""
    text = data.decode("utf-8-sig", errors="replace")
    ext = ext.lower()
    if ext == "json3":
        segments = _json3(text)
    elif ext in ("vtt", "webvtt", "srt"):
        if ext != "srt" and not text.lstrip().startswith("WEBVTT"):
            raise CaptionFormatError("not WebVTT captions (no WEBVTT header)")
        segments = _from_cues(_cues(text))
    else:
        raise CaptionFormatError(f"captions in {ext!r} are not read (only {', '.join(EXTS)})")
    if not segments:
        raise CaptionFormatError(f"the {ext} file holds no caption text")
    return Transcript(" ".join(s.text for s in segments), language=language, segments=segments, raw=raw)
