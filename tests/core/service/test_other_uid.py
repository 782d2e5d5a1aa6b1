"""Another user cannot reach the service: a real process running as another uid (root only).

The child is forked, not exec'd: a fresh interpreter would need a Python that uid 65534 may
run, which this project's (under /root) is not. The child only makes system calls and leaves
with os._exit, so it never runs anything of pytest's."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import anyio
import pytest

from bulk_transcribe.core.service import protocol as p
from bulk_transcribe.core.service.client import connect
from bulk_transcribe.core.service.peer import PeerRefused

from .helpers import Handler, running_server

OTHER_UID = 65534

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a process as another uid")


def _as_other_user(action) -> dict:
    """Run `action()` (returning a JSON-able dict) in a forked child as OTHER_UID."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(OTHER_UID)
            os.setuid(OTHER_UID)
            out = action()
        except BaseException as exc:   # noqa: BLE001 - everything goes back to the parent
            out = {"crash": repr(exc)}
        try:
            os.write(write_end, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    return {"pid": pid, "fd": read_end}


async def _result(child: dict) -> dict:
    def wait() -> dict:
        with os.fdopen(child["fd"], "rb") as pipe:
            data = pipe.read()
        os.waitpid(child["pid"], 0)
        return json.loads(data)

    return await anyio.to_thread.run_sync(wait)


def _try_to_attach(path: Path):
    def action() -> dict:
        assert os.geteuid() == OTHER_UID
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect(os.fspath(path))
        except OSError as exc:
            return {"connect_errno": exc.errno}
        with s:
            try:
                s.sendall(p.encode_line(p.hello("cli", os.getpid())))
            except BrokenPipeError:   # already refused and closed: read the reason anyway
                pass
            received = b""
            try:
                while chunk := s.recv(65536):
                    received += chunk
            except ConnectionResetError:   # the server closed with our hello unread: after its line
                pass
        return {"received": received.decode()}

    return action


def test_another_user_cannot_even_connect_through_the_0700_folder(paths):
    handler = Handler()

    async def main():
        async with running_server(paths, handler) as server:
            result = await _result(_as_other_user(_try_to_attach(paths.socket)))
            assert result == {"connect_errno": 13}   # EACCES: the folder stops them
            assert server.refused == 0

    anyio.run(main)
    assert handler.requests == []


def test_another_user_who_reaches_the_socket_is_refused_by_uid(paths):
    """With the folder opened to 0711 and the socket to 0666, the connect succeeds and the
    uid check is all that stands: the server must refuse before reading the hello."""
    handler = Handler()

    async def main():
        async with running_server(paths, handler) as server:
            paths.dir.chmod(0o711)
            paths.socket.chmod(0o666)
            try:
                result = await _result(_as_other_user(_try_to_attach(paths.socket)))
            finally:
                paths.dir.chmod(0o700)
                paths.socket.chmod(0o600)
            assert "received" in result, result
            lines = result["received"].splitlines()
            assert len(lines) == 1, result
            answer = json.loads(lines[0])
            assert answer["type"] == "error" and answer["code"] == p.FORBIDDEN
            assert f"uid {OTHER_UID}" in answer["message"]
            assert server.refused == 1 and not server.connections

    anyio.run(main)
    assert handler.requests == []


def test_a_client_will_not_talk_to_a_socket_of_another_user(paths):
    """The client sends the API key later, so it checks the service is its own user's first."""
    paths.dir.chmod(0o711)   # so the impostor can reach its own folder inside
    theirs = paths.dir / "theirs"
    theirs.mkdir(mode=0o711)
    os.chown(theirs, OTHER_UID, OTHER_UID)
    path = theirs / "s.sock"
    ready_read, ready_write = os.pipe()

    def impostor() -> dict:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(os.fspath(path))
        os.chmod(path, 0o666)
        listener.listen(1)
        listener.settimeout(10)
        os.write(ready_write, b"!")
        conn, _ = listener.accept()
        conn.settimeout(10)
        try:
            conn.sendall(p.encode_line(p.welcome(os.getpid())))
        except BrokenPipeError:         # the client has already hung up
            pass
        try:
            got = conn.recv(65536)      # what the client sent before giving up, if anything
        except ConnectionResetError:
            got = b""
        conn.close()
        listener.close()
        os.unlink(path)
        return {"got": got.decode()}

    async def main():
        child = _as_other_user(impostor)
        os.close(ready_write)
        await anyio.to_thread.run_sync(os.read, ready_read, 1)
        os.close(ready_read)
        with pytest.raises(PeerRefused):
            async with connect(path):
                pass
        assert await _result(child) == {"got": ""}   # not even a hello went out

    try:
        anyio.run(main)
    finally:
        paths.dir.chmod(0o700)
