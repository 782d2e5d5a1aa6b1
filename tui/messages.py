"""What the screens ask of the app. Screens post these; the app handles them (`@on`), so no
screen calls an app method by name. Each is named for the user's intent, not for the code
that will run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.message import Message

from ..core.plan import Plan
from ..core.settings import Settings


@dataclass(frozen=True)
class StartRequest:
    """What the user asked for when pressing Start on the config screen."""

    settings: Settings
    batch_path: str
    api_key: str | None
    key_source: str
    save_key: bool
    remember: bool
    # What the user set expressly (flags, or the fields changed on the screen): when the batch
    # already has a session, only these override the session's own settings.
    overrides: dict | None = None


class StartRequested(Message):
    """Start (or resume) the batch of `request` (config screen's Start, or `--start`)."""

    def __init__(self, request: StartRequest) -> None:
        super().__init__()
        self.request = request


class PlanAccepted(Message):
    """The user accepted the plan shown (enter on the plan screen): create its session and run."""

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan


class StartNowRequested(Message):
    """Start the batch at once, before the plan is complete: lookups go on while it submits."""


class PlanDismissed(Message):
    """Escape on the plan screen: back to where the user came from."""


class ResumeRequested(Message):
    """Open the saved session at `path` and run it."""

    def __init__(self, path: Path | str) -> None:
        super().__init__()
        self.path = Path(path)


class DiscardRequested(Message):
    """Delete the saved session at `path` (the user said yes). The app answers the sending
    screen with `session_discarded(path)` when it went."""

    def __init__(self, path: Path | str) -> None:
        super().__init__()
        self.path = Path(path)


class NewBatchRequested(Message):
    """Show the config screen for a new batch."""


class QuitRequested(Message):
    """Quit (asks while work runs)."""


class RunSteered(Message):
    """A key changed the run (pause, stop, retry): repaint now rather than at the next tick."""


class ResubmitInDoubtRequested(Message):
    """The user said yes to paying again for the videos in doubt of the session at `path`."""

    def __init__(self, path: Path | str) -> None:
        super().__init__()
        self.path = Path(path)
