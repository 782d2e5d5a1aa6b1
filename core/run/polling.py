"""When to ask deAPI about a job: polling as a budget, not a fixed beat.

Three ideas:
- Learn how long jobs take (per second of audio when durations are known) and do not
  ask before a job can plausibly be done.
- Use what deAPI says: with `progress` rising, predict the finish and ask just after it.
- Never send more status calls than the budget carries, and spend it on the jobs about to
  finish: each job plans its own next look here, and `pollgate.PollGate` lets the planned
  looks out at the budget's pace, the earliest due first.
- When job times follow the audio length closely (durations known, the time per audio second
  seen varies little), the first look is aimed just past the predicted end: most jobs then
  take one status call. Without durations it is aimed where a few jobs are done. Both aims are
  moved by what first looks find (`known_margin`, `first_aim`), never by the time of a look
  that found its job done (that job took at most so long).
When status calls come out of the submits' bucket (deAPI's shared limits: every look is a
submit not made) and fewer than LEARNED jobs are done, only the first SCOUTS jobs explore; the
others are held until the scouts' progress, risen twice, forecasts how long a job takes, and
then get one look just past their forecast end (the follow loop re-plans a held job when the
planner learns). Exploring every job of the first wave cost 3-4 looks each.
In economy mode (a daily status allowance, e.g. the Basic plan's 200 a day) polls are
aimed later and spaced wider, trading a little latency for calls. How long that allowance
must last is `status_horizon`'s question: until midnight, unless a daily submit allowance
bounds today's jobs, in which case only until they can all be submitted and followed.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

DEFAULT_EXPECTED = 30.0   # seconds, before any job has been seen to finish
MIN_GAP = 0.25            # never poll one job more often than this
FIRST_DONE_SHARE = 0.15   # durations unknown: the share of jobs a first look is aimed to find done
KNOWN_DONE_SHARE = 0.82   # durations known, job times following them: the same share
SCOUTS = 5                # shared limits, still learning: the jobs that explore while the rest are held
HOLD = 60.0               # ... the longest the rest are held before they explore too (seconds)
FORECAST_MARGIN = 1.05    # a held job's first look: this far past the end the scouts forecast
LEARNED = 3               # job times seen before the planner's own estimates are trusted over forecasts


@dataclass
class JobClock:
    """What we know of one job's progress, for predicting its end."""

    submitted: float                    # monotonic time the submit was answered (or re-attached)
    polls: int = 0
    last_poll: float = 0.0
    last_gap: float = 0.0
    samples: list[tuple[float, float]] = field(default_factory=list)  # (time, progress>0)
    first_look: float | None = None     # seconds from submit to the first answered look
    aimed: float | None = None          # seconds from submit the planner aimed that look at
    aimed_by: str | None = None         # which of its first-look aims: "unknown" or "known" durations
    counted: bool = False               # that look's outcome went to the aim
    blind: bool = False                 # its first look was planned before any job was seen done
    held: bool = False                  # its first look waits for the scouts (re-plan when the planner learns)
    forecast: float | None = None       # seconds from submit to its end, by its progress (while learning)

    def observe(self, now: float, progress: float | None) -> None:
        if self.polls == 0:
            self.first_look = now - self.submitted
        self.polls += 1
        self.last_poll = now
        if progress is not None and 0.0 < progress < 100.0:
            if not self.samples or progress > self.samples[-1][1]:
                self.samples.append((now, progress))
                del self.samples[:-2]


def fit_line(pairs, least: int = 5) -> tuple[float, float] | None:
    """(fixed seconds, seconds per audio second) by least squares over (audio s, job s) pairs, or
    None when they cannot tell a line (fewer than `least`, lengths all alike, or a slope below 0)."""
    pairs = list(pairs)
    if len(pairs) < least:
        return None
    xs, ys = [d for d, _ in pairs], [t for _, t in pairs]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var <= 1e-9 * max(1.0, mx * mx) * len(xs):
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var
    if slope < 0:
        return None
    return my - slope * mx, slope


def _asked(flag: bool | Callable[[], bool]) -> bool:
    """A flag given as a value or as a callable asked each time."""
    return bool(flag()) if callable(flag) else bool(flag)


class PollPlanner:
    """Plans the delay before each status call. Pure: callers pass `now`."""

    def __init__(self, *, economy: bool | Callable[[], bool] = False, thrifty: bool | Callable[[], bool] = False,
                 time_scale: float = 1.0) -> None:
        """`economy` may be a callable, asked at every plan (a daily status allowance that may
        come or go while the run learns the account's limits). `thrifty` (or a callable): status
        calls share the submits' bucket, so the first wave sends scouts (see the module's notes).
        `time_scale` > 1 divides every fixed time of the plan (first looks, caps, the default
        expectation, the minimum gap, the hold): only for benchmarks that run time faster."""
        self._economy = economy
        self._thrifty = thrifty
        self._k = 1.0 / time_scale
        self._latency: deque[float] = deque(maxlen=50)        # seconds per job
        self._lead: deque[float] = deque(maxlen=50)           # share of a job before progress starts
        self._per_audio_second: deque[float] = deque(maxlen=50)
        self._pairs: deque[tuple[float, float]] = deque(maxlen=50)   # (audio seconds, job seconds)
        self._aim: float | None = None    # durations unknown: the first look's aim (`first_aim`)
        self._aims = 0                    # first looks that moved it
        self._margin: float | None = None  # durations known: the first look's margin (`known_margin`)
        self._margins = 0
        self._forecasts: deque[tuple[float | None, float]] = deque(maxlen=50)  # (audio s, job s) foreseen
        self._scouts = 0                  # jobs sent to explore while learning (thrifty)

    @property
    def economy(self) -> bool:
        return _asked(self._economy)

    @economy.setter
    def economy(self, value: bool | Callable[[], bool]) -> None:
        self._economy = value

    @property
    def thrifty(self) -> bool:
        return _asked(self._thrifty)

    # -- learning -----------------------------------------------------------------
    def learn(self, latency: float, duration: float | None, job: JobClock | None = None) -> None:
        """A job took `latency` seconds. With its `job` clock (two progress samples or more),
        also learn how much of a job passes before its progress starts rising (deAPI queues
        a job before it reports progress), so one sample predicts the end without erring late."""
        if latency <= 0:
            return
        self._latency.append(latency)
        censored = job is not None and job.polls == 1
        if job is not None:
            self._first_outcome(job, done=censored)
        if job is not None and len(job.samples) >= 2:
            (t1, p1), (t2, p2) = job.samples[-2], job.samples[-1]
            rate = (p2 - p1) / max(t2 - t1, 1e-6)
            if rate > 0:
                lead = (t2 - p2 / rate - job.submitted) / latency
                self._lead.append(min(0.9, max(0.0, lead)))
        if duration and duration > 0 and not censored:
            # A job done at its first look took at most `latency`: fitted as its time, it would
            # move the line to where that look was aimed, and the next aims later each time
            # (short jobs were seen 20-40 % late so). The jobs found running tell their end.
            self._per_audio_second.append(latency / duration)
            self._pairs.append((duration, latency))

    def learning(self) -> bool:
        """Fewer than LEARNED job times seen: too few to predict a job by (the finish order's
        short slot makes the first one done a short video's, which says little of the long)."""
        return len(self._latency) < LEARNED

    def forecast(self, job: JobClock, duration: float | None) -> bool:
        """While `learning`: a running `job` whose progress has risen twice tells its
        whole time (its end from the rate, less its submit). Kept for the jobs not looked at yet
        (`expected`, the held jobs' first looks). True when one was added: re-plan the held."""
        if not self.learning() or job.forecast is not None or len(job.samples) < 2:
            return False
        seen = job.samples[-1][0]
        remaining = self._predict_remaining(job, seen)   # from the two samples' rate (None: not rising)
        if remaining is None:
            return False
        job.forecast = seen + remaining - job.submitted
        self._forecasts.append((duration if duration and duration > 0 else None, job.forecast))
        return True

    def _foreseen(self, duration: float | None, *, low: bool = False) -> float | None:
        """Seconds a job of `duration` should take by the forecasts and the few job times seen
        (3 or more together, one a forecast): on the line through them, or in proportion to its
        length when theirs are alike; without a duration their median (`low`: the shortest,
        for a first look that should not be late)."""
        if not self._forecasts or len(self._forecasts) + len(self._latency) < 3:
            return None
        known = [(d, t) for d, t in self._forecasts if d] + list(self._pairs)
        if duration and len(known) >= 3:
            lengths = [d for d, _ in known]
            # A line only through lengths that differ (the finish order's scouts are the longest
            # videos, all alike): a slope fitted to their noise would throw the shorter ones' aims.
            line = fit_line(known, least=3) if max(lengths) >= 1.5 * min(lengths) else None
            if line is not None:
                return max(line[0] + line[1] * duration, 0.5 * min(t for _, t in known))
            return statistics.median(t / d for d, t in known) * duration
        times = [t for _, t in self._forecasts] + list(self._latency)
        return min(times) if low else statistics.median(times)

    def expected(self, duration: float | None) -> float:
        """Expected seconds from submit to done for a video of `duration` seconds: with durations
        seen, the line job time = fixed part + per audio second fitted to the recent jobs (a
        job's download and queueing do not grow with its length, its transcription does)."""
        if duration and len(self._per_audio_second) >= 3:
            lo = min(self._latency) if self._latency else 1.0
            fit = self._fit()
            est = fit[0] + fit[1] * duration if fit else statistics.median(self._per_audio_second) * duration
            return max(est, 0.5 * lo)
        foreseen = self._foreseen(duration) if self.learning() else None
        if foreseen is not None:
            return foreseen
        if self._latency:
            return statistics.median(self._latency)
        return DEFAULT_EXPECTED * self._k

    def _fit(self) -> tuple[float, float] | None:
        return fit_line(self._pairs)

    def spread(self) -> float | None:
        """How far job times stray from the fitted line: the median of |error| / predicted over
        the recent jobs (0.04 = 4 %), or None before the line is known."""
        fit = self._fit()
        if fit is None:
            return None
        errors = sorted(abs(t - (fit[0] + fit[1] * d)) / max(fit[0] + fit[1] * d, 1e-9) for d, t in self._pairs)
        return errors[len(errors) // 2]

    def tight(self) -> bool:
        """Whether job times follow the audio length closely: the fitted line predicts the
        recent jobs within 10 % (median error)."""
        spread = self.spread()
        return spread is not None and spread <= 0.10

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
        held, job.held = job.held, False    # held again below only while still learning
        cap = expected * (0.5 if self.economy else 0.1)
        upper = (300.0 if self.economy else 60.0) * self._k
        if job.polls == 0 and self.thrifty and not self.economy and self.learning():
            wait = self._hold(job, elapsed, duration, held=held)
            if wait is not None:
                job.last_gap = max(floor, wait)
                return job.last_gap
        if not self._latency:
            # Nothing learned yet: explore like the official SDK (start early, grow x1.5),
            # starting later and growing further in economy mode.
            # Not at once: deAPI's jobs take tens of seconds (20-80 s measured), and a URL job
            # sits at 0 % while its source downloads, so early looks teach nothing. Not later
            # than 10 s either: this covers only the first jobs of a run (until one is seen
            # done), and a later start makes a batch of short jobs wait for its first result.
            start, grow_to = (10.0 * self._k, 60.0 * self._k) if self.economy else (10.0 * self._k, 10.0 * self._k)
            predicted = self._predict_remaining(job, now) if job.polls else None
            if job.polls == 0:
                delay = start - elapsed
                job.blind = True
            elif predicted is not None:
                # Two samples give the rate: trust it (to the usual cap). One sample errs late
                # (nothing learned of the lead): only until the next look.
                cap = upper if len(job.samples) >= 2 else grow_to
                delay = min(predicted * 1.05 + 0.1 * self._k, cap)
            else:
                delay = min(max(job.last_gap, start) * 1.5, grow_to)
            delay = max(floor, delay)
            job.last_gap = delay
            return delay
        if job.polls == 0:
            # First look: not before a short job of this kind could be done.
            aim = expected * (0.85 if self.economy else 0.3)
            if duration is not None and self.tight():
                # Jobs follow their length: look once, just past the predicted end (by as much
                # as finds KNOWN_DONE_SHARE of the jobs done there; the rest are found nearly done).
                aim = job.aimed = expected * self.known_margin()
                job.aimed_by = "known"
                upper = max(upper, aim)   # a long job's one look is not cut into several
            elif duration is None and not self.economy:
                aim = min(aim, self.low_expected())
                if self.predictable():
                    # One look that finds the job past its lead gives its end: as late as a short
                    # job's lead allows, so a long one is rarely still pending there.
                    aim = max(aim, 0.6 * self.low_expected())
                tracked = self.first_aim()
                if tracked is not None:
                    aim = job.aimed = tracked
                    job.aimed_by = "unknown"
            delay = aim - elapsed
        else:
            self._first_outcome(job, done=False)
            predicted = self._predict_remaining(job, now)
            if predicted is not None and self.predictable() and not self.economy:
                # Progress has been seen to rise evenly after a steady lead: its end is the look.
                delay = predicted * 1.02 + 0.1 * self._k
                upper = max(upper, delay)
            elif predicted is not None:
                # Trusted only so far (progress may crawl): re-check within half the expected job
                # time, or within the job's own age once it has outlived that (early in a run the
                # expected time is the short jobs', the only ones done yet).
                delay = predicted * 1.05 + 0.1 * self._k
                upper = min(upper, expected if self.economy else max(0.5 * expected, elapsed))
            elif elapsed < expected and duration is not None and self.tight():
                delay = expected * self.known_margin() - elapsed   # its predicted end
                upper = max(upper, delay)
            elif elapsed < expected:
                delay = (expected - elapsed) if self.economy else min(expected - elapsed, cap)
            else:
                # Past its expected time with no progress to go on: back off gently.
                delay = max(job.last_gap * 1.5, cap)
        delay = max(floor, min(delay, max(upper, floor)))
        job.last_gap = delay
        return delay

    def _hold(self, job: JobClock, elapsed: float, duration: float | None, *, held: bool) -> float | None:
        """Shared limits, still `learning`: the delay of a first look that is not a scout's (or
        None: explore). Aimed just past the forecast end once the scouts tell one; held until
        then (the caller re-plans it when the planner learns), but not past HOLD. `held`: it
        was held when last planned (so it is not a scout)."""
        foreseen = self._foreseen(duration, low=duration is None)
        if foreseen is not None:
            return foreseen * FORECAST_MARGIN - elapsed
        if job.blind:
            return None   # a scout planned again before its first look (a 429's retry)
        if not held and self._scouts < SCOUTS:
            self._scouts += 1
            return None
        if elapsed < HOLD * self._k:
            job.held = True
            return HOLD * self._k - elapsed
        return None   # held long enough: it explores too

    def first_aim(self) -> float | None:
        """Durations unknown: seconds from submit to a job's first look, aimed so that about
        FIRST_DONE_SHARE of the jobs are done at it (one status call each) while the rest are
        found running (their progress then gives the end: two calls). None until 5 job times
        are known. Started at that quantile of the job times seen, then moved by each first
        look's outcome (a stochastic-approximation quantile tracker): a job found done at its
        first look tells only that it took less, so its time cannot feed a quantile of job
        times without pulling the aim later and later; the outcome itself is unbiased.
        The share is kept small because a job done before its first look waits there: at 15 %
        of uniform 20-80 s jobs the wait costs about 1.3 % of the throughput."""
        if self._aim is None:
            if len(self._latency) < 5:
                return None
            ordered = sorted(self._latency)
            self._aim = ordered[int(FIRST_DONE_SHARE * len(ordered))]
        return max(MIN_GAP * self._k, min(self._aim, self.expected(None)))

    def known_margin(self) -> float:
        """Durations known, job times following them (`tight`): the first look goes at the
        predicted end times this. Started at 1 + the typical error, then moved by each first
        look's outcome so that about KNOWN_DONE_SHARE of the jobs are done at it (the same
        tracker as `first_aim`'s; the rest are found running, which keeps the line learning)."""
        if self._margin is None:
            self._margin = 1.0 + (self.spread() or 0.0)
        return self._margin

    def _first_outcome(self, job: JobClock, *, done: bool) -> None:
        """A job's first look, aimed by `first_aim` or `known_margin`, found it `done` or not:
        move that aim."""
        if job.counted or job.aimed is None or job.first_look is None:
            job.counted = True
            return
        job.counted = True
        if job.first_look > 1.05 * job.aimed + MIN_GAP * self._k:
            return   # held past its aim (the budget, the limiter, a resume): it says little of the aim
        hit = 1.0 if done else 0.0
        if job.aimed_by == "unknown" and self._aim is not None:
            self._aims += 1
            step = max(0.03, 1.0 / (self._aims + 10))
            self._aim *= math.exp(step * (FIRST_DONE_SHARE - hit))
        elif job.aimed_by == "known" and self._margin is not None:
            self._margins += 1
            step = max(0.004, 0.04 / (1.0 + self._margins / 5.0))
            self._margin = min(1.5, max(0.8, self._margin + step * (KNOWN_DONE_SHARE - hit)))

    def predictable(self) -> bool:
        """Whether one progress sample tells a job's end: the share of a job spent before its
        progress starts (learned from jobs seen twice while rising) is steady, the middle half
        of the recent ones within 0.05 of each other. Then a look is aimed at the predicted end
        itself, not cut at half the expected job time (durations unknown: 2 looks a job, not 3+)."""
        if len(self._lead) < 5:
            return False
        ordered = sorted(self._lead)
        n = len(ordered)
        return ordered[(3 * n) // 4] - ordered[n // 4] <= 0.05

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
