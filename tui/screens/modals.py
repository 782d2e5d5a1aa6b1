"""Small modal screens: confirm quitting while work runs, and the key help."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class Confirm(ModalScreen[bool]):
    """A yes/no question answered with y or n (escape means no)."""

    BINDINGS = [
        Binding("y", "answer(True)", "yes"),
        Binding("n,escape", "answer(False)", "no"),
    ]

    def __init__(self, title: str, body: str, yes: str = "yes", no: str = "no") -> None:
        super().__init__()
        self.title_text, self.body, self.yes, self.no = title, body, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(self.title_text, style="bold"), classes="dialog-title")
            yield Static(Text(self.body))
            yield Static(Text(f"y  {self.yes}     n  {self.no}"), classes="dialog-keys")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


def confirm_quit(in_flight: int) -> Confirm:
    return Confirm(
        "Quit while work is running?",
        f"{in_flight} job(s) in flight. The session is saved and jobs keep their request ids, "
        "so reopening resumes them without submitting again.",
        yes="quit", no="keep running",
    )


HELP_KEYS = (
    ("p", "pause or resume submitting (jobs in flight continue)"),
    ("s", "graceful stop: no new submits, finish what is in flight"),
    ("r", "retry failed videos that may be retried"),
    ("l", "show or hide the error log"),
    ("tab", "move between the worker panel and the error log"),
    ("enter", "on an error: show it in full"),
    ("q", "quit (asks while work runs; the session is always saved)"),
    ("?", "this help"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q,enter", "close", "close")]

    def compose(self) -> ComposeResult:
        text = Text()
        text.append("Keys\n\n", style="bold")
        for key, what in HELP_KEYS:
            text.append(f"{key:>5}  ", style="bold")
            text.append(f"{what}\n")
        text.append("\nEscape closes this help.")
        with Vertical(id="dialog"):
            yield Static(text)

    def action_close(self) -> None:
        self.dismiss(None)


class ErrorDetail(ModalScreen[None]):
    """One error log row in full (the log cuts messages at the screen's edge)."""

    BINDINGS = [Binding("escape,enter,q", "close", "close")]
    FIELDS = ("time", "video", "category", "HTTP status", "request id", "message")

    def __init__(self, row: tuple[str, ...]) -> None:
        super().__init__()
        self.row = row

    def compose(self) -> ComposeResult:
        text = Text()
        for name, value in zip(self.FIELDS, self.row):
            text.append(f"{name:>12}  ", style="bold")
            text.append(f"{value or '-'}\n")
        with Vertical(id="dialog"):
            yield Static(text)
            yield Static(Text("escape  close"), classes="dialog-keys")

    def action_close(self) -> None:
        self.dismiss(None)
