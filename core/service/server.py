"""The service's side of the socket: accept, check the peer, shake hands, dispatch, push events.

`Server(handler).serve()` owns the socket for as long as it runs. Each connection is checked
by uid before anything is read from it (peer.py), must say hello first (protocol.py), then
sends requests that are handled one at a time, in order, by the `Handler`; the handler
subscribes the connection to the batches it wants, and `Server.publish` (synchronous, the
engine's sink) queues each event in every subscriber's `Outbox` (backpressure policy there).
"""

from __future__ import annotations

import itertools
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
from anyio.abc import SocketAttribute, SocketStream, TaskStatus

from ..events import Event
from . import protocol as p
from .listen import bind_socket
from .outbox import Goodbye, Outbox
from .paths import ServicePaths, service_paths
from .peer import PeerCheckUnavailable, PeerCredentials, PeerRefused, verify_peer

log = logging.getLogger(__name__)

ACCEPT_RETRY = 0.1   # seconds to wait after a failed accept (e.g. EMFILE) before the next


@dataclass(frozen=True)
class Request:
    id: int | str
    method: str
    args: dict[str, Any]


class RequestError(Exception):
    """Raised by a handler to answer ``ok: false`` with this code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Handler(Protocol):
    async def handle(self, request: Request, connection: "Connection") -> Any:
        """The JSON-ready result of `request`, or RequestError. May subscribe `connection`."""
        ...


@dataclass(eq=False)
class Connection:
    """One attached client, as the handler sees it."""

    id: int
    client: str                 # what its hello said: "tui", "headless", "cli", ...
    peer: PeerCredentials       # the kernel's word (the pid in the hello is only a claim)
    outbox: Outbox
    _server: "Server"
    subscriptions: set[str] = field(default_factory=set)
    _scope: anyio.CancelScope | None = None

    def subscribe(self, batch: str) -> None:
        """Push `batch`'s events to this client from now on."""
        self._server._subscribe(self, batch)

    def unsubscribe(self, batch: str) -> None:
        self._server._unsubscribe(self, batch)

    def close(self, code: str, message: str, *, flush: bool = True) -> None:
        """Send an error line (after what waits, if `flush`) and hang up within the grace time."""
        self._server._unsubscribe_all(self)
        self.outbox.close(p.error(code, message), flush=flush)
        if self._scope is not None:
            deadline = anyio.current_time() + self._server.goodbye_grace
            self._scope.deadline = min(self._scope.deadline, deadline)


class Server:
    def __init__(self, handler: Handler, paths: ServicePaths | None = None, *,
                 max_pending_events: int = 10_000, hello_timeout: float = 10.0,
                 goodbye_grace: float = 2.0) -> None:
        self.handler = handler
        self.paths = paths
        self.max_pending_events = max_pending_events
        self.hello_timeout = hello_timeout
        self.goodbye_grace = goodbye_grace
        self.refused = 0                     # connections turned away by the uid check
        self._ids = itertools.count(1)
        self._connections: dict[int, Connection] = {}
        self._subscribers: dict[str, set[Connection]] = {}
        self._accepting: anyio.CancelScope | None = None
        self._stopped = False

    @property
    def connections(self) -> tuple[Connection, ...]:
        return tuple(self._connections.values())

    # -- life --------------------------------------------------------------------------
    async def serve(self, *, task_status: TaskStatus[ServicePaths] = anyio.TASK_STATUS_IGNORED) -> None:
        """Take the service lock and the socket, serve until `stop()` or cancellation, then
        remove the socket (if still ours) and release the lock. ServiceRunning if another
        service of this user holds the lock or answers on the socket."""
        paths = self.paths or service_paths()
        async with bind_socket(paths) as listener:
            async with anyio.create_task_group() as tg:
                with anyio.CancelScope() as self._accepting:
                    task_status.started(paths)
                    while not self._stopped:
                        try:
                            stream = await listener.accept()
                        except OSError as exc:   # out of descriptors, say: wait, keep serving
                            log.warning("cannot accept a connection: %s", exc)
                            await anyio.sleep(ACCEPT_RETRY)
                            continue
                        tg.start_soon(self._connection, stream)

    def stop(self, message: str = "the service is stopping") -> None:
        """Stop accepting; tell every client (after what it still has to receive) and hang up."""
        self._stopped = True
        if self._accepting is not None:
            self._accepting.cancel()
        for conn in self.connections:
            conn.close(p.SHUTDOWN, message)

    # -- events ------------------------------------------------------------------------
    def publish(self, batch: str, event: Event) -> None:
        """Queue `event` for `batch`'s subscribers. Synchronous, never blocks, never raises for a
        slow client: one too far behind is disconnected (outbox.py)."""
        for conn in tuple(self._subscribers.get(batch, ())):
            if not conn.outbox.put_event(batch, event):
                log.warning("client %d (%s) is too slow; disconnecting it", conn.id, conn.client)
                conn.close(p.SLOW_CONSUMER,
                           f"more than {conn.outbox.max_events} events were waiting for this client: "
                           "reconnect and ask for the batch's state again", flush=False)

    def _subscribe(self, conn: Connection, batch: str) -> None:
        if conn.outbox.closing:
            return
        conn.subscriptions.add(batch)
        self._subscribers.setdefault(batch, set()).add(conn)

    def _unsubscribe(self, conn: Connection, batch: str) -> None:
        conn.subscriptions.discard(batch)
        subscribers = self._subscribers.get(batch)
        if subscribers is not None:
            subscribers.discard(conn)
            if not subscribers:
                del self._subscribers[batch]

    def _unsubscribe_all(self, conn: Connection) -> None:
        for batch in tuple(conn.subscriptions):
            self._unsubscribe(conn, batch)

    # -- one connection ------------------------------------------------------------------
    async def _connection(self, stream: SocketStream) -> None:
        async with stream:
            try:
                peer = verify_peer(stream.extra(SocketAttribute.raw_socket))
            except (PeerRefused, PeerCheckUnavailable, OSError) as exc:
                self.refused += 1
                log.warning("%s", exc)
                await self._say(stream, p.error(p.FORBIDDEN, str(exc)))
                return
            reader = p.LineReader(stream)
            try:
                with anyio.fail_after(self.hello_timeout):
                    client, _claimed_pid = p.check_hello(await reader.read_message())
                await stream.send(p.encode_line(p.welcome(os.getpid())))
            except TimeoutError:
                await self._say(stream, p.error(p.TIMEOUT, f"no hello within {self.hello_timeout:g} s"))
                return
            except p.ProtocolError as exc:
                await self._say(stream, p.error(exc.code, exc.message))
                return
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                return
            if self._stopped:
                await self._say(stream, p.error(p.SHUTDOWN, "the service is stopping"))
                return
            conn = Connection(next(self._ids), client, peer, Outbox(self.max_pending_events), self)
            try:
                async with anyio.create_task_group() as tg:
                    conn._scope = tg.cancel_scope
                    self._connections[conn.id] = conn   # only now can stop() reach it
                    tg.start_soon(self._write, stream, conn)
                    await self._read(reader, conn)
            finally:
                self._unsubscribe_all(conn)
                self._connections.pop(conn.id, None)

    async def _say(self, stream: SocketStream, message: dict[str, Any]) -> None:
        """Best effort: one line to a client being turned away."""
        with anyio.move_on_after(self.goodbye_grace):
            try:
                await stream.send(p.encode_line(message))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                pass

    async def _read(self, reader: p.LineReader, conn: Connection) -> None:
        while not conn.outbox.closing:
            try:
                message = await reader.read_message()
            except p.ProtocolError as exc:
                conn.close(exc.code, exc.message)
                return
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                message = None
            if message is None:                  # the client left
                assert conn._scope is not None
                conn._scope.cancel()
                return
            if message["type"] == "request":
                conn.outbox.put_reply(await self._answer(message, conn))
            elif "id" in message:
                conn.outbox.put_reply(p.encode_line(p.reply_error(
                    _id_or_none(message.get("id")), p.BAD_REQUEST, f"unknown message type {message['type']!r}")))
            # else: a message type from a newer client that wants no answer; ignored

    async def _answer(self, message: dict[str, Any], conn: Connection) -> bytes:
        request_id = _id_or_none(message.get("id"))
        method, args = message.get("method"), message.get("args", {})
        if request_id is None or not isinstance(method, str) or not isinstance(args, dict):
            return p.encode_line(p.reply_error(request_id, p.BAD_REQUEST,
                                               "a request has an 'id', a string 'method' and an object 'args'"))
        try:
            if method == "ping":
                result: Any = {"server_version": p.SERVER_VERSION, "protocol": p.PROTOCOL_VERSION,
                               "pid": os.getpid(), "connection": conn.id}
            else:
                result = await self.handler.handle(Request(request_id, method, args), conn)
        except RequestError as exc:
            return p.encode_line(p.reply_error(request_id, exc.code, exc.message))
        except Exception as exc:
            log.exception("request %r failed", method)
            return p.encode_line(p.reply_error(request_id, p.INTERNAL, f"{type(exc).__name__}: {exc}"))
        try:
            return p.encode_line(p.reply_ok(request_id, result))
        except p.LineTooLong:
            return p.encode_line(p.reply_error(request_id, p.TOO_LARGE, "the result is over the line limit"))
        except (TypeError, ValueError) as exc:
            log.error("request %r returned a result that is not JSON: %s", method, exc)
            return p.encode_line(p.reply_error(request_id, p.INTERNAL, "the result is not JSON"))

    async def _write(self, stream: SocketStream, conn: Connection) -> None:
        assert conn._scope is not None
        try:
            while True:
                item = await conn.outbox.get()
                if isinstance(item, Goodbye):
                    if item.message is not None:
                        await stream.send(p.encode_line(item.message))
                    return
                if not isinstance(item, bytes):
                    try:
                        item = p.encode_line(p.event_message(*item))
                    except (TypeError, ValueError) as exc:   # a bug: an event that is not JSON
                        log.error("cannot send an event: %s", exc)
                        continue
                await stream.send(item)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass
        finally:
            conn._scope.cancel()


def _id_or_none(value: Any) -> int | str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and 0 < len(value) <= 64):
        return value
    return None
