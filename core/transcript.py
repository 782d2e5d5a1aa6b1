"""A finished transcript as deAPI returns it, independent of any output format."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Segment:
    start: float
    end: float
    text: str
    speaker: str = ""


@dataclass(frozen=True)
class Transcript:
    """`text` is always set (possibly empty: a silent video is a result, not an error).
    `segments` only when the model returned structured output (WhisperLargeV3Ct2)."""

    text: str
    language: str = ""
    segments: tuple[Segment, ...] = ()
    raw: Any = field(default=None, compare=False)  # the parsed result as received, for the json format
