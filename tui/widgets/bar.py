"""A progress bar drawn with characters, so done and to-do differ without colour (NO_COLOR)."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


class TextBar(Widget):
    """`█████░░░░░  42.0%`: filled and empty cells use different glyphs, not only colours."""

    COMPONENT_CLASSES = {"textbar--done"}
    DEFAULT_CSS = """
    TextBar { height: 1; }
    TextBar > .textbar--done { color: $success; }
    """

    fraction: reactive[float] = reactive(0.0)

    def render(self) -> Text:
        width = max(self.size.width - 7, 1)
        f = min(max(self.fraction, 0.0), 1.0)
        filled = int(f * width)
        text = Text(no_wrap=True)
        text.append("█" * filled, style=self.get_component_rich_style("textbar--done", partial=True))
        text.append("░" * (width - filled))
        text.append(f" {f * 100:5.1f}%")
        return text
