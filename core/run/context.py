"""What one video's walk may use of its run: a small record of parts, not the Engine.

The engine builds one `RunContext` per run and hands it to every worker; `video.py` sees
only this, so the walk's dependencies are these fields and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import anyio

from ..model import Video
from ..settings import Settings
from .budget import Budget
from .controls import Brakes
from .outage import Outage
from .pacing import Pacing
from .pollgate import PollGate
from .polling import PollPlanner
from .queue import WorkQueue
from .reporter import Reporter
from .stats import Throughput

if TYPE_CHECKING:
    from ..deapi.client import DeapiClient
    from ..limiter import RateLimiter
    from ..store.session import Session


@dataclass(eq=False)
class RunContext:
    session: "Session"
    settings: Settings
    client: "DeapiClient"
    limiter: "RateLimiter"
    planner: PollPlanner
    pacing: Pacing
    queue: WorkQueue
    brakes: Brakes
    reporter: Reporter
    throughput: Throughput
    clock: Callable[[], float]
    budget: Budget
    polls: PollGate = field(default=None)   # type: ignore[assignment]  # set in __post_init__
    following: int = 0          # jobs being polled right now
    unreachable: int = 0        # submits in a row that never reached deAPI
    reached: bool = False       # a submit of this run was answered: deAPI was up at some point
    on_wire: set[Any] = field(default_factory=set)   # cancel scopes of submits awaiting their answer
    feeder: Any = None          # the run's Feeder while it expands and looks up (for progress)
    downloads: Any = None       # anyio.CapacityLimiter bounding audio downloads (made by upload.py)
    captions: Any = None        # the run's CaptionFetcher under --captions first|only (captions.py)
    outage: Outage | None = None   # deAPI's run of server errors (made from `clock` when not given)
    planner_news: Any = None    # anyio.Event set (and replaced) when the planner learns: held first looks re-plan

    def __post_init__(self) -> None:
        if self.outage is None:
            self.outage = Outage(self.clock)
        if self.polls is None:
            self.polls = PollGate(clock=self.clock)
        if self.planner_news is None:
            self.planner_news = anyio.Event()

    def planner_learned(self) -> None:
        """The planner learned a job's time or a forecast: wake the first looks held for it."""
        self.planner_news.set()
        self.planner_news = anyio.Event()

    async def record(self, v: Video, *, durable: bool = True, **changes: Any) -> None:
        """Change a video, durably unless told otherwise (see `Session.record`), and tell the faces
        when its state or error category changed."""
        if durable:
            await self.session.record(v, **changes)
        else:
            self.session.record_nowait(v, **changes)
        if "state" in changes or "category" in changes:
            self.reporter.video_changed(v)
