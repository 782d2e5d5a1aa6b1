"""The config form's text field: like Textual's Input, except that `?` opens the help.

An Input claims every printable key, so `?` (help on every other screen) would be typed into
the field. No field of the form needs a `?` (paths, numbers, a language code, a URL base); one
can still be pasted.
"""

from __future__ import annotations

from textual.widgets import Input

HELP_CHARACTER = "?"


class Field(Input):
    def check_consume_key(self, key: str, character: str | None) -> bool:
        if character == HELP_CHARACTER:
            return False   # leave it to the app's help binding
        return super().check_consume_key(key, character)
