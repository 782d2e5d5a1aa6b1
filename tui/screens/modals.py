"""Small modal screens: confirm quitting while work runs, the key help, and asking for an API key."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Static

from ...core.sanitize import clean
from ..widgets.key_input import KeyInput, key_status


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


class QuitChoice(ModalScreen[str]):
    """Quitting while the service runs the batch: detach (it keeps running) or stop it."""

    BINDINGS = [
        Binding("d", "answer('detach')", "detach"),
        Binding("s", "answer('stop')", "stop the batch"),
        Binding("escape,n", "answer('')", "keep watching"),
    ]

    def __init__(self, name: str, in_flight: int) -> None:
        super().__init__()
        self.batch_name, self.in_flight = name, in_flight

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text("Leave the app?", style="bold"), classes="dialog-title")
            yield Static(Text(
                f"The service runs this batch ({self.in_flight} job(s) in flight). Detach: it keeps running "
                f"without this terminal; `bulk-transcribe` or `bulk-transcribe attach {clean(self.batch_name)}` "
                "shows it again. Stop: it is cut short now; the session is saved and a resume carries on."))
            yield Static(Text("d  detach     s  stop the batch     esc  keep watching"), classes="dialog-keys")

    def action_answer(self, answer: str) -> None:
        self.dismiss(answer)


def ask_then_post(screen: Screen, question: Confirm, message: Message) -> None:
    """Put `question` to the user; only a yes posts `message` from `screen` (for the app to act on)."""

    def answered(yes: bool | None) -> None:
        if yes:
            screen.post_message(message)

    screen.app.push_screen(question, answered)


def confirm_quit(in_flight: int) -> Confirm:
    return Confirm(
        "Quit while work is running?",
        f"{in_flight} job(s) in flight. The session is saved and jobs keep their request ids, "
        "so reopening resumes them without submitting again.",
        yes="quit", no="keep running",
    )


HELP_KEYS = (   # the run screen's
    ("p", "pause or resume submitting (jobs in flight continue)"),
    ("s", "graceful stop: no new submits, finish what is in flight"),
    ("r", "retry failed videos that may succeed (asks for the rest)"),
    ("l", "show or hide the error log"),
    ("tab", "move between the worker panel and the error log"),
    ("enter", "on an error: show it in full"),
    ("q", "quit (asks while work runs; the session is always saved)"),
)
# Every screen's help ends with these (the app's own keys).
COMMON_KEYS = (
    ("ctrl+p", "all of this screen's actions, by name"),
    ("ctrl+q", "quit from anywhere (asks while work runs)"),
    ("ctrl+z", "suspend to the shell (the batch waits too); fg brings it back"),
    ("?", "this help (f1 while typing in a field)"),
)


class HelpScreen(ModalScreen[None]):
    """The keys of the screen it was opened from (`keys`), then the app's own."""

    BINDINGS = [Binding("escape,question_mark,f1,q,enter", "close", "close")]

    def __init__(self, keys=HELP_KEYS, title: str = "Keys") -> None:
        super().__init__()
        self.keys, self.help_title = tuple(keys), title

    def compose(self) -> ComposeResult:
        text = Text()
        text.append(f"{self.help_title}\n\n", style="bold")
        rows = (*self.keys, *COMMON_KEYS)
        width = max(len(key) for key, _ in rows)   # 58 columns are left for the text at 80
        for key, what in rows:
            text.append(f"{key:>{width}}  ", style="bold")
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


class KeyPrompt(ModalScreen["str | None"]):
    """Ask for an API key for this run only (it is never saved): the key, or None on escape."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(clean(f"An API key is needed to resume {self.what}", 120), style="bold"),
                          classes="dialog-title")
            yield Static(Text("No key is set (DEAPI_API_KEY or the config file). Enter one for this "
                              "run; it is not saved."))
            yield KeyInput(id="prompt-key")
            yield Static(key_status("", None, ""), id="prompt-key-status", markup=False)
            yield Static(Text("enter  resume     escape  cancel"), classes="dialog-keys")

    def on_mount(self) -> None:
        field = self.query_one(KeyInput)
        field.cursor_blink = not getattr(self.app, "testing", False)
        field.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#prompt-key-status", Static).update(key_status(event.value.strip(), None, ""))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        key = event.value.strip()
        if not key:
            self.query_one("#prompt-key-status", Static).update("enter a key, or escape to go back")
            return
        self.dismiss(key)

    def action_cancel(self) -> None:
        self.dismiss(None)
