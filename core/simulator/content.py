"""Deterministic fake media facts and transcripts, derived from the source URL.

The same URL always yields the same duration and the same words, so tests can assert
on content and benchmarks are reproducible.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import parse_qs, urlparse

_SENTENCES = (
    "Welcome back to the channel.",
    "Today we look at something a lot of you asked about.",
    "Let me show you how this works step by step.",
    "The first thing to notice is the setup.",
    "This part surprised me the first time I tried it.",
    "If you have questions, leave them in the comments.",
    "Now let us compare the two approaches.",
    "That is the whole trick, and it takes about a minute.",
    "Thanks for watching, and see you in the next one.",
)


def unit(*parts: object) -> float:
    """A stable number in [0, 1) from the given parts (independent of PYTHONHASHSEED)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def video_id(source_url: str) -> str:
    """YouTube's `v=` parameter, else the last path segment, else a short hash."""
    parsed = urlparse(source_url)
    if parsed.scheme == "upload":   # upload://<file name>#<digest>: the file's name
        return parsed.netloc or hashlib.sha256(source_url.encode()).hexdigest()[:11]
    v = parse_qs(parsed.query).get("v")
    if v and v[0]:
        return v[0]
    segments = [s for s in parsed.path.split("/") if s]
    if segments:
        return segments[-1]
    return hashlib.sha256(source_url.encode()).hexdigest()[:11]


def duration_for(source_url: str) -> float:
    """Media duration in seconds (2 to 60 minutes), what a price quote is based on."""
    return round(120.0 + unit("duration", source_url) * 3480.0, 1)


def platform_for(source_url: str) -> str:
    host = urlparse(source_url).netloc.lower()
    for name in ("youtube", "youtu.be", "tiktok", "twitch", "kick", "x.com", "twitter"):
        if name in host:
            return {"youtu.be": "youtube", "x.com": "x", "twitter": "x"}.get(name, name)
    return "other"


def sentences_for(source_url: str) -> list[str]:
    vid = video_id(source_url)
    count = 2 + int(unit("sentences", source_url) * 4)
    start = int(unit("offset", source_url) * len(_SENTENCES))
    picked = [_SENTENCES[(start + i) % len(_SENTENCES)] for i in range(count)]
    return [f"This is the simulated transcript of video {vid}."] + picked


def plain_text(source_url: str, *, silent: bool = False) -> str:
    return "" if silent else " ".join(sentences_for(source_url))


def media_seconds(data: bytes) -> float | None:
    """The length of an uploaded media file, read with PyAV when it is installed and the file
    is readable; None otherwise (the job's length is then derived from its name)."""
    try:
        import io

        import av
    except ImportError:
        return None
    try:
        with av.open(io.BytesIO(data)) as container:
            if container.duration:
                return container.duration / 1_000_000
            stream = next(iter(container.streams.audio), None)
            if stream is not None and stream.duration and stream.time_base:
                return float(stream.duration * stream.time_base)
    except Exception:   # not media PyAV can read: the name-derived length stands
        return None
    return None


def structured(source_url: str, *, lang: str = "", words: bool = False, silent: bool = False,
               seconds: float | None = None) -> dict[str, Any]:
    """A WhisperLargeV3Ct2-style result: text, language and timed segments with speakers.
    With `seconds` (an upload's measured length) the segments are spread inside it."""
    language = lang or "en"
    if silent:
        return {"text": "", "language": language, "segments": []}
    segments = []
    clock = 0.0
    sentences = sentences_for(source_url)
    slot = seconds / len(sentences) if seconds else None
    for index, sentence in enumerate(sentences):
        tokens = sentence.split()
        length = round(len(tokens) / 2.5, 3) if slot is None else round(slot * 0.9, 3)
        segment: dict[str, Any] = {
            "start": round(clock, 3),
            "end": round(clock + length, 3),
            "text": sentence,
            "speaker": f"SPEAKER_{index % 2:02d}",
        }
        if words:
            step = length / len(tokens)
            segment["words"] = [
                {"word": w, "start": round(clock + i * step, 3), "end": round(clock + (i + 1) * step, 3),
                 "score": round(0.8 + 0.2 * unit("score", source_url, index, i), 3)}
                for i, w in enumerate(tokens)
            ]
        segments.append(segment)
        clock = clock + length + 0.4 if slot is None else round((index + 1) * slot, 3)
    return {"text": " ".join(s["text"] for s in segments), "language": language, "segments": segments}
