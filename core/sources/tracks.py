"""Which caption tracks yt-dlp's info lists for a video, and which one a run takes.

The metadata lookup already returns yt-dlp's info dict with `subtitles` (uploaded by the
creator) and `automatic_captions` (the site's speech recognition), so knowing what exists
costs no extra call. Only a compact list is kept on the video, one text per track::

    "sub:en:vtt:https://..."     kind (sub | auto), language, format, URL

with one format per language (vtt, else srt, else json3) and, for automatic captions, only
the original language's and English (YouTube lists a machine translation into ~150 languages
for each video).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .subtitles import EXTS

MAX_TRACKS = 16            # per kind: a video with captions in 40 languages keeps the first 16
_SKIP = ("live_chat", "rechat", "danmaku")   # chat replays that yt-dlp lists among subtitles


@dataclass(frozen=True)
class Track:
    auto: bool
    lang: str
    ext: str
    url: str

    def encode(self) -> str:
        return f"{'auto' if self.auto else 'sub'}:{self.lang}:{self.ext}:{self.url}"

    @classmethod
    def decode(cls, text: str) -> "Track | None":
        parts = text.split(":", 3)
        if len(parts) != 4 or parts[0] not in ("sub", "auto") or not parts[3]:
            return None
        return cls(parts[0] == "auto", parts[1], parts[2], parts[3])


def _base(lang: str) -> str:
    return lang.lower().removesuffix("-orig").split("-")[0].split("_")[0]


def _best(formats: Any) -> dict[str, Any] | None:
    if not isinstance(formats, list):
        return None
    usable = [f for f in formats if isinstance(f, dict) and f.get("url") and f.get("ext") in EXTS]
    return min(usable, key=lambda f: EXTS.index(f["ext"]), default=None)


def caption_tracks(info: dict[str, Any]) -> list[str]:
    """The compact track list (see the module docstring) of one video's yt-dlp info."""
    out: list[str] = []
    original = str(info.get("language") or "")
    for auto, name in ((False, "subtitles"), (True, "automatic_captions")):
        table = info.get(name)
        if not isinstance(table, dict):
            continue
        langs = [lang for lang in table if isinstance(lang, str) and ":" not in lang and lang not in _SKIP]
        if auto:
            langs = [lang for lang in langs if lang.endswith("-orig") or _base(lang) in {_base(original), "en"}]
        for lang in langs[:MAX_TRACKS]:
            best = _best(table[lang])
            if best is not None:
                out.append(Track(auto, lang, str(best["ext"]), str(best["url"])).encode())
    return out


def choose_track(tracks: list[str], *, lang: str = "", original: str = "", auto: bool = False) -> Track | None:
    """The track a run takes, or None. The language is `lang` (the user's --lang), else the
    video's original language, else English; creator-uploaded captions come before automatic
    ones, which are taken only when `auto`. With no --lang and no known original language, a
    video whose creator uploaded captions in one language only gets those."""
    decoded = [t for x in tracks if (t := Track.decode(x)) is not None and (auto or not t.auto)]
    wanted = [lang] if lang else [x for x in (original, "en") if x]

    def rank(t: Track) -> tuple[int, int, int, int] | None:
        for i, w in enumerate(wanted):
            if t.lang.lower() == w.lower() or _base(t.lang) == _base(w):
                exact = t.lang.lower() in (w.lower(), f"{w.lower()}-orig")
                return (i, int(t.auto), int(not exact), int(not t.lang.endswith("-orig")))
        return None

    ranked = sorted((r, n, t) for n, t in enumerate(decoded) if (r := rank(t)) is not None)
    if ranked:
        return ranked[0][2]
    own = [t for t in decoded if not t.auto]
    if not lang and not original and len(own) == 1:
        return own[0]
    return None


def languages(tracks: list[str], *, auto: bool) -> list[str]:
    """The languages of the creator's tracks (and of the automatic ones when `auto`), for messages."""
    return sorted({t.lang for x in tracks if (t := Track.decode(x)) is not None and (auto or not t.auto)})
