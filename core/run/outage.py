"""deAPI answering server errors (5xx) for a long time: one outage for the run, said once.

Every worker that meets a 5xx backs off on its own (`backoff.py`); what the user needs is one
statement for the whole run: "deAPI answering 503 for 12 m; next try in 40 s", on the header,
the worker rows and the headless progress lines, instead of an error line per try for hours.
An outage starts at the first server error after a good answer and ends at the next good
answer. The first `LONG_AFTER` errors of a streak are logged as usual (a single 503 is worth a
line); from then on the outage is "long": tries are counted, not logged, and a notice says so
once, and once more when deAPI answers again.
"""

from __future__ import annotations

from typing import Any, Callable

import anyio

from ..durations import for_words
from ..events import ServerTrouble

LONG_AFTER = 3   # server errors in a row, with no good answer between, before the outage is named


class Outage:
    """The run's streak of server errors (see the module docstring). `clock` is monotonic."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.since: float | None = None   # the first error of the streak
        self.tries = 0
        self.status: int | None = None    # the latest error's HTTP status (None: an unreadable answer)
        self._next: dict[int, float] = {}   # worker slot -> when its next try is due
        self.probing = False              # a held submit is probing deAPI (one at a time)
        self.probes = 0                   # probes sent in this outage (their back-off grows)
        self._over: Any = None            # anyio.Event set when the outage ends (made on demand)

    @property
    def long(self) -> bool:
        return self.tries >= LONG_AFTER

    def failed(self, status: int | None) -> tuple[bool, bool]:
        """A server error now. Returns (log it, the outage just became long)."""
        if self.since is None:
            self.since = self._clock()
        self.tries += 1
        self.status = status
        return self.tries <= LONG_AFTER, self.tries == LONG_AFTER

    def retry_at(self, slot: int, when: float) -> None:
        """Worker `slot` tries again at `when` (monotonic)."""
        self._next[slot] = when

    def next_try(self) -> float | None:
        """When the soonest worker tries again (monotonic), if any is waiting."""
        return min(self._next.values()) if self._next else None

    def retried(self, slot: int) -> None:
        self._next.pop(slot, None)

    def answered(self) -> tuple[float, int] | None:
        """A good answer: the outage is over. Returns (how long it lasted, tries) when it was long."""
        was = (self._clock() - self.since, self.tries) if self.long and self.since is not None else None
        self.since, self.tries, self.status = None, 0, None
        self._next.clear()
        self.probes = 0
        if self._over is not None:
            self._over.set()
            self._over = None
        return was

    async def wait_over(self, timeout: float) -> None:
        """Until the outage ends or `timeout` seconds pass, whichever is first."""
        if not self.long:
            return
        if self._over is None:
            self._over = anyio.Event()
        with anyio.move_on_after(timeout):
            await self._over.wait()

    def snapshot(self) -> ServerTrouble | None:
        """What the faces show while the outage is long; None otherwise."""
        if not self.long or self.since is None:
            return None
        return ServerTrouble(status=self.status, since=self.since, tries=self.tries,
                             next_try=self.next_try())

    def words(self) -> str:
        """`503 for 12 m`: the worker row's short form ("" while not long)."""
        if not self.long or self.since is None:
            return ""
        return f"{self.status or 'server error'} for {for_words(self._clock() - self.since)}"
