"""What a face may do to a running batch, and the run's own brakes.

`RunControls` is the contract every face programs against (the real `Engine`, and the fake
engine of the app's tests, both satisfy it). `Brakes` holds the state behind it: submitting
paused, a graceful stop asked for, or a halt (a failure that makes every further submit
pointless: a refused key, no balance, a full disk). Paused workers wait on an event that a
resume, a stop or a halt sets, so nobody is left waiting for a resume that will not come.
"""

from __future__ import annotations

from typing import Awaitable, Callable, Protocol, runtime_checkable

import anyio

from ..errors import Category, DeapiError
from .reporter import Reporter

HALT_HINTS = {
    Category.AUTH: "check DEAPI_API_KEY (or the key in the config file), then resume",
    Category.BALANCE: "top up the deAPI balance, then resume",
    Category.BUDGET: "raise --max-cost, then resume",
    Category.DISK: "free some disk space or fix the folder, then resume",
}


@runtime_checkable
class RunControls(Protocol):
    """The controls of one running batch, callable from a face on the run's event loop."""

    @property
    def submitting_paused(self) -> bool: ...

    @property
    def stopping(self) -> bool: ...

    def pause_submitting(self) -> None:
        """No new submits until `resume_submitting`; jobs in flight go on."""

    def resume_submitting(self) -> None: ...

    def request_stop(self) -> None:
        """Graceful stop: no new submits; jobs already paid for are followed to the end."""

    def retry_failed(self, *, permanent: bool = False) -> int:
        """Queue again every failed video that may succeed (and with `permanent`, those deAPI
        failed for good too); returns how many."""

    def permanent_failures(self) -> tuple[int, float]:
        """(how many, estimated USD if they succeed) of the failures only `permanent` retries."""


class Brakes:
    """Pause, stop and halt for one run (see the module docstring)."""

    def __init__(self, reporter: Reporter, poke) -> None:
        self._reporter = reporter
        self._poke = poke              # wakes idle workers so they see the change
        self._unpaused = anyio.Event()
        self._unpaused.set()
        self.paused = False
        self.stopping = False
        self.halted: DeapiError | None = None
        self._stopped = anyio.Event()   # set while stopping: cuts short the waits before a submit

    def pause(self) -> None:
        self.paused = True
        if self._unpaused.is_set():   # a second pause must not orphan the workers waiting on the first
            self._unpaused = anyio.Event()
        self._reporter.notice("info", "submitting paused: jobs in flight continue")

    def resume(self) -> None:
        self.paused = False
        self._unpaused.set()
        self._reporter.notice("info", "submitting resumed")

    async def wait_unpaused(self) -> None:
        await self._unpaused.wait()

    def stop(self) -> None:
        if not self.stopping:
            self.stopping = True
            self._reporter.notice("info", "stopping: no new submits, finishing the jobs in flight")
            self._unpaused.set()
            self._stopped.set()
            self._poke()

    def release_stop(self) -> None:
        """Work was queued again after a stop (retry failed): workers may submit again."""
        self.stopping = False
        if self._stopped.is_set():
            self._stopped = anyio.Event()
        if self.paused and self._unpaused.is_set():
            self._unpaused = anyio.Event()   # stop set it; still paused, so wait again

    def halt(self, err: DeapiError) -> None:
        """Stop submitting for good: every further submit would fail the same way."""
        if self.halted is None:
            self.halted = err
            hint = HALT_HINTS.get(err.category, "fix the cause, then resume")
            self._reporter.notice("error", f"{err.message}: {hint}. Jobs already paid for are still followed.")
        self.stopping = True
        self._unpaused.set()   # paused workers must see the stop, not wait for a resume
        self._stopped.set()
        self._poke()

    async def unless_stopping(self, wait: Callable[[], Awaitable[object]]) -> bool:
        """Await `wait()` (a rate-limit token, a back-off before the next submit) unless the run
        stops submitting meanwhile: a stop is not kept waiting a minute for a submit it will not
        send. True when the wait ended by itself."""
        if self.stopping:
            return False
        stopped = self._stopped
        finished = False
        async with anyio.create_task_group() as tg:
            async def watch() -> None:
                await stopped.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(watch)
            await wait()
            finished = True
            tg.cancel_scope.cancel()
        return finished
