"""Group commit: many tasks' records share one durable write; each task awaits its own group.

A writer task (`run`, started in a task group) wakes when a caller is waiting, pauses a few
milliseconds so concurrent callers join the group, and hands the group to the `write`
coroutine. Without a writer, a waiting caller commits inline. Either way a write that is
in progress is shielded from cancellation, so a group taken from the queue is always
finished, and a cancelled waiter leaves its record queued for the next write. A writer that
is cancelled writes what is queued on its way out, so nobody waits on it in vain.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import anyio
import anyio.abc


class Group:
    """Records that will share one write; waiters learn the outcome together."""

    __slots__ = ("records", "finished", "error", "_event")

    def __init__(self) -> None:
        self.records: list[Any] = []
        self.finished = False
        self.error: BaseException | None = None
        self._event: anyio.Event | None = None

    def finish(self, error: BaseException | None = None) -> None:
        self.error, self.finished = error, True
        if self._event is not None:
            self._event.set()

    async def wait(self) -> None:
        if not self.finished:
            if self._event is None:
                self._event = anyio.Event()
            await self._event.wait()


class GroupCommit:
    """`write(records)` must make the records durable or raise; its exception is given to every waiter.

    `lock` serialises writes with anything else that touches the same files (checkpoints).
    """

    def __init__(self, write: Callable[[list[Any]], Awaitable[None]], *, commit_delay: float = 0.002,
                 idle_flush: float = 1.0) -> None:
        self._write = write
        self.commit_delay = commit_delay
        self.idle_flush = idle_flush
        self.current = Group()
        self.running = False
        self._wake: anyio.Event | None = None
        self._lock: anyio.Lock | None = None

    @property
    def lock(self) -> anyio.Lock:
        if self._lock is None:  # created lazily: it belongs to the event loop that first uses it
            self._lock = anyio.Lock()
        return self._lock

    def add(self, record: Any) -> Group:
        self.current.records.append(record)
        return self.current

    def take(self) -> Group:
        """Detach the current group (the caller must `finish` it); new records start a new one."""
        group, self.current = self.current, Group()
        return group

    async def wait(self, group: Group) -> None:
        """Return once `group` is written; raise what its write raised."""
        if self.running:
            if self._wake is not None:
                self._wake.set()
            await group.wait()
        else:
            while not group.finished:
                await self.commit()
        if group.error is not None:
            raise group.error

    async def commit(self) -> None:
        """Write the current group now (no-op when it is empty)."""
        async with self.lock:
            with anyio.CancelScope(shield=True):
                group = self.take()
                if not group.records:
                    group.finish()
                    return
                try:
                    await self._write(group.records)
                except Exception as exc:
                    group.finish(exc)
                else:
                    group.finish()

    async def run(self, *, task_status: anyio.abc.TaskStatus = anyio.TASK_STATUS_IGNORED) -> None:
        """The writer loop; run it in a task group and cancel it to stop (commit first)."""
        self._wake = anyio.Event()
        self.running = True
        task_status.started()
        try:
            while True:
                with anyio.move_on_after(self.idle_flush):  # unawaited records still reach the disk soon
                    await self._wake.wait()
                self._wake = anyio.Event()
                if self.current.records:
                    if self.commit_delay:
                        await anyio.sleep(self.commit_delay)  # let concurrent callers join this group
                    await self.commit()
        finally:
            # Callers that found the writer running wait for it; when it is cancelled (a quit),
            # their records must still be written, or a shielded caller (a submit recording its
            # request id) would wait forever. Later callers see `running` False and commit inline.
            self.running = False
            with anyio.CancelScope(shield=True):
                await self.commit()
