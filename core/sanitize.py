"""Untrusted text made safe to show: titles, server messages, file names, error text.

Text chosen by strangers (video titles, channel names) or sent by a server (error messages,
HTML gateway pages) reaches terminals and files a person opens. This is the one place that
decides what of it may pass.
"""

from __future__ import annotations

import re

# Escape sequences first (CSI, OSC, two-byte ESC x), then any other control character.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-_])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean(text: object, limit: int | None = None) -> str:
    """Make untrusted text (titles, server messages) safe to show on one line.

    Escape sequences and control characters are removed, whitespace runs collapse to one
    space. Markup such as ``[bold]`` is kept as literal text: callers must render the result
    without markup (a Rich ``Text``), which is the other half of showing titles literally.
    With `limit`, the result is cut to at most that many characters, ending in an ellipsis.
    """
    s = _ANSI.sub("", str(text))
    s = _CONTROL.sub(lambda m: " " if m.group() in "\t\n\r" else "", s)
    s = " ".join(s.split())
    if limit is not None and len(s) > limit:
        s = s[: max(limit - 1, 0)] + "…"
    return s
