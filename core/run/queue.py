"""Which video a worker takes next, and what this run does with each video of the session.

The money rules of the queue:
- a video whose request id is known is re-attached (polled), never submitted again, unless
  deAPI reported its job failed (failed jobs are not charged);
- videos with a request id go first: they are paid for and only need following;
- each video taken by this run gets its full `max_attempts`, counted from where it stands.
"""

from __future__ import annotations

from collections import deque
from typing import Iterable

import anyio

from ..errors import Category
from ..events import Activity
from ..model import Method, Video, VideoState
from ..output.intact import outputs_intact
from .controls import Brakes
from .finish import FinishPlan
from .reporter import Reporter

CRASHED_SUBMIT = ("possibly paid: the last run ended while this video's submit was on the wire, so deAPI may "
                  "have made (and charged) a job whose id was never recorded; not sent again so as not to pay "
                  "twice (resubmit it with --resubmit-in-doubt if you accept that risk)")

# Failures after which the job may still exist on deAPI's side: resume re-polls, never resubmits.
REATTACH_CATEGORIES = {Category.TIMEOUT.value, Category.DISK.value, Category.NETWORK.value,
                       Category.SERVER.value, Category.RESULT_EXPIRED.value, Category.INTERNAL.value}


# Failures that happen after the job's result was in hand: its cost is already on the video.
PAID_RESULT_CATEGORIES = {Category.DISK.value, Category.RESULT.value}

OUTPUTS_LOST_UNKNOWN_JOB = (
    "its transcript files are missing or empty and no deAPI request id is recorded for it (it was adopted "
    "from files already in the output folder), so it cannot be fetched again for free; not resubmitted "
    "(a new job is paid): run again with --retry-failed if you want it transcribed again")

LOOKAHEAD = 32   # new videos considered at each end of the queue when a slot takes one
EARLY_SLOT = 0   # in a queue too long to plan, the slot that takes the shortest under "finish"
BALANCE_SCAN = 2048   # queues longer than this are not planned (enough work: the early slot takes the shortest)


def is_permanent(v: Video) -> bool:
    """A failure a new try will most likely repeat: not retryable, and no paid job to re-attach to."""
    return not v.retryable and not (v.request_id and v.category in REATTACH_CATEGORIES)


class WorkQueue:
    """The videos this run may still take (`pending`) and those a worker holds (`active`)."""

    def __init__(self, max_attempts: int, *, order: str = "input") -> None:
        self.max_attempts = max_attempts
        self.order = order
        self.feeding = False          # the feeder may still add videos: an empty queue is not the end
        self.unchecked: list[Video] = []   # done videos whose files `check_outputs` has yet to look at
        self.checking = False              # it has not finished: an empty queue is not the end
        self.width = 1                # videos in flight at once (the level), for the finish order
        self.finish = FinishPlan()    # the finish order's plan of the slots
        self.pending: deque[Video] = deque()
        self.active: set[str] = set()
        self._attempt_base: dict[str, int] = {}
        self.refetch: set[str] = set()   # done videos whose files were lost: fetched again by request id, unpaid
        self.counted: set[str] = set()   # videos whose current job's cost is already on them (a write failed)
        self._wake = anyio.Event()

    def __len__(self) -> int:
        return len(self.pending)

    # -- deciding ---------------------------------------------------------------------
    def plan(self, videos: Iterable[Video], *, retry_failed: bool, record_nowait,
             resubmit_in_doubt: bool = False) -> None:
        """Decide what this run does with each video (fresh or resumed). `record_nowait(v, **changes)`
        applies the changes the decision implies (e.g. a crashed submit's video put in doubt).
        A video in doubt (its submit may have been paid) is taken only with `resubmit_in_doubt`.
        Done videos are set aside for `check_outputs`, which the run starts beside the dispatcher."""
        reattach: list[Video] = []
        for v in videos:
            if v.state is VideoState.DONE:
                # Their files are looked at by `check_outputs`, after the run has started: one stat
                # each, 50,000 of them in a half-done 100,000-video batch, is not work for the first request.
                self.unchecked.append(v)
                self.checking = True
            elif v.state is VideoState.FAILED and v.category == Category.IN_DOUBT.value:
                if resubmit_in_doubt:   # the user accepts paying twice
                    record_nowait(v, category="", message="")
                    self.pending.append(v)
            elif v.state is VideoState.FAILED:
                if v.request_id and v.category in PAID_RESULT_CATEGORIES:
                    self.counted.add(v.key)
                if v.request_id and v.category in REATTACH_CATEGORIES:
                    reattach.append(v)
                elif v.retryable:
                    self.pending.append(v)
                elif retry_failed:
                    if v.category == Category.JOB_FAILED.value:
                        # The user asks again for a video deAPI refused (failed jobs are not charged).
                        record_nowait(v, request_id="")
                    self.pending.append(v)
            elif v.state is VideoState.SUBMITTING and not v.request_id:
                # The last run ended (a crash, a kill) between sending a submit and recording its
                # answer: the job may exist and be paid. Never sent again unless the user says so.
                record_nowait(v, possibly_paid=True, state=VideoState.FAILED, category=Category.IN_DOUBT.value,
                              retryable=False, message=CRASHED_SUBMIT)
                if resubmit_in_doubt:
                    self.pending.append(v)
            elif v.request_id:
                reattach.append(v)
            else:
                self.pending.append(v)
        for v in (*self.pending, *reattach):   # every video this run takes gets its full attempts
            self._set_base(v)
        self.pending.extendleft(reversed(reattach))

    def outputs_lost(self, v: Video, record_nowait) -> None:
        """A done video's files are missing or empty (`check_outputs`): fetch its paid result again
        (an upload's: every chunk's), never resubmit; captions are fetched again (free); with no
        job to fetch it fails (a new one is paid, so only when the user asks)."""
        if v.request_id or (v.chunks and all(c.get("request_id") for c in v.chunks)):
            self.refetch.add(v.key)
            record_nowait(v, state=VideoState.SUBMITTED, outputs=[])
            self.requeue(v, front=True)   # paid for: it goes first, like every video re-attached
        elif v.method in (Method.CAPTIONS.value, Method.CAPTIONS_AUTO.value):
            self.requeue(v)   # done from its own captions: fetched again, free (run/captions.py)
        else:
            record_nowait(v, state=VideoState.FAILED, outputs=[], category=Category.DISK.value,
                          retryable=False, message=OUTPUTS_LOST_UNKNOWN_JOB)
        self.poke()

    async def check_outputs(self, output_dir: str, record_nowait, batch: int = 2000) -> None:
        """Look at the files of the done videos `plan` set aside, `batch` at a time in a thread,
        and take each whose files are lost (`outputs_lost`). Until it ends, an empty queue is not
        the end of the run."""
        def lost_among(part: list[Video]) -> list[Video]:
            return [v for v in part if not outputs_intact(v, output_dir)]

        try:
            done, self.unchecked = self.unchecked, []
            for start in range(0, len(done), batch):
                for v in await anyio.to_thread.run_sync(lost_among, done[start:start + batch]):
                    if v.state is VideoState.DONE:   # unchanged meanwhile (nothing else takes a done video)
                        self.outputs_lost(v, record_nowait)
        finally:
            self.checking = False
            self.poke()

    def add(self, videos: Iterable[Video]) -> None:
        """Videos that just became known (a playlist expanded while the batch runs)."""
        for v in videos:
            self._set_base(v)
            self.pending.append(v)
        self.poke()

    def requeue(self, v: Video, *, front: bool = False) -> None:
        """Queue `v` again with a fresh count of attempts."""
        self._set_base(v)
        (self.pending.appendleft if front else self.pending.append)(v)

    def _set_base(self, v: Video) -> None:
        """`v`'s attempts so far are the base this run counts from. Kept only when not 0 (the
        default): a fresh 100,000-video batch needs no 100,000-key map for it."""
        if v.attempts:
            self._attempt_base[v.key] = v.attempts
        else:
            self._attempt_base.pop(v.key, None)

    def retryable_failures(self, videos: Iterable[Video], *, permanent: bool = False) -> list[Video]:
        """The failed videos "retry failed" would take: those that may succeed (a retryable
        failure, or a job to re-attach to); with `permanent`, also those deAPI failed for good
        (e.g. a private video: a new submit most likely fails the same way)."""
        queued = {q.key for q in self.pending}   # e.g. resumed failures not yet taken: never twice
        return [v for v in videos
                if v.state is VideoState.FAILED and v.key not in self.active and v.key not in queued
                and v.category != Category.IN_DOUBT.value and (v.retryable or v.request_id)
                and (permanent or not is_permanent(v))]

    def queue_failed(self, videos: Iterable[Video], record_nowait, *, permanent: bool = False) -> int:
        """Queue again every failed video that may succeed (retry failed), and with `permanent`
        those deAPI failed for good too; returns how many. Videos in doubt are not among them:
        see `queue_in_doubt`."""
        count = 0
        for v in self.retryable_failures(videos, permanent=permanent):
            if v.request_id and v.category in PAID_RESULT_CATEGORIES:
                self.counted.add(v.key)
            if v.request_id and v.category == Category.JOB_FAILED.value:
                # deAPI's verdict on that job is final (polling it again only says "failed"
                # again) and failed jobs are not charged: the user asks for a new job.
                record_nowait(v, request_id="")
                self.requeue(v)
            else:
                self.requeue(v, front=bool(v.request_id))   # re-attach to the paid job
            count += 1
        return count

    def queue_in_doubt(self, videos: Iterable[Video], record_nowait) -> int:
        """Queue the videos in doubt for a new submit (the user accepted paying twice); returns how many."""
        count = 0
        queued = {q.key for q in self.pending}
        for v in videos:
            if (v.state is VideoState.FAILED and v.category == Category.IN_DOUBT.value
                    and v.key not in self.active and v.key not in queued):
                record_nowait(v, category="", message="")
                self.requeue(v)
                count += 1
        return count

    def attempts_left(self, v: Video) -> int:
        return self.max_attempts - (v.attempts - self._attempt_base.get(v.key, 0))

    # -- taking -----------------------------------------------------------------------
    def poke(self) -> None:
        """Wake every idle worker: the queue or the brakes changed."""
        self._wake.set()
        self._wake = anyio.Event()

    async def next_video(self, slot: int, brakes: Brakes, reporter: Reporter) -> Video | None:
        """The next video for a worker, or None when this run has no more work."""
        while True:
            head = self.pending[0] if self.pending else None
            if head is not None and (head.request_id or not brakes.stopping):
                if head.request_id or not brakes.paused:
                    taken = self._take(slot)
                    self.active.add(taken.key)
                    return taken
                reporter.worker_changed(slot, Activity.PAUSED, detail="submitting paused (press p to resume)")
                await brakes.wait_unpaused()
                continue
            if not self.active and (not (self.feeding or self.checking) or brakes.stopping):
                return None   # nothing queued that this run may take, and nobody can add to it
            reporter.worker_changed(slot, Activity.IDLE)
            await self._wake.wait()

    def _take(self, slot: int = 1) -> Video:
        """The next video for `slot`. Videos to re-attach (known request id) always come first.
        Then, by order: "input" the head; "shortest" the shortest known among the next few;
        "finish" the longest known among them (longest-processing-time first: the batch ends
        soonest), or the shortest known, from either end of the queue (a planned queue is
        already longest first), when that makes the planned end no later (`finish.py`), and
        always for the run's first video (so results come early). Queues over BALANCE_SCAN
        are not planned: there the EARLY_SLOT takes the shortest. Durations arrive while the
        batch runs (metadata lookups), so the order is a best effort over what is known, and
        never waits for a lookup."""
        head = self.pending[0]
        if self.order == "input" or head.request_id:
            taken = self.pending.popleft()
        elif self.order == "shortest":
            taken = self._pop(self._scan(shortest=True))
        else:
            long_i = self._scan(shortest=False)
            short_i = self._scan(shortest=True, both_ends=True)
            take_short = short_i != long_i and self._short_is_free(slot, long_i, short_i)
            taken = self._pop(short_i if take_short else long_i)
            if not taken.request_id:
                self.finish.started = True
        self.finish.start(taken.key, taken.duration)
        return taken

    def _scan(self, *, shortest: bool, both_ends: bool = False) -> int:
        """The index of the shortest (or longest) known among the next LOOKAHEAD new videos
        (and, with `both_ends`, the last LOOKAHEAD); the head when none is known."""
        n = len(self.pending)
        near = range(min(LOOKAHEAD, n))
        far = range(max(LOOKAHEAD, n - LOOKAHEAD), n) if both_ends else range(0)
        best_i = 0
        best = self.pending[0].duration
        for i in (*near, *far):
            v = self.pending[i]
            if v.request_id:
                if i < LOOKAHEAD:
                    break
                continue
            d = v.duration
            if d is None:
                continue
            if best is None or (d < best if shortest else d > best):
                best, best_i = d, i
        return best_i

    def _pop(self, i: int) -> Video:
        taken = self.pending[i]
        del self.pending[i]
        return taken

    def _short_is_free(self, slot: int, long_i: int, short_i: int) -> bool:
        """Whether the finish order's slot may take the shortest (index `short_i`) instead of
        the longest (`long_i`) without the batch's planned end moving later."""
        longest, shortest = self.pending[long_i].duration, self.pending[short_i].duration
        if longest is None or shortest is None:
            return False
        if len(self.pending) > BALANCE_SCAN:
            return slot == EARLY_SLOT
        others = [v.duration for i, v in enumerate(self.pending)
                  if i not in (long_i, short_i) and v.duration is not None and not v.request_id]
        return self.finish.shortest_costs_nothing(longest, shortest, others, self.width)

    def release(self, v: Video) -> None:
        self.active.discard(v.key)
        self.finish.end(v.key)
        self.poke()
