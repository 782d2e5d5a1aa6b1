"""Every way the program writes a length of time, in one place (core's messages and the faces alike).

- `fmt_duration`: compact, for headers and summaries: `45s`, `3m05s`, `2h07m`, `3d04h`.
- `fmt_clock`: a media file's length as a clock: `3:07`, `1:02:03`.
- `for_words`: in a sentence, to the unit that matters: `45 s`, `12 m`, `2 h 05 m`.
- `span_words`: a long estimate in a sentence: `90 min`, `2.5 h`, `3.0 days`.
"""

from __future__ import annotations

import math


def fmt_duration(seconds: float | None) -> str:
    """`45s`, `3m05s`, `2h07m`, `3d04h`; an em dash when unknown."""
    if seconds is None or seconds < 0 or math.isnan(seconds) or math.isinf(seconds):
        return "—"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


def fmt_clock(seconds: float | None) -> str:
    """A media length as a clock: `3:07`, `1:02:03`; `?` when unknown."""
    if seconds is None:
        return "?"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    return f"{h}:{rem // 60:02d}:{rem % 60:02d}" if h else f"{rem // 60}:{rem % 60:02d}"


def for_words(seconds: float) -> str:
    """`45 s`, `12 m`, `2 h 05 m`: how long, to the unit that matters."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} m"
    return f"{s // 3600} h {(s % 3600) // 60:02d} m"


def span_words(seconds: float) -> str:
    """`90 min`, `2.5 h`, `3.0 days`: a long estimate, to the unit that reads best."""
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
