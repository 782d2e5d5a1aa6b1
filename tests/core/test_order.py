"""The orders: finish (longest first, one slot on the shortest), shortest, input."""

from __future__ import annotations

from bulk_transcribe.core.model import Video
from bulk_transcribe.core.run.queue import EARLY_SLOT, WorkQueue
from bulk_transcribe.core.sources.expand import order_videos


def vids(durations):
    return [Video(key=f"k{i}", url=f"https://www.youtube.com/watch?v=v{i:010d}", vid=f"v{i}", line=i,
                  duration=d) for i, d in enumerate(durations)]


def queue(order: str, durations) -> WorkQueue:
    q = WorkQueue(3, order=order)
    q.width = 1
    q.pending.extend(order_videos(vids(durations), order))
    return q


def test_finish_takes_longest_first_and_the_early_slot_takes_the_shortest():
    durations = [30, 300, 60, 10, 600, 120, 20, 240]
    q = queue("finish", durations)
    assert [v.duration for v in q.pending] == [600, 300, 240, 120, 60, 30, 20, 10], "planned longest first"
    assert q._take(EARLY_SLOT).duration == 10          # results come early
    assert q._take(1).duration == 600
    assert q._take(2).duration == 300
    assert q._take(EARLY_SLOT).duration == 20
    assert [q._take(1).duration for _ in range(4)] == [240, 120, 60, 30]


def test_finish_applies_within_what_is_known_in_a_streaming_queue():
    """Videos arrive in input order and durations later (lookups): the look-ahead picks the
    longest known for a slot, the shortest known for the early slot, an unknown one last."""
    q = WorkQueue(3, order="finish")
    q.pending.extend(vids([None, 50, None, 500, 5]))
    assert q._take(1).duration == 500
    assert q._take(EARLY_SLOT).duration == 5
    assert q._take(1).duration == 50
    assert q._take(1).duration is None


def test_lpt_with_one_short_slot_beats_shortest_first_on_a_heavy_tail():
    """Simulated slots (durations as job times): the finish order's batch time is within 10 % of
    the lower bound max(sum/N, max) and shortest-first's is not; its first result comes as early."""
    durations = [10.0] * 45 + [100.0] * 5
    n = 10

    def makespan(order: str) -> tuple[float, float]:
        q = queue(order, durations)
        q.width = n
        free = [0.0] * n
        first = None
        while q.pending:
            slot = min(range(n), key=lambda i: (free[i], i))
            v = q._take(slot)
            free[slot] += v.duration
            first = free[slot] if first is None else min(first, free[slot])
        return max(free), first

    bound = max(sum(durations) / n, max(durations))
    finish, first_finish = makespan("finish")
    shortest, first_shortest = makespan("shortest")
    assert finish <= 1.10 * bound < shortest
    assert first_finish <= 1.5 * first_shortest


def test_the_early_slot_yields_to_a_long_video_that_would_end_the_batch_late():
    q = WorkQueue(3, order="finish")
    q.width = 10
    q.pending.extend(order_videos(vids([100.0] + [10.0] * 20), "finish"))
    assert q._take(EARLY_SLOT).duration == 100.0, "100 s > 300 s of work / 10 slots: it starts now"


def test_shortest_and_input_stay():
    q = queue("shortest", [30, 10, 20])
    assert [q._take(1).duration for _ in range(3)] == [10, 20, 30]
    q = queue("input", [30, 10, 20])
    assert [q._take(EARLY_SLOT).duration for _ in range(3)] == [30, 10, 20]
