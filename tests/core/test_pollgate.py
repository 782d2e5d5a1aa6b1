"""The poll gate: status calls at the budget's pace, the job due first goes first."""

from __future__ import annotations

import anyio

from bulk_transcribe.core.run.pollgate import PollGate


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _the_job_due_first_gets_the_call_first():
    """Three jobs wait while the budget allows one call; the one predicted to end first
    (earliest due) goes before those queued earlier but due later."""
    clock = Clock()
    gate = PollGate(clock=clock)
    order: list[str] = []

    async def poll(name: str, due: float) -> None:
        await gate.turn(due, lambda: 60.0)   # one call a second
        order.append(name)

    await gate.turn(0.0, lambda: 60.0)       # a call just went: the next must wait its second
    async with anyio.create_task_group() as tg:
        tg.start_soon(poll, "late", 5.0)
        tg.start_soon(poll, "middle", 3.0)
        tg.start_soon(poll, "soon", 1.0)
        await anyio.sleep(0.05)
        assert gate.waiting == 3 and order == []
        for _ in range(3):
            clock.now += 1.0
            with anyio.fail_after(2):
                while len(order) < _ + 1:
                    await anyio.sleep(0.01)
    assert order == ["soon", "middle", "late"]


async def _never_lets_more_calls_through_than_the_budget():
    clock = Clock()
    gate = PollGate(clock=clock)
    passed: list[float] = []

    async def poll(i: int) -> None:
        await gate.turn(float(i), lambda: 120.0)   # one call every 0.5 s
        passed.append(clock.now)

    async with anyio.create_task_group() as tg:
        for i in range(6):
            tg.start_soon(poll, i)
        while len(passed) < 6:
            await anyio.sleep(0.01)
            clock.now += 0.1
    gaps = [b - a for a, b in zip(passed, passed[1:])]
    assert all(g >= 0.5 - 1e-9 for g in gaps)


async def _a_cancelled_waiter_leaves_the_queue():
    clock = Clock()
    gate = PollGate(clock=clock)
    await gate.turn(0.0, lambda: 60.0)
    with anyio.move_on_after(0.05):
        await gate.turn(1.0, lambda: 60.0)
    assert gate.waiting == 0
    clock.now = 5.0
    with anyio.fail_after(1):
        await gate.turn(2.0, lambda: 60.0)


def test_the_job_due_first_gets_the_call_first():
    anyio.run(_the_job_due_first_gets_the_call_first)


def test_never_lets_more_calls_through_than_the_budget():
    anyio.run(_never_lets_more_calls_through_than_the_budget)


def test_a_cancelled_waiter_leaves_the_queue():
    anyio.run(_a_cancelled_waiter_leaves_the_queue)
