"""A check box whose state shows in its glyph (X or blank), not only in its colour.

Textual's Checkbox draws the same `X` for on and off and tells them apart by colour, which
vanishes under NO_COLOR or a monochrome terminal.
"""

from __future__ import annotations

from textual.widgets import Checkbox


class Tick(Checkbox):
    @property
    def BUTTON_INNER(self) -> str:  # noqa: N802 (overrides the base class's constant)
        return "X" if self.value else " "
