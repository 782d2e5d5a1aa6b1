"""The "finish" order's choice for a free slot: the longest video, or the shortest when that costs
the batch nothing.

Longest-processing-time first (LPT) makes a batch on parallel slots end early, because the short
videos left at the end fill the gaps between slots. A fixed slot that always takes the shortest
eats those fillers: on an even spread of lengths the batch then ended about 9 % after its lower
bound instead of 2 %. So the choice is planned: the remaining videos are scheduled longest first
on the slots as they free (the in-flight jobs' predicted remainders, then the empty slots), once
with the longest taken now and once with the shortest; the shortest is taken when its plan ends
no later. Each choice keeps the plan's end where LPT would put it, so the batch's predicted end
never grows, and results still come early wherever the tail has room for them. The very first
video of a run is the shortest in any case (one short job costs at most its own length), so the
first transcript is as early as shortest-first's.

Time here is in seconds of audio: the plan needs only that a job's time grows with its length
(as the order itself assumes). A slot's job ends at its start plus its length; the plan's clock
is the latest predicted end among the jobs that have ended.
"""

from __future__ import annotations

import heapq
from typing import Iterable


def lpt_end(loads: Iterable[float], lengths_desc: Iterable[float]) -> float:
    """When the last slot ends if each of `lengths_desc` (longest first) goes to the slot that
    frees first; `loads` are the slots' times until free (0 = free now), at least one."""
    heap = list(loads)
    heapq.heapify(heap)
    for length in lengths_desc:
        heapq.heapreplace(heap, heap[0] + length)
    return max(heap)


class FinishPlan:
    """The in-flight jobs' predicted ends, and the test of whether a slot may take the shortest."""

    def __init__(self) -> None:
        self.now = 0.0                      # the plan's clock (seconds of audio)
        self.ends: dict[str, float] = {}    # video key -> predicted end of its job
        self.started = False                # the run has taken a new video (the first goes short)
        self._known = [0.0, 0]              # sum and count of the lengths started

    def start(self, key: str, length: float | None) -> None:
        """A slot took `key` (its length; None plans it as the mean of those known)."""
        if length is None:
            total, count = self._known
            length = total / count if count else 0.0
        else:
            self._known[0] += length
            self._known[1] += 1
        self.ends[key] = self.now + length

    def end(self, key: str) -> None:
        """The job of `key` ended (done, failed or given back)."""
        predicted = self.ends.pop(key, None)
        if predicted is not None:
            self.now = max(self.now, predicted)

    def shortest_costs_nothing(self, longest: float, shortest: float, others: Iterable[float], width: int) -> bool:
        """Whether taking `shortest` now (instead of `longest`) leaves the planned end no later;
        `others` are the other known lengths queued; `width` the slots."""
        if not self.started:
            return True
        rest = sorted(others, reverse=True)
        busy = [max(0.0, end - self.now) for end in self.ends.values()]
        slots = busy + [0.0] * max(0, width - len(busy) - 1)
        if_long = lpt_end([*slots, longest], sorted([*rest, shortest], reverse=True))
        if_short = lpt_end([*slots, shortest], sorted([*rest, longest], reverse=True))
        return if_short <= if_long + 1e-9
