"""The orders: finish (longest first, the shortest where it costs the batch nothing), shortest, input."""

from __future__ import annotations

import heapq

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


def simulate(order: str, durations, n: int) -> tuple[float, float]:
    """Simulated slots (durations as job times), taking and releasing as the engine does:
    (batch end, first result)."""
    q = queue(order, durations)
    q.width = n
    running: list[tuple[float, int, Video]] = []
    free, now, first = set(range(n)), 0.0, None
    while q.pending or running:
        while q.pending and free:
            slot = min(free)
            free.discard(slot)
            v = q._take(slot)
            q.active.add(v.key)
            heapq.heappush(running, (now + v.duration, slot, v))
        now, slot, v = heapq.heappop(running)
        first = now if first is None else first
        q.release(v)
        free.add(slot)
    return now, first


def bound(durations, n: int) -> float:
    return max(sum(durations) / n, max(durations))


def test_finish_plans_longest_first_and_takes_the_shortest_first():
    durations = [30, 300, 60, 10, 600, 120, 20, 240]
    q = queue("finish", durations)
    q.width = 2
    assert [v.duration for v in q.pending] == [600, 300, 240, 120, 60, 30, 20, 10], "planned longest first"
    assert q._take(0).duration == 10, "the run's first video is the shortest: a result comes early"
    assert q._take(1).duration == 600, "then longest first"


def test_one_slot_takes_the_shortest_always():
    """With one slot the batch ends at the same time in any order: shortest first costs nothing."""
    q = queue("finish", [30, 10, 20])
    taken = []
    for _ in range(3):
        taken.append(q._take(0))
        q.release(taken[-1])
    assert [v.duration for v in taken] == [10, 20, 30]


def test_finish_applies_within_what_is_known_in_a_streaming_queue():
    """Videos arrive in input order and durations later (lookups): the look-ahead picks the
    longest known, or the shortest known when it costs nothing, an unknown one last."""
    q = WorkQueue(3, order="finish")
    q.width = 2
    q.finish.started = True
    q.finish.ends = {"other": 400.0}     # the other slot is busy 400 s more
    q.pending.extend(vids([None, 50, None, 500, 5]))
    assert q._take(1).duration == 500, "the 500 s video must start now or end the batch late"
    assert q._take(1).duration == 5, "the one slot free: short first costs nothing"
    assert q._take(1).duration == 50
    assert q._take(1).duration is None


def test_a_long_video_that_would_end_the_batch_late_goes_first():
    q = WorkQueue(3, order="finish")
    q.width = 2
    q.finish.started = True
    q.finish.ends = {"other": 90.0}
    q.pending.extend(order_videos(vids([100.0, 10.0]), "finish"))
    assert q._take(0).duration == 100.0, "short first would end at 110 s, long first at 100 s"


def test_a_short_video_goes_first_while_the_long_one_still_fits():
    q = WorkQueue(3, order="finish")
    q.width = 3
    q.finish.started = True
    q.pending.extend(order_videos(vids([100.0] + [10.0] * 20), "finish"))
    assert q._take(0).duration == 10.0, "200 s of short work over the other slots ends by 100 s anyway"


def test_finish_ends_near_the_bound_on_a_heavy_tail_and_beats_shortest_first():
    durations = [10.0] * 45 + [100.0] * 5
    finish, first_finish = simulate("finish", durations, 10)
    shortest, first_shortest = simulate("shortest", durations, 10)
    assert finish <= 1.10 * bound(durations, 10) < shortest
    assert first_finish <= 1.5 * first_shortest


def test_finish_ends_near_the_bound_on_an_even_mix():
    """50 lengths spread evenly over 10-100 s on 10 slots: a fixed slot on the shortest ended
    this 9 % after the bound (the short fillers gone from the tail); the plan ends it within 5 %."""
    durations = [10.0 + 90.0 * ((i * 0.6180339887) % 1.0) for i in range(50)]
    finish, first_finish = simulate("finish", durations, 10)
    _, first_shortest = simulate("shortest", durations, 10)
    assert finish <= 1.05 * bound(durations, 10)
    assert first_finish <= 1.5 * first_shortest


def test_shortest_and_input_stay():
    q = queue("shortest", [30, 10, 20])
    assert [q._take(1).duration for _ in range(3)] == [10, 20, 30]
    q = queue("input", [30, 10, 20])
    assert [q._take(EARLY_SLOT).duration for _ in range(3)] == [30, 10, 20]
