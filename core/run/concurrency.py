"""`--concurrency auto`: how many videos in flight the account's rate and deAPI's job times allow.

Little's law sizes it: videos in flight = videos per second the account can submit x seconds a
job takes. The submit rate is the limiter's (learned from deAPI's X-RateLimit-* headers, so it
follows the account from Basic's 1/min to Premium's 300/min); in `shared` mode every status call
is a submit not made, so the rate is the account's divided by (1 + status calls per video). The
job time is the mean of the recent jobs.

Around that estimate the level moves on what it sees:
- raised (`boost`, 10 % a step) while the level is what binds (every slot busy, the submit rate
  not used up), throughput grows and job times do not;
- lowered at once on 429s and server errors (halved, then held for a few job times and
  recovering a quarter at a time), and when job times grow against the run's best (deAPI
  queueing our jobs: more in flight would only queue more). With durations known, job times
  are compared with the line (fixed part + per audio second) fitted to the run's first jobs, so
  a batch of longer videos is not mistaken for queueing; without, with the first jobs' median.
  The inflated times are not fed back into Little's law (that would raise the level because
  deAPI is slow), and the hold is a share of Little's level, not of the current one, so it
  cannot ratchet down to one.

Pure: callers pass `now`, the rate and what happened; `current` and `reason` are the answer.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from typing import Callable

from .polling import fit_line

HEADROOM = 1.25          # the starting boost: jobs vary, so a little more than the mean asks
BOOST_MAX = 3.0
QUEUEING = 1.3           # recent job pace over the best pace that reads as deAPI queueing
DEFAULT_POLLS = 1.5      # status calls per video assumed in shared mode before any is seen
BASELINE = 12            # the first jobs, whose times are the run's uncongested reference
BASELINE_MAX = 40        # ... widened by lengths outside theirs while job times stay flat


class AutoConcurrency:
    """The auto level: `current` (1..`ceiling`) and `reason` ("300/min x 24 s")."""

    def __init__(self, ceiling: int, *, expected: float | Callable[[], float] = 30.0,
                 expected_for: Callable[[float], float] | None = None) -> None:
        """`expected`: seconds a job is assumed to take before one is seen, or a callable asked
        each time (the poll planner's expectation, so a planner swapped in later counts);
        `expected_for(duration)`: seconds a job of that audio length takes (the planner's line)."""
        self.ceiling = max(1, ceiling)
        self.current = 1
        self.reason = "auto: no job seen yet"
        self.boost = HEADROOM
        self._expected = expected        # seconds a job takes before any was seen
        self._times: deque[float] = deque(maxlen=50)    # seconds per job, submit to done
        self._expected_for = expected_for
        self._started = 0                # jobs started
        self._started_known = 0          # ... of them with a known length
        self._started_audio = 0.0        # ... and those lengths' sum, seconds of audio
        self._first: list[tuple[float | None, float]] = []   # (audio s, job s) of the first jobs
        self._ratios: deque[float] = deque(maxlen=10)        # recent job time / the reference's
        self._cut_to: int | None = None  # after trouble: the level may not exceed this yet
        self._hold_until = -math.inf
        self._last_cut = -math.inf
        self._say_cut_until = -math.inf
        self._period_start: float | None = None
        self._period_done = 0
        self._last_rate: float | None = None       # completions per second of the last period
        self._probing = False
        self._saturated = True
        self.polls_per_video = DEFAULT_POLLS

    # -- what happened ------------------------------------------------------------------
    def job_started(self, duration: float | None) -> None:
        """A job went in (its audio `duration` s, when known)."""
        self._started += 1
        if duration and duration > 0:
            self._started_known += 1
            self._started_audio += duration

    def job_done(self, seconds: float, duration: float | None = None) -> None:
        """A job ended done `seconds` after its submit (its audio `duration` s, when known)."""
        if seconds <= 0:
            return
        self._times.append(seconds)
        self._period_done += 1
        if len(self._first) < BASELINE:
            self._first.append((duration, seconds))
            return
        reference = self._reference(duration)
        if reference:
            self._ratios.append(seconds / reference)
        elif duration and len(self._first) < BASELINE_MAX and self.queueing() <= 1.1:
            self._first.append((duration, seconds))   # a length the young run did not see: widen it

    def _reference(self, duration: float | None) -> float | None:
        """What a job of `duration` took while the run was young (None when unknown). With
        durations known, only within the lengths the young run saw: the finish order starts
        with the shortest and the longest, so its first jobs done are the short ones, and a
        line (or a median) stretched from them to a long video read as deAPI queueing."""
        known = [(d, t) for d, t in self._first if d]
        if duration:
            lengths = [d for d, _ in known]
            if not lengths or not min(lengths) * 0.8 <= duration <= max(lengths) * 1.25:
                return None
            line = fit_line(known)
            if line is None:   # lengths all alike (or no line): what they took
                return statistics.median(t for _, t in known)
            return max(line[0] + line[1] * duration, 1e-6)
        return statistics.median(t for _, t in self._first) if self._first else None

    def lower_after(self, now: float, what: str) -> bool:
        """A 429 or server error: halve the level (once per burst). True when it dropped."""
        if now - self._last_cut < self.job_time() / 2 or self.current <= 1:
            return False
        self._last_cut = now
        self.current = max(1, self.current // 2)
        self._cut_to = self.current
        self._hold_until = self._say_cut_until = now + 2 * self.job_time()
        self.boost = max(1.0, self.boost / 1.5)
        self.reason = f"auto: lowered to {self.current} after {what}"
        return True

    # -- the level ------------------------------------------------------------------------
    def job_time(self) -> float:
        """Seconds a job takes, without deAPI's queueing. With durations known (most of the jobs
        started last): the planner's expectation at the mean length of the jobs going in now (its
        line, or before it has one what the first jobs' progress forecasts). Otherwise the mean
        of the recent jobs done, which errs with the order: the
        first done are the short ones, and in a wave the long ones end together (the level then
        swung between half and twice what the rate allows)."""
        known = self._started_known
        if self._expected_for is not None and 2 * known >= self._started > 0:
            mean = self._expected_for(self._started_audio / known)
        elif self._times:
            mean = sum(self._times) / len(self._times)
        else:
            return self._expected() if callable(self._expected) else self._expected
        return mean / max(1.0, self.queueing())

    def queueing(self) -> float:
        """Recent job times over the run's first ones (1.0 = no slower, never below)."""
        if len(self._ratios) < 5:
            return 1.0
        return max(1.0, statistics.median(self._ratios))

    def little(self, per_minute: float) -> float:
        """Little's law: in flight = submits per second x seconds a job."""
        return per_minute / 60.0 * self.job_time()

    def update(self, now: float, *, submit_per_minute: float, shared: bool, in_flight: int,
               rate_binds: bool) -> bool:
        """Recompute the level; True when it changed. `submit_per_minute` is the limiter's
        (the account's, when `shared`); `rate_binds` says the submit bucket is used up."""
        rate = submit_per_minute / (1.0 + self.polls_per_video) if shared else submit_per_minute
        self._saturated = in_flight >= self.current
        self._probe(now, rate_binds)
        little = self.little(rate) * self.boost
        queued = self.queueing()
        if queued > QUEUEING:
            # deAPI is queueing our jobs: fewer in flight, by how much slower they have become.
            little = little / queued * QUEUEING
        target = max(1, min(self.ceiling, math.ceil(little)))
        level = target
        if self._cut_to is not None:
            if now < self._hold_until:
                level = min(level, self._cut_to)
            else:   # recover a quarter at a time, never past the target
                self._cut_to = min(target, self._cut_to + max(1, self._cut_to // 4))
                self._hold_until = now + self.job_time() / 2
                level = min(level, self._cut_to)
                if self._cut_to >= target:
                    self._cut_to = None
        shown = f"{rate:.0f}/min" if not shared else \
            f"{rate:.0f}/min ({submit_per_minute:.0f}/min shared, {self.polls_per_video:.1f} status calls a video)"
        why = f"auto: {shown} × {self.job_time():.0f} s"
        if queued > QUEUEING:
            why += f", held: jobs take {queued:.1f}x their best (deAPI queueing)"
        elif self._cut_to is not None:
            why += ", recovering after errors"
        elif level >= self.ceiling:
            why += f", at the ceiling {self.ceiling}"
        changed = level != self.current
        self.current = level
        if now >= self._say_cut_until:
            self.reason = why
        return changed

    def _probe(self, now: float, rate_binds: bool) -> None:
        """Every job time, compare throughput with the last period's: while the level binds
        and throughput grows with job times flat, raise the boost; a raise that bought nothing
        is taken back."""
        if self._period_start is None:
            self._period_start = now
            return
        span = now - self._period_start
        if span < self.job_time() or not self._times:
            return
        rate = self._period_done / span
        last = self._last_rate
        self._period_start, self._period_done, self._last_rate = now, 0, rate
        if self._probing and last is not None and rate <= last * 1.02:
            self.boost = max(1.0, self.boost / 1.1)   # more in flight bought nothing
            self._probing = False
            return
        self._probing = False
        if self._saturated and not rate_binds and self.queueing() <= 1.1 and self.boost < BOOST_MAX:
            self.boost = min(BOOST_MAX, self.boost * 1.1)
            self._probing = True
