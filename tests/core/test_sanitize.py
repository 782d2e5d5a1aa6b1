"""The one sanitiser: what of untrusted text may reach a terminal, a CSV cell or a JSON line."""

from __future__ import annotations

import json
import re

from hypothesis import given
from hypothesis import strategies as st

from bulk_transcribe.core.sanitize import clean, csv_cell, json_text

# A title a stranger chose: colour, an 8-bit CSI, a window-title OSC, a bell, a right-to-left
# override that makes "gpj.exe" read as "exe.jpg", isolates, marks and the Arabic letter mark.
HOSTILE_TITLE = ("\x1b[31mred\x1b[0m \x9b2J\x9b31m \x1b]0;owned\x07 \x1bPdcs\x1b\\ bell\x07 "
                 "\u202egpj.exe\u202c \u2066iso\u2069 \u200emark\u200f \u061cx Ünïcödé 日本 🎬 [b]lit[/b]")
HOSTILE_MESSAGE = "502 Bad Gateway\r\n<html>\x1b[2J\x9d8;;http://evil\x9c\u202ereversed\x00\x7f</html>"

# Everything that must never reach a terminal raw.
FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def test_clean_removes_escapes_controls_and_bidi_but_keeps_ordinary_unicode():
    out = clean(HOSTILE_TITLE)
    assert not FORBIDDEN.search(out)
    assert "owned" not in out and "dcs" not in out and "2J" not in out, "sequences go with their parameters"
    assert out == "red bell gpj.exe iso mark x Ünïcödé 日本 🎬 [b]lit[/b]"
    assert clean(HOSTILE_MESSAGE) == "502 Bad Gateway <html>reversed</html>"


def test_csv_cells_are_cleaned_keep_spaces_and_defuse_formulas():
    assert not FORBIDDEN.search(csv_cell(HOSTILE_TITLE))
    assert csv_cell("/out/two  spaces [x].txt") == "/out/two  spaces [x].txt", "paths stay exact"
    assert csv_cell("a\nb\tc") == "a b c"
    for formula in ("=1+1", "+1", "-1", "@SUM(A1)", "  =1", "\t=1", "\x1b[0m=1", "\u202e=1"):
        assert csv_cell(formula).startswith("'"), formula
    assert csv_cell("plain") == "plain"


def test_json_text_is_printable_ascii_and_keeps_the_data():
    value = {"title": HOSTILE_TITLE, "message": HOSTILE_MESSAGE}
    line = json_text(value)
    assert all(" " <= ch <= "~" for ch in line), "only printable ASCII reaches the terminal"
    assert "\\u202e" in line and "\\u009b" in line and "\\u007f" in line
    assert json.loads(line) == value


@given(st.text())
def test_no_text_gets_a_control_through(text):
    for out in (clean(text), csv_cell(text)):
        assert not FORBIDDEN.search(out)
    assert clean(text) == clean(clean(text)), "cleaning is stable"
    line = json_text(text)
    assert all(" " <= ch <= "~" for ch in line) and json.loads(line) == text


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zl", "Zp", "Zs"))))
def test_ordinary_text_passes_unchanged(text):
    assert clean(text) == text
