"""A test handler, a server running in the test's event loop, and a raw line client."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import anyio

from bulk_transcribe.core.events import Activity, Notice, Progress, VideoChanged, WorkerChanged
from bulk_transcribe.core.model import VideoState
from bulk_transcribe.core.service import protocol as p
from bulk_transcribe.core.service.paths import ServicePaths
from bulk_transcribe.core.service.server import Connection, Request, RequestError, Server


class Handler:
    """Echoes, fails on demand, and subscribes a connection to the batch it names."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.connections: list[Connection] = []

    async def handle(self, request: Request, connection: Connection) -> Any:
        self.requests.append(request)
        self.connections.append(connection)
        if request.method == "echo":
            return request.args
        if request.method == "subscribe":
            connection.subscribe(request.args["batch"])
            return {"subscribed": request.args["batch"]}
        if request.method == "refuse":
            raise RequestError("no-such-batch", "there is no batch 'x'")
        if request.method == "crash":
            raise RuntimeError("kaboom")
        if request.method == "big":
            return "x" * request.args["size"]
        if request.method == "unserialisable":
            return {1, 2}
        raise RequestError(p.UNKNOWN_METHOD, f"no method {request.method!r}")


@asynccontextmanager
async def running_server(paths: ServicePaths, handler: Handler | None = None, **options: Any) -> AsyncIterator[Server]:
    server = Server(handler or Handler(), paths, **options)
    async with anyio.create_task_group() as tg:
        await tg.start(server.serve)
        try:
            yield server
        finally:
            server.stop()
    assert not paths.socket.exists(), "the server left its socket behind"


class RawClient:
    """Speaks the wire by hand, to test what a well-behaved client never sends."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.reader = p.LineReader(stream)
        self._ids = 0

    @classmethod
    @asynccontextmanager
    async def connect(cls, paths: ServicePaths, *, hello: bool = True) -> AsyncIterator["RawClient"]:
        async with await anyio.connect_unix(paths.socket) as stream:
            client = cls(stream)
            if hello:
                await client.send(p.hello("cli", os.getpid()))
                welcome = await client.receive()
                assert welcome["type"] == "welcome", welcome
            yield client

    async def send(self, message: dict[str, Any]) -> None:
        await self.stream.send(p.encode_line(message))

    async def receive(self) -> dict[str, Any] | None:
        with anyio.fail_after(10):
            return await self.reader.read_message()

    async def call(self, method: str, **args: Any) -> dict[str, Any]:
        self._ids += 1
        await self.send(p.request(self._ids, method, args))
        reply = await self.receive()
        assert reply is not None and reply["type"] == "reply" and reply["id"] == self._ids, reply
        return reply


async def until(condition) -> None:
    """Wait for `condition()`; the limit only stops a broken test from hanging."""
    with anyio.fail_after(10):
        while not condition():
            await anyio.sleep(0.01)


def worker(n: int, i: int) -> WorkerChanged:
    return WorkerChanged(worker=n, activity=Activity.TRANSCRIBING, video_key=f"v{i}", progress=float(i % 100))


def video(i: int, message: str = "") -> VideoChanged:
    return VideoChanged(key=f"v{i}", index=i, state=VideoState.DONE, label=f"video {i}", message=message)


def progress(i: int) -> Progress:
    return Progress(total=1000, done=i, failed=0, in_flight=4, queued=1000 - i, elapsed=float(i),
                    videos_per_min=1.5, eta_seconds=None, buckets=(), concurrency=4, max_concurrency=8)


def notice(text: str) -> Notice:
    return Notice(wall=1.0, level="info", message=text)
