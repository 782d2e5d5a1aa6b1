"""Transcripts already in the output folder, adopted by a new session instead of paid for again.

When a session is lost (damaged and moved away, deleted) and the batch runs again, its videos'
transcripts are usually still in the output folder. A video is adopted when a non-empty file of
one of the wanted formats is found under the name the template gives it (or, with `{id}` in the
template, any name ending in ``[id]``, since titles may differ between lookups). Formats that
are missing are written from the adopted text when they can be (txt, md, json from any text;
srt and vtt only from a json file's segments); what cannot be rebuilt is said, never paid for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..model import METHODS, Video, VideoState
from ..store.atomic import atomic_write_text
from ..transcript import Segment, Transcript
from .transcripts import output_name, render

_ORDER = ("json", "txt", "md", "srt", "vtt")   # json first: it alone carries segments


@dataclass(frozen=True)
class Adopted:
    key: str
    outputs: tuple[str, ...]
    missing: tuple[str, ...]     # wanted formats that could not be rebuilt without a new job


def _existing(out_dir: Path, v: Video, fmt: str, template: str) -> Path | None:
    named = out_dir / output_name(template, v, fmt)
    if _usable(named):
        return named
    if "{id}" in template:
        for candidate in sorted(out_dir.glob(f"*[[]{_glob_escape(v.vid)}[]].{fmt}")):
            if _usable(candidate):
                return candidate
    return None


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in text)


def _usable(p: Path) -> bool:
    try:
        return p.is_file() and p.stat().st_size > 0
    except OSError:
        return False


def _transcript_from(path: Path, fmt: str) -> Transcript | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if fmt == "json":
        try:
            doc = json.loads(text)
        except ValueError:
            return None
        segments = tuple(Segment(float(s["start"]), float(s["end"]), str(s.get("text", "")), str(s.get("speaker", "")))
                         for s in doc.get("segments", []) if isinstance(s, dict) and "start" in s and "end" in s)
        return Transcript(str(doc.get("text", "")), language=str(doc.get("language", "")), segments=segments,
                          raw=doc.get("result"))
    if fmt == "md":
        body = text.split("\n---\n", 1)[1] if text.startswith("---\n") and "\n---\n" in text else text
        return Transcript(body.strip())
    if fmt == "txt":
        return Transcript(text.strip())
    return None


def _method_from(path: Path) -> str:
    """The `method` a json output records ("" when it has none: files from before methods)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return ""
    method = doc.get("method") if isinstance(doc, dict) else None
    return method if method in METHODS else ""


def adopt_outputs(videos: list[Video], out_dir: Path | str, formats: tuple[str, ...], template: str) -> list[Adopted]:
    """Mark every video whose transcript is already in `out_dir` as done (in memory, before the
    session is created), writing the missing formats that can be rebuilt. Sync (run it in a
    thread for big batches). Never raises for a file it cannot read; OSError only for writes."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    adopted: list[Adopted] = []
    for v in videos:
        if v.state is VideoState.DONE:
            continue
        found = {fmt: p for fmt in _ORDER if (p := _existing(out_dir, v, fmt, template)) is not None}
        if not found:
            continue
        source = next((_transcript_from(found[f], f) for f in _ORDER if f in found and f in ("json", "txt", "md")), None)
        if "json" in found and not v.method:
            v.method = _method_from(found["json"])   # how the adopted text came, as its json file says
        outputs: dict[str, str] = {f: str(p) for f, p in found.items() if f in formats}
        missing: list[str] = []
        for fmt in formats:
            if fmt in outputs:
                continue
            try:
                if source is None:
                    raise ValueError("no text to rebuild it from")
                path = out_dir / output_name(template, v, fmt)
                atomic_write_text(path, render(fmt, v, source))
                outputs[fmt] = str(path)
            except ValueError:
                missing.append(fmt)
        if not outputs:
            continue
        v.state, v.outputs = VideoState.DONE, [outputs[f] for f in formats if f in outputs]
        v.message = ("adopted the transcript already in the output folder"
                     + (f"; {', '.join(missing)} not rebuilt (needs deAPI's segments)" if missing else ""))
        adopted.append(Adopted(v.key, tuple(v.outputs), tuple(missing)))
    return adopted
