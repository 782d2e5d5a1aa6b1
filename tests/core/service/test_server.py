"""The service's socket end to end: handshake, requests, life and death of the socket."""

from __future__ import annotations

import os
import socket
import stat

import anyio
import pytest

from bulk_transcribe.core.service import protocol as p
from bulk_transcribe.core.service.client import (
    RequestFailed,
    ServiceNotRunning,
    call,
    connect,
)
from bulk_transcribe.core.service.listen import ServiceRunning
from bulk_transcribe.core.service.paths import RuntimeDirError
from bulk_transcribe.core.service.server import Server

from .helpers import Handler, RawClient, notice, running_server, until


def mode_of(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_handshake_then_requests_and_their_replies(paths):
    handler = Handler()

    async def main():
        async with running_server(paths, handler), connect(paths.socket, client="tui") as service:
            assert service.welcome["protocol"] == p.PROTOCOL_VERSION
            assert service.welcome["server_version"] == p.SERVER_VERSION
            assert service.welcome["pid"] == os.getpid()
            assert await service.request("echo", batch="talks", n=3) == {"batch": "talks", "n": 3}
            ping = await service.request("ping")
            assert ping["protocol"] == p.PROTOCOL_VERSION and ping["pid"] == os.getpid()
            for method, code in [("refuse", "no-such-batch"), ("crash", p.INTERNAL),
                                 ("unserialisable", p.INTERNAL), ("teleport", p.UNKNOWN_METHOD)]:
                with pytest.raises(RequestFailed) as caught:
                    await service.request(method)
                assert caught.value.code == code
            assert await service.request("echo") == {}   # the connection survived all of that

    anyio.run(main)
    assert handler.connections[0].client == "tui"
    assert handler.connections[0].peer.uid == os.geteuid()
    assert handler.connections[0].peer.pid == os.getpid()
    assert [r.method for r in handler.requests][:2] == ["echo", "refuse"]   # ping never reaches it


def test_the_socket_is_0600_inside_a_0700_folder(paths):
    async def main():
        async with running_server(paths):
            assert stat.S_ISSOCK(os.lstat(paths.socket).st_mode)
            assert mode_of(paths.socket) == 0o600
            assert mode_of(paths.dir) == 0o700
            assert paths.lock.exists()

    anyio.run(main)
    assert paths.lock.exists(), "the lock file is never deleted"


def test_another_protocol_version_is_refused_with_a_reason(paths):
    async def main():
        async with running_server(paths), RawClient.connect(paths, hello=False) as raw:
            await raw.send({"type": "hello", "protocol": 2, "client": "tui", "pid": 1})
            answer = await raw.receive()
            assert answer["type"] == "error" and answer["code"] == p.PROTOCOL
            assert "protocol 1" in answer["message"]
            assert await raw.receive() is None   # and hung up

    anyio.run(main)


def test_a_request_before_the_hello_is_refused(paths):
    handler = Handler()

    async def main():
        async with running_server(paths, handler), RawClient.connect(paths, hello=False) as raw:
            await raw.send(p.request(1, "echo", {}))
            assert (await raw.receive())["code"] == p.PROTOCOL
            assert await raw.receive() is None

    anyio.run(main)
    assert handler.requests == []


def test_a_client_that_never_says_hello_is_dropped(paths):
    async def main():
        async with running_server(paths, hello_timeout=0.2), RawClient.connect(paths, hello=False) as raw:
            assert (await raw.receive())["code"] == p.TIMEOUT

    anyio.run(main)


def test_garbage_ends_the_connection_but_unknown_message_types_do_not(paths):
    async def main():
        async with running_server(paths):
            async with RawClient.connect(paths) as raw:
                await raw.send({"type": "telepathy"})                 # no id: ignored
                await raw.send({"type": "telepathy", "id": 9})        # an id: told
                answer = await raw.receive()
                assert answer["id"] == 9 and answer["error"]["code"] == p.BAD_REQUEST
                await raw.send({"type": "request", "id": 10, "method": 5})
                assert (await raw.receive())["error"]["code"] == p.BAD_REQUEST
                assert (await raw.call("ping"))["ok"] is True
                await raw.stream.send(b"this is not json\n")
                assert (await raw.receive())["code"] == p.BAD_MESSAGE
                assert await raw.receive() is None

    anyio.run(main)


def test_a_line_over_the_limit_is_refused_and_one_at_the_limit_is_read(paths):
    async def main():
        async with running_server(paths):
            async with RawClient.connect(paths) as raw:
                head = b'{"type":"request","id":1,"method":"echo","args":{"pad":"'
                tail = b'"}}'
                line = head + b"a" * (p.MAX_LINE - len(head) - len(tail)) + tail
                assert len(line) == p.MAX_LINE
                await raw.stream.send(line + b"\n")
                reply = await raw.receive()   # read and handled
                assert reply["id"] == 1 and len(reply["result"]["pad"]) == p.MAX_LINE - len(head) - len(tail)
                await raw.send(p.request(2, "big", {"size": p.MAX_LINE}))
                reply = await raw.receive()   # a reply over the limit is not sent: an error is
                assert reply["id"] == 2 and reply["error"]["code"] == p.TOO_LARGE
            async with RawClient.connect(paths) as raw:
                async with anyio.create_task_group() as tg:
                    async def flood():
                        try:
                            await raw.stream.send(b'{"type":"request",' + b" " * (p.MAX_LINE + 1))
                        except (anyio.BrokenResourceError, OSError):
                            pass
                    tg.start_soon(flood)
                    answer = await raw.receive()
                assert answer["type"] == "error" and answer["code"] == p.TOO_LONG

    anyio.run(main)


def test_detaching_leaves_the_service_running_and_forgets_the_client(paths):
    async def main():
        async with running_server(paths) as server:
            async with connect(paths.socket) as service:
                await service.request("subscribe", batch="b")
                assert server._subscribers
            await until(lambda: not server.connections)
            assert not server._subscribers
            server.publish("b", notice("nobody"))
            async with connect(paths.socket) as again:
                assert (await again.request("ping"))["connection"] == 2

    anyio.run(main)


def test_the_sync_helper_does_one_request(paths):
    async def main():
        async with running_server(paths):
            result = await anyio.to_thread.run_sync(lambda: call("echo", path=paths.socket, what="ls"))
            assert result == {"what": "ls"}
            with pytest.raises(RequestFailed):
                await anyio.to_thread.run_sync(lambda: call("refuse", path=paths.socket))
            # and the default path, from the environment
            assert await anyio.to_thread.run_sync(lambda: call("echo", x=1)) == {"x": 1}

    anyio.run(main)


def test_no_service_is_a_clear_error(paths, monkeypatch):
    with pytest.raises(ServiceNotRunning):
        call("ls", path=paths.socket)
    monkeypatch.setenv("BULK_TRANSCRIBE_RUNTIME_DIR", str(paths.dir / "never-made"))
    with pytest.raises(ServiceNotRunning):
        call("ls")


def _dead_socket(path) -> None:
    """A socket file nobody listens on: what `kill -9` of a service leaves."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(os.fspath(path))
    s.close()


def test_a_dead_services_socket_is_replaced(paths):
    _dead_socket(paths.socket)
    with pytest.raises(ServiceNotRunning):
        call("ping", path=paths.socket)

    async def main():
        async with running_server(paths), connect(paths.socket) as service:
            assert (await service.request("ping"))["pid"] == os.getpid()

    anyio.run(main)


def test_a_second_service_is_refused_and_leaves_the_first_alone(paths):
    async def main():
        async with running_server(paths):
            with pytest.raises(ServiceRunning, match="already running.*pid"):
                await Server(Handler(), paths).serve()
            async with connect(paths.socket) as service:
                assert await service.request("echo", a=1) == {"a": 1}

    anyio.run(main)


def test_a_live_socket_without_the_lock_is_not_stolen(paths):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(os.fspath(paths.socket))
    listener.listen(1)
    try:
        with pytest.raises(ServiceRunning, match="holds no lock"):
            anyio.run(Server(Handler(), paths).serve)
        assert paths.socket.exists()
    finally:
        listener.close()
        paths.socket.unlink()


def test_something_else_at_the_socket_path_is_refused(paths):
    paths.socket.write_text("not a socket")
    with pytest.raises(RuntimeDirError, match="not a socket"):
        anyio.run(Server(Handler(), paths).serve)
    assert paths.socket.read_text() == "not a socket"
