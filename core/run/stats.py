"""Throughput and ETA for the whole batch.

Videos per minute is measured over a sliding window of recent completions, so a long
run's rate follows the present rather than the average since the start. Before anything
has finished, the ETA comes from the model bound min(level / expected latency, submit rate).
"""

from __future__ import annotations

from collections import deque


class Throughput:
    def __init__(self, window: float = 300.0) -> None:
        self.window = window
        self._done: deque[float] = deque()
        self.started: float | None = None

    def start(self, now: float) -> None:
        if self.started is None:
            self.started = now

    def completed(self, now: float) -> None:
        self._done.append(now)
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self._done and self._done[0] < now - self.window:
            self._done.popleft()

    def per_minute(self, now: float) -> float:
        """Completions per minute over the window (or since the start, if shorter)."""
        self._trim(now)
        if not self._done or self.started is None:
            return 0.0
        span = min(self.window, now - self.started)
        if span < 1.0:
            return 0.0
        return len(self._done) * 60.0 / span

    def eta(self, now: float, remaining: int, *, model_rate_per_min: float) -> float | None:
        """Seconds until `remaining` videos are done; None when nothing allows a guess."""
        if remaining <= 0:
            return 0.0
        measured = self.per_minute(now)
        # Until a few videos have finished the measured rate is noise: lean on the model.
        rate = measured if len(self._done) >= 3 else (measured or model_rate_per_min)
        if rate <= 0:
            return None
        return remaining * 60.0 / rate
