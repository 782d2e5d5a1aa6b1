"""The faces' side of the socket: attach to the service, ask it things, follow its events.

    async with connect(client="tui") as service:
        await service.request("subscribe", batch="talks")
        async for batch, event in service.events():
            ...

`call("ls")` does one request from synchronous code (the CLI's ls/stop). Leaving the
``async with`` detaches; the service and its batches go on.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

import anyio
from anyio.abc import SocketAttribute, SocketStream

from ..events import Event
from . import protocol as p
from .paths import RuntimeDirError, service_paths
from .peer import verify_peer

log = logging.getLogger(__name__)


class ServiceNotRunning(ConnectionError):
    """No service is listening (no folder, no socket, or a stale one)."""


class ServiceDisconnected(ConnectionError):
    """The connection ended; `code` is the service's reason (protocol.py codes) if it gave one."""

    def __init__(self, code: str | None, message: str) -> None:
        super().__init__(f"{message} [{code}]" if code else message)
        self.code = code
        self.message = message


class RequestFailed(Exception):
    """The service answered ``ok: false``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{message} [{code}]")
        self.code = code
        self.message = message


class _Pending:
    def __init__(self) -> None:
        self.done = anyio.Event()
        self.reply: dict[str, Any] | None = None
        self.error: BaseException | None = None


class ServiceClient:
    """One attached connection. Made by `connect`; `request` may be called from many tasks,
    `events` should be iterated by one."""

    def __init__(self, stream: SocketStream, reader: p.LineReader, welcome: dict[str, Any],
                 event_buffer: int) -> None:
        self.welcome = welcome                 # the service's welcome (server_version, pid)
        self.skipped_kinds: set[str] = set()   # event kinds from a newer service, not shown
        self._stream = stream
        self._reader = reader
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._send_lock = anyio.Lock()
        self._events_in, self._events_out = anyio.create_memory_object_stream[tuple[str, Event]](event_buffer)
        self._ended: ServiceDisconnected | None = None
        self._detaching = False

    async def request(self, method: str, /, **args: Any) -> Any:
        """The result of `method`; RequestFailed if the service says no, ServiceDisconnected
        if the connection ends first."""
        if self._ended is not None:
            raise self._ended
        request_id = next(self._ids)
        pending = self._pending[request_id] = _Pending()
        try:
            line = p.encode_line(p.request(request_id, method, args))
            async with self._send_lock:
                try:
                    await self._stream.send(line)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
                    self._end(ServiceDisconnected(None, f"lost the service: {exc}"))
            await pending.done.wait()
        finally:
            self._pending.pop(request_id, None)
        if pending.error is not None:
            raise pending.error
        reply = pending.reply or {}
        if reply.get("ok") is True:
            return reply.get("result")
        error = reply.get("error") if isinstance(reply.get("error"), dict) else {}
        raise RequestFailed(str(error.get("code", "")), str(error.get("message", "")))

    async def events(self) -> AsyncIterator[tuple[str, Event]]:
        """(batch, event) of every subscribed batch, in the order the service sent them. Ends
        when we detach; raises ServiceDisconnected if the service ends the connection."""
        async for item in self._events_out:
            yield item
        if self._ended is not None and not self._detaching:
            raise self._ended

    # -- the reader task ---------------------------------------------------------------
    async def _run(self) -> None:
        try:
            while True:
                message = await self._reader.read_message()
                if message is None:
                    raise ServiceDisconnected(None, "the service closed the connection")
                kind = message["type"]
                if kind == "reply":
                    pending = self._pending.get(message.get("id"))   # type: ignore[arg-type]
                    if pending is not None:
                        pending.reply = message
                        pending.done.set()
                elif kind == "event":
                    await self._event(message)
                elif kind == "error":
                    raise ServiceDisconnected(str(message.get("code")), str(message.get("message")))
                # other types: from a newer service; ignored
        except ServiceDisconnected as exc:
            self._end(exc)
        except p.ProtocolError as exc:
            self._end(ServiceDisconnected(exc.code, exc.message))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            self._end(ServiceDisconnected(None, f"lost the service: {exc}"))

    async def _event(self, message: dict[str, Any]) -> None:
        batch = message.get("batch")
        try:
            event = p.decode_event(message.get("event"))   # type: ignore[arg-type]
        except p.UnknownEventKind as exc:
            self.skipped_kinds.add(str(exc.kind))
            return
        except p.EventDecodeError as exc:
            log.warning("skipped a malformed event from the service: %s", exc)
            return
        if isinstance(batch, str):
            await self._events_in.send((batch, event))   # full: backpressure to the service

    def _end(self, reason: ServiceDisconnected) -> None:
        if self._ended is None:
            self._ended = reason
        for pending in self._pending.values():
            pending.error = self._ended
            pending.done.set()
        self._events_in.close()


def _socket_path(path: Path | str | None) -> Path:
    if path is not None:
        return Path(path)
    try:
        return service_paths(create=False).socket
    except FileNotFoundError:
        raise ServiceNotRunning("no bulk-transcribe service is running (its folder does not exist)") from None


async def _handshake(stream: SocketStream, reader: p.LineReader, client: str) -> dict[str, Any]:
    try:
        await stream.send(p.encode_line(p.hello(client, os.getpid())))
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        pass   # turned away already (another uid?): the reason may be waiting to be read
    message = await reader.read_message()
    if message is None:
        raise ServiceDisconnected(None, "the service closed the connection during the handshake")
    if message["type"] == "error":
        raise ServiceDisconnected(str(message.get("code")), str(message.get("message")))
    if message["type"] != "welcome" or message.get("protocol") != p.PROTOCOL_VERSION:
        raise ServiceDisconnected(p.PROTOCOL, f"unexpected answer to hello: {message!r:.200}")
    return message


@asynccontextmanager
async def connect(path: Path | str | None = None, *, client: str = "cli", timeout: float = 10.0,
                  event_buffer: int = 10_000) -> AsyncIterator[ServiceClient]:
    """Attach to the service on `path` (default: this user's, see paths.py).

    ServiceNotRunning if nobody listens; PeerRefused if the socket belongs to another user;
    ServiceDisconnected if the service refuses the hello (e.g. another protocol version)."""
    socket_path = _socket_path(path)
    try:
        stream = await anyio.connect_unix(socket_path)
    except (FileNotFoundError, ConnectionRefusedError):
        raise ServiceNotRunning(f"no bulk-transcribe service is running (nothing listens on {socket_path})") from None
    except PermissionError:
        raise RuntimeDirError(f"permission denied on {socket_path}: it is not your service's socket") from None
    async with stream:
        verify_peer(stream.extra(SocketAttribute.raw_socket))   # the key must go to our own user only
        reader = p.LineReader(stream)
        try:
            with anyio.fail_after(timeout if timeout is not None else math.inf):
                welcome = await _handshake(stream, reader, client)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            if isinstance(exc, TimeoutError):
                raise
            raise ServiceDisconnected(None, f"lost the service during the handshake: {exc}") from None
        except p.ProtocolError as exc:
            raise ServiceDisconnected(exc.code, exc.message) from None
        service = ServiceClient(stream, reader, welcome, event_buffer)
        failed: Exception | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(service._run)
            try:
                yield service
            except Exception as exc:   # the caller's own error, raised as is, not in a group
                failed = exc
            finally:
                service._detaching = True
                tg.cancel_scope.cancel()
        service._end(ServiceDisconnected(None, "detached"))
        if failed is not None:
            raise failed


def call(method: str, /, *, path: Path | str | None = None, client: str = "cli",
         timeout: float = 10.0, **args: Any) -> Any:
    """One request from synchronous code (not from inside an event loop); TimeoutError past
    `timeout` seconds, else as `connect` and `ServiceClient.request`."""

    async def one() -> Any:
        with anyio.fail_after(timeout):
            async with connect(path, client=client, timeout=timeout) as service:
                return await service.request(method, **args)

    return anyio.run(one)
