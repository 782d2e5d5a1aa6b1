"""Claiming the socket: one service per user, a 0600 socket, stale sockets removed safely.

Order, so that two services starting at once cannot both win nor remove each other's socket:
1. take the user's service lock (``flock`` on ``service.lock``, never deleted) or fail;
2. if a socket file is there, try to connect: refused means its service died (a crash,
   ``kill -9``), so it is unlinked; an answer means a live service that holds no lock
   (another version, another mount namespace), so we fail rather than steal its path;
3. bind with the umask at 0177 so the socket is born 0600 (then chmod and check it anyway;
   umask is process-wide, so bind before starting threads that create files);
4. on the way out, unlink the socket only if the path is still our inode, then unlock.
"""

from __future__ import annotations

import os
import socket
import stat
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

import anyio
from anyio.abc import SocketListener

from ..store.lockfile import FileLock, LockBusy
from .paths import RuntimeDirError, ServicePaths

SOCKET_MODE = 0o600


class ServiceRunning(RuntimeError):
    """Another service of this user is running (it holds the lock or answers the socket)."""


def remove_stale_socket(path: Path) -> bool:
    """Unlink `path` if it is a socket nobody listens on; True if it did. Call with the lock held.
    ServiceRunning if someone answers; RuntimeDirError if `path` is not a socket."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISSOCK(st.st_mode):
        raise RuntimeDirError(f"{path} exists and is not a socket: move it away and start the service again")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(os.fspath(path))
    except ConnectionRefusedError:
        os.unlink(path)   # nobody listens: the leftover of a service that died
        return True
    except FileNotFoundError:
        return False
    except (socket.timeout, BlockingIOError):
        raise ServiceRunning(f"a service is listening on {path} (its queue is full)") from None
    finally:
        probe.close()
    raise ServiceRunning(f"a service that holds no lock answers on {path}; stop it first")


def _identity(path: Path) -> tuple[int, int]:
    st = os.lstat(path)
    return st.st_dev, st.st_ino


def _unlink_if_ours(path: Path, ours: tuple[int, int] | None) -> None:
    """A newer service may have replaced the file (after our lock was lost): leave theirs."""
    try:
        if ours is not None and _identity(path) == ours:
            os.unlink(path)
    except FileNotFoundError:
        pass


@asynccontextmanager
async def bind_socket(paths: ServicePaths) -> AsyncIterator[SocketListener]:
    """The listener on `paths.socket`, holding the service lock while it is open."""
    lock = FileLock(paths.lock)
    try:
        lock.acquire()
    except LockBusy as exc:
        raise ServiceRunning(f"a bulk-transcribe service is already running ({exc.holder.describe()})") from None
    try:
        remove_stale_socket(paths.socket)
        old = os.umask(0o177)
        try:
            listener = await anyio.create_unix_listener(paths.socket, mode=SOCKET_MODE)
        finally:
            os.umask(old)
        ours: tuple[int, int] | None = None
        try:
            ours = _identity(paths.socket)
            mode = stat.S_IMODE(os.lstat(paths.socket).st_mode)
            if mode != SOCKET_MODE:
                raise RuntimeDirError(f"the socket {paths.socket} came out with mode {mode:04o}, not 0600")
            yield listener
        finally:
            with anyio.CancelScope(shield=True):
                await listener.aclose()
            _unlink_if_ours(paths.socket, ours)
    finally:
        lock.release()
