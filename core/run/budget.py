"""Spending guard: submitting stops, saying why, before the run would spend more than the
account's balance or than the user's `--max-cost`.

What is counted: what the session's videos cost so far (deAPI's prices, else estimates), the
estimate of every paid job not yet finished (re-attached ones included), and a reservation
for each submit this run sends, held until that video's walk ends. A submit goes only if its
own estimate still fits. Estimates come from core/prices.py. Under `--max-cost` a video of
unknown length (no lookup yet, or `--no-metadata`) is priced by deAPI's own quote for its URL
before it is submitted (`wants_quote`), so one long video cannot take the batch past the limit;
without a limit, or when the quote cannot be had, it is assumed as long as the median known one
(ten minutes when none is known).
"""

from __future__ import annotations

import statistics
from typing import Iterable

from ..model import Video, VideoState
from ..prices import estimate_price

MIN_BALANCE = 0.49     # deAPI refuses jobs below this balance
DEFAULT_SECONDS = 600.0


class Budget:
    """`max_cost` (USD for the whole batch, 0 = none) and `balance` (USD at the start of this
    run, None = unknown) are the two limits; either may be absent."""

    def __init__(self, videos: Iterable[Video], *, max_cost: float = 0.0, balance: float | None = None) -> None:
        videos = list(videos)
        self.max_cost = max_cost
        self.balance = balance
        self.quotes: dict[str, float] = {}   # deAPI's price for videos of unknown length (by key)
        self._asked: set[str] = set()
        known = [v.duration for v in videos if v.duration is not None]
        self._typical = statistics.median(known) if known else DEFAULT_SECONDS
        self.spent = sum(v.cost for v in videos)           # what the session has spent, all runs
        self._spent_at_start = self.spent
        # Paid already (request id known) but not finished: their price is coming.
        self._owed = sum(self.estimate(v) for v in videos
                         if v.request_id and not v.cost and v.state is not VideoState.DONE)
        self._reserved: dict[str, float] = {}

    def estimate(self, v: Video) -> float:
        if v.duration is None and v.key in self.quotes:
            return self.quotes[v.key]
        return estimate_price(v.duration if v.duration is not None else self._typical) or 0.0

    @property
    def typical_minutes(self) -> float:
        return self._typical / 60.0

    def wants_quote(self, v: Video) -> bool:
        """Whether to ask deAPI what `v` will cost before submitting it (once per video per run)."""
        return bool(self.max_cost) and v.duration is None and v.key not in self._asked

    def quoted(self, v: Video, price: float | None) -> None:
        """deAPI's quote for `v` (None: it could not be had; the typical length stands in)."""
        self._asked.add(v.key)
        if price is not None:
            self.quotes[v.key] = price

    def refusal(self, v: Video) -> str:
        """Why `v` may not be submitted now ("" when it may)."""
        est = self.estimate(v)
        committed = self.spent + self._owed + sum(self._reserved.values())
        if self.max_cost and committed + est > self.max_cost:
            return (f"submitting stopped before the batch would go over --max-cost ${self.max_cost:.2f} "
                    f"(${committed:.2f} spent or committed, about ${est:.4f} more for the next video)")
        if self.balance is not None:
            this_run = committed - self._spent_at_start - self._owed
            if this_run + est > self.balance - MIN_BALANCE:
                return (f"submitting stopped before the balance would run out (${self.balance:.2f} at the start, "
                        f"${this_run:.2f} committed by this run, deAPI needs ${MIN_BALANCE:.2f} left)")
        return ""

    def reserve(self, v: Video) -> None:
        self._reserved[v.key] = self.estimate(v)

    def release(self, v: Video) -> None:
        self._reserved.pop(v.key, None)

    def paid(self, v: Video, amount: float) -> None:
        """`v` cost `amount` more (recorded on the video); its reservation is spent."""
        self.spent += amount
        self._reserved.pop(v.key, None)
