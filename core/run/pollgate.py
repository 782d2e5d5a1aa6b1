"""Who gets the next status call: the job predicted to finish first.

Each job's follow loop sleeps until its planned poll (`polling.PollPlanner`: the predicted end,
from progress samples and the job times seen so far), then queues here. Calls leave at most at
the status budget's pace (status calls per minute the limiter allows; in `shared` mode what
submits leave of the account's rate), and when several are due the one whose poll was due
first goes first: the budget is spent on jobs about to finish, not spread evenly over every
job in flight (which made a job's lag grow with the number in flight).
"""

from __future__ import annotations

import heapq
import itertools
import math
from typing import Callable

import anyio


class _Turn:
    __slots__ = ("due", "seq", "event")

    def __init__(self, due: float, seq: int) -> None:
        self.due, self.seq, self.event = due, seq, anyio.Event()

    def __lt__(self, other: "_Turn") -> bool:
        return (self.due, self.seq) < (other.due, other.seq)


class PollGate:
    """`await gate.turn(due, per_minute)` returns when this job may send its status call."""

    def __init__(self, *, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._heap: list[_Turn] = []
        self._seq = itertools.count()
        self._last = -math.inf
        self._idle = anyio.Event()
        self._idle.set()

    @property
    def waiting(self) -> int:
        return len(self._heap)

    def _wake_head(self) -> None:
        if self._heap:
            self._heap[0].event.set()
        elif not self._idle.is_set():
            self._idle.set()

    async def wait_idle(self) -> None:
        """Return when no status call is waiting its turn (at once if none is)."""
        await self._idle.wait()

    async def turn(self, due: float, per_minute: Callable[[], float]) -> None:
        """Wait for this job's turn: earliest `due` first, at most `per_minute()` calls a minute
        through the gate. Cancel-safe: a cancelled waiter leaves the queue."""
        me = _Turn(due, next(self._seq))
        heapq.heappush(self._heap, me)
        if self._idle.is_set():
            self._idle = anyio.Event()
        try:
            while True:
                if self._heap[0] is me:
                    gap = 60.0 / max(per_minute(), 1e-6)
                    wait = self._last + gap - self._clock()
                    if wait <= 0:
                        heapq.heappop(self._heap)
                        self._last = self._clock()
                        self._wake_head()
                        return
                    me.event = anyio.Event()
                    with anyio.move_on_after(wait):
                        await me.event.wait()   # set when an earlier job's turn came first
                else:
                    me.event = anyio.Event()
                    await me.event.wait()
        except BaseException:
            if me in self._heap:
                self._heap.remove(me)
                heapq.heapify(self._heap)
                self._wake_head()
            raise
