"""Untrusted text made safe to show: titles, server messages, file names, error text.

Text chosen by strangers (video titles, channel names) or sent by a server (error messages,
HTML gateway pages) or read from a file (a batch line, a session edited by hand) reaches
terminals and files a person opens. This is the one place that decides what of it may pass,
with one function per kind of place:

- `clean`: a terminal line (the app, headless stderr, error messages). Escape sequences (7-bit
  and 8-bit: CSI, OSC, DCS/SOS/PM/APC strings, two-byte ESC x), every other C0/C1 control
  character and DEL, and the bidirectional controls that reorder what a terminal shows
  (U+202A-U+202E embeddings and overrides, U+2066-U+2069 isolates, U+200E/U+200F marks,
  U+061C) are removed; ordinary Unicode (accents, CJK, emoji, markup-looking text) is kept.
- `csv_cell`: a cell of a CSV a person opens (``cat`` or a spreadsheet): the same characters
  removed (line breaks and tabs become spaces, other spaces are kept, so paths stay exact),
  then a cell that starts like a formula (``= + - @``, after spaces) gets a leading ``'``.
- `json_text`: one JSON value for machine-readable output on a terminal: ``ensure_ascii``
  escapes every non-ASCII character (C1 controls and bidi controls included) and JSON
  escapes C0 controls; DEL, the one ASCII control JSON leaves raw, is escaped too. The data
  is kept exactly (a reader decodes the escapes); nothing raw reaches the terminal.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Escape sequences first, so their parameters go with them: CSI (ESC [ or 0x9B) with its
# parameters and final byte; OSC (ESC ] or 0x9D) up to BEL or ST; DCS, SOS, PM and APC strings
# (ESC P/X/^/_ or 0x90/0x98/0x9E/0x9F) up to ST; then any other two-byte ESC x.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c]*(?:\x1b\\|\x9c)?"
    r"|\x1b[ -~]"
)
# Then every control character left (C0, DEL, C1) and the bidirectional controls.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SPACE_LIKE = frozenset("\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85")
_FORMULA_START = ("=", "+", "-", "@")


def _strip(text: object) -> str:
    s = _ESCAPES.sub("", str(text))
    return _CONTROL.sub(lambda m: " " if m.group() in _SPACE_LIKE else "", s)


def clean(text: object, limit: int | None = None) -> str:
    """Make untrusted text (titles, server messages) safe to show on one line of a terminal.

    Escape sequences, control characters and bidi controls are removed (see the module
    docstring), whitespace runs (line breaks included) collapse to one space. Markup such as
    ``[bold]`` is kept as literal text: callers must render the result without markup (a Rich
    ``Text``), which is the other half of showing titles literally. With `limit`, the result
    is cut to at most that many characters, ending in an ellipsis.
    """
    s = " ".join(_strip(text).split())
    if limit is not None and len(s) > limit:
        s = s[: max(limit - 1, 0)] + "…"
    return s


def csv_cell(text: object) -> str:
    """A CSV cell for a file a person opens: what `clean` removes is removed (line breaks and
    tabs become spaces; spaces are not collapsed), and a cell that starts like a formula
    (``= + - @``, after any spaces) is prefixed with ``'`` so a spreadsheet shows it as text."""
    s = _strip(text)
    return "'" + s if s.lstrip().startswith(_FORMULA_START) else s


def json_text(value: Any) -> str:
    """`value` as one line of JSON that is safe to print: only printable ASCII reaches the
    terminal (see the module docstring). Raises TypeError/ValueError as `json.dumps` does."""
    return json.dumps(value, ensure_ascii=True).replace("\x7f", "\\u007f")
