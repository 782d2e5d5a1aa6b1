"""Transcript files: safe names, the five formats, and crash-safe writes.

Every file is written with `atomic_write_text`, so a crash leaves either no file or a whole
one. Names come from a user template filled with untrusted text (video titles), so each
value is sanitised: no path separators, control or bidi-override characters, no leading
dots, no characters Windows refuses, bounded length.
"""

from __future__ import annotations

import json
import math
import os
import re
import string
import unicodedata
from pathlib import Path
from typing import Any

from ..model import Video
from ..store.atomic import atomic_write_text, ensure_dir
from ..transcript import Segment, Transcript

MAX_NAME_BYTES = 180  # before the extension; leaves room for ".json" and odd filesystems
FIELDS = ("title", "id", "channel", "upload_date", "index")

_FORBIDDEN = str.maketrans({c: "_" for c in '/\\<>:"|?*'})
_INVISIBLE = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")  # direction marks and overrides
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$", re.IGNORECASE)


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") else c for c in text)
    text = _INVISIBLE.sub("", text).translate(_FORBIDDEN)
    return re.sub(r"\s+", " ", text).strip()


def _cut(text: str, limit: int) -> str:
    """At most `limit` UTF-8 bytes, cut on a character boundary."""
    return text.encode("utf-8")[: max(limit, 0)].decode("utf-8", "ignore")


def _fill(template: str, values: dict[str, str], index: int) -> str:
    out = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        out.append(literal)
        if name is None:
            continue
        if name not in FIELDS or conversion:
            raise ValueError(f"unknown field {{{name}}} in the file name template; use {', '.join('{%s}' % f for f in FIELDS)}")
        out.append(format(index, spec) if name == "index" else format(values[name], spec or ""))
    return "".join(out)


def _finish(stem: str) -> str:
    stem = _clean(stem).lstrip(". ").rstrip(". ")
    if _WINDOWS_RESERVED.match(stem):
        stem = "_" + stem
    return stem


def output_name(template: str, video: Video, ext: str) -> str:
    """A safe file name (stem + ``.`` + `ext`) for `video` from `template`.

    Fields: {title} (falls back to the id), {id}, {channel}, {upload_date}, {index} (the input
    line; format specs such as {index:05d} work). The stem is at most MAX_NAME_BYTES of UTF-8;
    when too long the title (then the channel) is shortened, so the ``[id]`` part survives.
    Never empty, never starts with a dot, never contains a path separator or control character.
    Raises ValueError for an unknown field.
    """
    vid = _clean(video.vid) or "video"
    values = {"title": _clean(video.title) or vid, "id": vid, "channel": _clean(video.channel),
              "upload_date": _clean(video.upload_date)}
    stem = _finish(_fill(template, values, video.line))
    for name in ("title", "channel"):
        if len(stem.encode("utf-8")) <= MAX_NAME_BYTES:
            break
        without = len(_fill(template, {**values, name: ""}, video.line).encode("utf-8"))  # >= once finished
        values[name] = _cut(values[name], MAX_NAME_BYTES - without).rstrip() if without < MAX_NAME_BYTES else ""
        stem = _finish(_fill(template, values, video.line))
    stem = _finish(_cut(stem, MAX_NAME_BYTES)) or vid
    if not _clean(video.title) and stem == f"{vid} [{vid}]":
        stem = vid   # no title known: "abc [abc]" says nothing more than "abc"
    return f"{stem}.{ext}"


# -- formats -----------------------------------------------------------------------------
def _clock(seconds: float, sep: str) -> str:
    ms = max(0, round((seconds if math.isfinite(seconds) else 0.0) * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _cues(transcript: Transcript) -> list[tuple[Segment, str]]:
    if not transcript.segments:
        raise ValueError("srt and vtt need segment timestamps, and this transcript has none")
    out = []
    for seg in transcript.segments:
        # A blank line ends a cue in both formats, so lines inside one cue stay non-blank.
        text = "\n".join(line.strip() for line in seg.text.splitlines() if line.strip())
        if text:
            out.append((seg, text))
    return out


def _srt(transcript: Transcript) -> str:
    blocks = []
    for n, (seg, text) in enumerate(_cues(transcript), 1):
        end = max(seg.end, seg.start)
        text = f"{seg.speaker}: {text}" if seg.speaker else text
        blocks.append(f"{n}\n{_clock(seg.start, ',')} --> {_clock(end, ',')}\n{text}\n")
    return "\n".join(blocks)


def _vtt(transcript: Transcript) -> str:
    blocks = ["WEBVTT\n"]
    for seg, text in _cues(transcript):
        end = max(seg.end, seg.start)
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # also defuses "-->"
        if seg.speaker:
            speaker = seg.speaker.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            text = f"<v {speaker}>{text}"
        blocks.append(f"{_clock(seg.start, '.')} --> {_clock(end, '.')}\n{text}\n")
    return "\n".join(blocks)


def _facts(video: Video, transcript: Transcript) -> dict[str, Any]:
    return {"title": video.title, "url": video.url, "id": video.vid, "channel": video.channel,
            "duration": video.duration, "upload_date": video.upload_date,
            "request_id": video.request_id, "language": transcript.language, "method": video.method}


def _json(video: Video, transcript: Transcript) -> str:
    doc = _facts(video, transcript)
    doc["text"] = transcript.text
    doc["segments"] = [
        {"start": s.start, "end": s.end, "text": s.text, **({"speaker": s.speaker} if s.speaker else {})}
        for s in transcript.segments
    ]
    if transcript.raw is not None:
        doc["result"] = transcript.raw
    return json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n"


def yaml_quote(value: str) -> str:
    """A YAML double-quoted scalar that also parses as a JSON string: every character YAML
    would not take literally (controls, line/paragraph separators, BOM, surrogates) is escaped."""
    out = ['"']
    for c in value:
        o = ord(c)
        if c in '"\\':
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif o < 0x20 or 0x7F <= o <= 0x9F or o in (0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF) or 0xD800 <= o <= 0xDFFF:
            out.append(f"\\u{o:04x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def _md(video: Video, transcript: Transcript) -> str:
    lines = ["---"]
    for key, value in _facts(video, transcript).items():
        if key == "duration":
            if value is not None and math.isfinite(value):
                lines.append(f"duration: {round(value, 3):g}")
        elif value:
            lines.append(f"{key}: {yaml_quote(value)}")
    lines.append("---")
    return "\n".join(lines) + "\n\n" + transcript.text.strip() + "\n"


def render(fmt: str, video: Video, transcript: Transcript) -> str:
    """The file content for one format: txt, json, srt, vtt or md.

    Raises ValueError for an unknown format, or for srt/vtt when the transcript has no segments.
    """
    if fmt == "txt":
        return transcript.text.strip() + "\n"
    if fmt == "json":
        return _json(video, transcript)
    if fmt == "srt":
        return _srt(transcript)
    if fmt == "vtt":
        return _vtt(transcript)
    if fmt == "md":
        return _md(video, transcript)
    raise ValueError(f"unknown output format {fmt!r}")


# -- writing -----------------------------------------------------------------------------
def _claim(path: Path, ours: set[str]) -> bool:
    """True if `path` is free for this video: ours already, or created just now (O_EXCL, so two
    videos racing for one name cannot both win)."""
    if str(path) in ours:
        return True
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except FileExistsError:
        return False
    return True


def write_outputs(out_dir: Path, video: Video, transcript: Transcript, formats: tuple[str, ...],
                  template: str) -> list[str]:
    """Write one file per format into `out_dir` (created if needed); return their paths as text.

    Synchronous (run it in a thread). Everything is rendered before anything is written, so
    a ValueError (unknown format, srt/vtt without segments, bad template) writes nothing.
    If the name is taken by a file that is not one of `video.outputs` and the template has no
    {id}, all formats use the name with `` [id]`` appended instead, so two videos never
    overwrite each other. Raises OSError from the file system (caller maps it to "disk").
    """
    contents = {fmt: render(fmt, video, transcript) for fmt in formats}
    out_dir = Path(out_dir)
    ensure_dir(out_dir)   # a new folder is made durable in its parent
    paths = {fmt: out_dir / output_name(template, video, fmt) for fmt in formats}
    if "{id" not in template:
        ours = set(video.outputs)
        claimed = [p for p in paths.values() if _claim(p, ours)]
        if len(claimed) < len(paths):
            for p in claimed:
                if str(p) not in ours:
                    p.unlink(missing_ok=True)  # an empty placeholder we made a moment ago
            with_id = template + " [{id}]"
            paths = {fmt: out_dir / output_name(with_id, video, fmt) for fmt in formats}
    for fmt, path in paths.items():
        atomic_write_text(path, contents[fmt])
    return [str(p) for p in paths.values()]
