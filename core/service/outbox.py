"""What one connection has yet to send: bounded, in order, never blocking the publisher.

The engine's sink is a plain function, so `put_event` is synchronous and O(1); the
connection's writer task drains the outbox at the client's pace. The backpressure policy:

- Conflation, not loss, for the snapshot events (`CONFLATED`): a `Progress` still waiting is
  replaced by the newer one, a `WorkerChanged` by the newer one of the same worker. The newer
  one goes to the back of the queue, so it still follows everything that happened before it.
  A slow client sees fewer frames, never a stale state: at most one `Progress` per batch and
  one `WorkerChanged` per worker wait at any time.
- Every other event (VideoChanged, ErrorLogged, Notice, ConcurrencyChanged, BatchFinished
  and kinds added later) is never dropped. When `max_events` of them wait, `put_event`
  refuses; the server then ends that connection with an ``slow-consumer`` error, because a
  face that missed a state change cannot repair its view but can reconnect and resync.
- Replies are not counted: a connection has at most one request in progress.

Events are stored as objects and encoded by the writer, so publishing costs no JSON work.
Not thread-safe: call it from the event loop's thread (the engine's sink is).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

import anyio

from ..events import Event

CONFLATED: dict[str, tuple[str, ...]] = {"Progress": (), "WorkerChanged": ("worker",)}
"""Event kinds where a newer one supersedes a waiting one with the same key fields."""


@dataclass(frozen=True)
class Goodbye:
    """The last thing a connection sends (an error message, or nothing), then it closes."""

    message: dict[str, Any] | None


Item = Union[bytes, tuple[str, Event], Goodbye]   # an encoded reply, (batch, event), or the end


def conflation_key(batch: str, event: Event) -> tuple | None:
    fields = CONFLATED.get(type(event).__name__)
    if fields is None:
        return None
    return (batch, type(event).__name__, *(getattr(event, f) for f in fields))


class Outbox:
    def __init__(self, max_events: int) -> None:
        if max_events < 1:
            raise ValueError("max_events must be at least 1")
        self.max_events = max_events
        self._items: dict[int, tuple[tuple | None, Item]] = {}   # insertion-ordered
        self._latest: dict[tuple, int] = {}   # conflation key -> its waiting item's number
        self._next = 0
        self._events = 0          # lossless events waiting (conflated ones are bounded apart)
        self._wake = anyio.Event()
        self._goodbye: Goodbye | None = None
        self.superseded = 0       # snapshot events replaced by a newer one before being sent

    @property
    def closing(self) -> bool:
        return self._goodbye is not None

    def __len__(self) -> int:
        return len(self._items)

    def _append(self, key: tuple | None, item: Item) -> None:
        self._items[self._next] = (key, item)
        if key is not None:
            self._latest[key] = self._next
        self._next += 1
        self._wake.set()

    def put_reply(self, line: bytes) -> None:
        if not self.closing:
            self._append(None, line)

    def put_event(self, batch: str, event: Event) -> bool:
        """Queue `event`; False (and nothing queued) when the client is too far behind."""
        if self.closing:
            return True
        key = conflation_key(batch, event)
        if key is not None:
            waiting = self._latest.pop(key, None)
            if waiting is not None:
                del self._items[waiting]
                self.superseded += 1
        elif self._events >= self.max_events:
            return False
        else:
            self._events += 1
        self._append(key, (batch, event))
        return True

    def close(self, message: dict[str, Any] | None, *, flush: bool) -> None:
        """End the connection after `message`; drop what waits unless `flush`. Idempotent."""
        if self.closing:
            return
        if not flush:
            self._items.clear()
            self._latest.clear()
            self._events = 0
        self._goodbye = Goodbye(message)
        self._wake.set()

    async def get(self) -> Item:
        """The next thing to send, in order; the Goodbye once nothing else waits."""
        while not self._items:
            if self._goodbye is not None:
                return self._goodbye
            await self._wake.wait()
            self._wake = anyio.Event()
        number = next(iter(self._items))
        key, item = self._items.pop(number)
        if key is not None:
            if self._latest.get(key) == number:
                del self._latest[key]
        elif not isinstance(item, bytes):
            self._events -= 1
        return item
