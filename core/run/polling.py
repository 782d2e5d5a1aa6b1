"""When to ask deAPI about a job: polling as a budget, not a fixed beat.

Three ideas:
- Learn how long jobs take (per second of audio when durations are known) and do not
  ask before a job can plausibly be done.
- Use what deAPI says: with `progress` rising, predict the finish and ask just after it.
- Never send more status calls than the budget carries, and spend it on the jobs about to
  finish: each job plans its own next look here, and `pollgate.PollGate` lets the planned
  looks out at the budget's pace, the earliest due first.
- When job times follow the audio length closely (durations known, the time per audio second
  seen varies little), the first look is aimed at the predicted end itself: most jobs then
  take one status call.
In economy mode (a daily status allowance, e.g. the Basic plan's 200 a day) polls are
aimed later and spaced wider, trading a little latency for calls. How long that allowance
must last is `status_horizon`'s question: until midnight, unless a daily submit allowance
bounds today's jobs, in which case only until they can all be submitted and followed.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

DEFAULT_EXPECTED = 30.0   # seconds, before any job has been seen to finish
MIN_GAP = 0.25            # never poll one job more often than this


@dataclass
class JobClock:
    """What we know of one job's progress, for predicting its end."""

    submitted: float                    # monotonic time the submit was answered (or re-attached)
    polls: int = 0
    last_poll: float = 0.0
    last_gap: float = 0.0
    samples: list[tuple[float, float]] = field(default_factory=list)  # (time, progress>0)

    def observe(self, now: float, progress: float | None) -> None:
        self.polls += 1
        self.last_poll = now
        if progress is not None and 0.0 < progress < 100.0:
            if not self.samples or progress > self.samples[-1][1]:
                self.samples.append((now, progress))
                del self.samples[:-2]


class PollPlanner:
    """Plans the delay before each status call. Pure: callers pass `now`."""

    def __init__(self, *, economy: bool | Callable[[], bool] = False, time_scale: float = 1.0) -> None:
        """`economy` may be a callable, asked at every plan (a daily status allowance that may
        come or go while the run learns the account's limits). `time_scale` > 1 divides every
        fixed time of the plan (first looks, caps, the default expectation, the minimum gap):
        only for benchmarks that run time faster."""
        self._economy = economy
        self._k = 1.0 / time_scale
        self._latency: deque[float] = deque(maxlen=50)        # seconds per job
        self._lead: deque[float] = deque(maxlen=50)           # share of a job before progress starts
        self._per_audio_second: deque[float] = deque(maxlen=50)

    @property
    def economy(self) -> bool:
        return bool(self._economy()) if callable(self._economy) else bool(self._economy)

    @economy.setter
    def economy(self, value: bool | Callable[[], bool]) -> None:
        self._economy = value

    # -- learning -----------------------------------------------------------------
    def learn(self, latency: float, duration: float | None, job: JobClock | None = None) -> None:
        """A job took `latency` seconds. With its `job` clock (two progress samples or more),
        also learn how much of a job passes before its progress starts rising (deAPI queues
        a job before it reports progress), so one sample predicts the end without erring late."""
        if latency <= 0:
            return
        self._latency.append(latency)
        if job is not None and len(job.samples) >= 2:
            (t1, p1), (t2, p2) = job.samples[-2], job.samples[-1]
            rate = (p2 - p1) / max(t2 - t1, 1e-6)
            if rate > 0:
                lead = (t2 - p2 / rate - job.submitted) / latency
                self._lead.append(min(0.9, max(0.0, lead)))
        if duration and duration > 0:
            self._per_audio_second.append(latency / duration)

    def expected(self, duration: float | None) -> float:
        """Expected seconds from submit to done for a video of `duration` seconds."""
        if duration and len(self._per_audio_second) >= 3:
            est = statistics.median(self._per_audio_second) * duration
            lo = min(self._latency) if self._latency else 1.0
            return max(est, 0.5 * lo)
        if self._latency:
            return statistics.median(self._latency)
        return DEFAULT_EXPECTED * self._k

    def tight(self) -> bool:
        """Whether job times follow the audio length closely: at least 5 jobs seen with a
        duration, and their times per audio second within 25 % of each other (20th to 80th
        percentile)."""
        if len(self._per_audio_second) < 5:
            return False
        ordered = sorted(self._per_audio_second)
        lo, hi = ordered[len(ordered) // 5], ordered[(4 * len(ordered)) // 5 - (len(ordered) % 5 == 0)]
        return hi <= 1.25 * lo

    def low_expected(self) -> float:
        """A short job's time: the 20th percentile of what was seen."""
        if len(self._latency) < 5:
            return self.expected(None) * 0.4
        ordered = sorted(self._latency)
        return ordered[len(ordered) // 5]

    # -- planning -----------------------------------------------------------------
    def next_delay(
        self,
        job: JobClock,
        now: float,
        *,
        duration: float | None,
    ) -> float:
        """Seconds to wait before the next status call for `job` (the budget is the gate's)."""
        floor = MIN_GAP * self._k
        expected = self.expected(duration)
        elapsed = now - job.submitted
        cap = expected * (0.5 if self.economy else 0.1)
        upper = (300.0 if self.economy else 60.0) * self._k
        if not self._latency:
            # Nothing learned yet: explore like the official SDK (start early, grow x1.5),
            # starting later and growing further in economy mode.
            start, grow_to = (10.0 * self._k, 60.0 * self._k) if self.economy else (self._k, 10.0 * self._k)
            predicted = self._predict_remaining(job, now) if job.polls else None
            if job.polls == 0:
                delay = start - elapsed
            elif predicted is not None:
                delay = min(predicted * 1.05 + 0.1 * self._k, grow_to)
            else:
                delay = min(max(job.last_gap, start) * 1.5, grow_to)
            delay = max(floor, delay)
            job.last_gap = delay
            return delay
        if job.polls == 0:
            # First look: not before a short job of this kind could be done.
            aim = expected * (0.85 if self.economy else 0.3)
            if duration is not None and self.tight():
                aim = expected   # jobs follow their length: look once, at the predicted end
            elif duration is None and not self.economy:
                aim = min(aim, self.low_expected())
            delay = aim - elapsed
        else:
            predicted = self._predict_remaining(job, now)
            if predicted is not None:
                delay = predicted * 1.05 + 0.1 * self._k
                upper = min(upper, expected * (1.0 if self.economy else 0.5))
            elif elapsed < expected:
                delay = (expected - elapsed) if self.economy else min(expected - elapsed, cap)
            else:
                # Past its expected time with no progress to go on: back off gently.
                delay = max(job.last_gap * 1.5, cap)
        delay = max(floor, min(delay, max(upper, floor)))
        job.last_gap = delay
        return delay

    def lead(self) -> float:
        """The learned share of a job before progress starts (0 until learned)."""
        return statistics.median(self._lead) if len(self._lead) >= 3 else 0.0

    def _predict_remaining(self, job: JobClock, now: float) -> float | None:
        if len(job.samples) >= 2:
            (t1, p1), (t2, p2) = job.samples[-2], job.samples[-1]
            rate = (p2 - p1) / max(t2 - t1, 1e-6)
            if rate > 0:
                return max(0.0, (100.0 - p2) / rate - (now - t2))
        if len(job.samples) == 1:
            # Progress starts after the learned lead share f of the job T, then rises evenly:
            # t1 - submitted = f*T + (p1/100)*(1-f)*T. With f = 0 (nothing learned) this
            # assumes progress started at submit, which errs late.
            t1, p1 = job.samples[0]
            f = self.lead()
            total = (t1 - job.submitted) / max(f + p1 / 100.0 * (1.0 - f), 1e-6)
            return max(0.0, job.submitted + total - now)
        return None


def status_horizon(*, status_left: int | None, submits_left: int | None, queued: int, in_flight: int,
                   submit_per_minute: float, expected: float) -> float | None:
    """Minutes today's status allowance must last, or None for "until midnight UTC".

    With daily limits on both status calls and submits, the jobs still to follow today are at
    most `in_flight` + min(`submits_left`, `queued`): the allowance need only last until the
    last of them can be submitted (at `submit_per_minute`) and has had twice the `expected`
    seconds of a job. Spreading it to midnight instead starves a short batch (the Basic
    plan's 200 calls over 12 hours is one call every 3.6 minutes for all jobs together).
    When the allowance is under 3 calls per such job, planning on jobs is too tight: None."""
    if status_left is None or submits_left is None:
        return None
    to_submit = min(submits_left, queued)
    if status_left < 3 * max(1, in_flight + to_submit):
        return None
    return to_submit / max(submit_per_minute, 1e-9) + 2.0 * expected / 60.0
