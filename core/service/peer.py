"""Who is at the other end of a Unix socket, as the kernel says, and whether they may talk.

The folder (0700) and the socket (0600) already keep other users out; this is the second
lock, checked on every connection before a byte of it is read, and by the client on the
service too (a client sends the API key, so it checks it talks to its own user's service).

- Linux: ``SO_PEERCRED`` gives the peer's pid, uid and gid as of its connect().
- macOS and the BSDs: ``LOCAL_PEERCRED`` gives a ``struct xucred`` (uid and groups, no pid).
- Anywhere else: `PeerCheckUnavailable`, and the service does not run. Refusing is the only
  safe answer when the kernel cannot say who connected.

Only the same effective uid is let in; root is not an exception (it can read the service's
memory anyway, but a `sudo bulk-transcribe` attaching to a user's service is a mistake).
"""

from __future__ import annotations

import os
import socket
import struct
import sys
from dataclasses import dataclass

_UCRED = struct.Struct("=iII")          # Linux struct ucred: pid_t pid; uid_t uid; gid_t gid
_XUCRED_HEAD = struct.Struct("@IIh")    # struct xucred: u_int cr_version; uid_t cr_uid; short cr_ngroups
_XUCRED_GROUP = struct.Struct("@I")
_XUCRED_VERSION = 0
_XUCRED_SIZE = 128                      # room for the header, 16 groups and FreeBSD's cr_pid
_SOL_LOCAL = 0                          # macOS/BSD <sys/un.h>: the level of LOCAL_* options


@dataclass(frozen=True)
class PeerCredentials:
    uid: int
    gid: int | None = None
    pid: int | None = None   # None where the kernel does not report it (macOS/BSD)


class PeerCheckUnavailable(RuntimeError):
    """This platform cannot tell who is at the other end of a Unix socket."""


class PeerRefused(PermissionError):
    """The peer is another user: the connection is closed without reading from it."""

    def __init__(self, peer: PeerCredentials, expected_uid: int) -> None:
        pid = f", pid {peer.pid}" if peer.pid is not None else ""
        super().__init__(
            f"refused a connection from uid {peer.uid}{pid}: this bulk-transcribe service belongs "
            f"to uid {expected_uid} and answers only its own user"
        )
        self.peer = peer
        self.expected_uid = expected_uid


def peer_credentials(sock: socket.socket) -> PeerCredentials:
    """The kernel's credentials of the process at the other end of connected Unix socket `sock`."""
    if sys.platform.startswith("linux") and hasattr(socket, "SO_PEERCRED"):
        data = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
        pid, uid, gid = _UCRED.unpack(data)
        return PeerCredentials(uid=uid, gid=gid, pid=pid or None)
    local_peercred = getattr(socket, "LOCAL_PEERCRED", None)
    if local_peercred is not None:  # pragma: no cover - macOS / BSD only
        data = sock.getsockopt(getattr(socket, "SOL_LOCAL", _SOL_LOCAL), local_peercred, _XUCRED_SIZE)
        if len(data) < _XUCRED_HEAD.size:
            raise PeerCheckUnavailable("LOCAL_PEERCRED returned a short struct xucred")
        version, uid, ngroups = _XUCRED_HEAD.unpack_from(data)
        if version != _XUCRED_VERSION:
            raise PeerCheckUnavailable(f"LOCAL_PEERCRED returned struct xucred version {version}")
        gid = None
        offset = _XUCRED_HEAD.size + (-_XUCRED_HEAD.size % _XUCRED_GROUP.size)
        if ngroups > 0 and len(data) >= offset + _XUCRED_GROUP.size:
            (gid,) = _XUCRED_GROUP.unpack_from(data, offset)   # cr_groups[0] is the effective gid
        return PeerCredentials(uid=uid, gid=gid, pid=None)
    raise PeerCheckUnavailable(
        f"bulk-transcribe's service cannot run on {sys.platform}: the kernel gives no way to check "
        "which user connects to its socket (it needs Linux SO_PEERCRED or macOS/BSD LOCAL_PEERCRED). "
        "Run batches in the foreground instead."
    )


def check_peer(peer: PeerCredentials, expected_uid: int | None = None) -> PeerCredentials:
    """`peer` if it is our own user (`expected_uid`, default our effective uid); PeerRefused if not."""
    expected = os.geteuid() if expected_uid is None else expected_uid
    if peer.uid != expected:
        raise PeerRefused(peer, expected)
    return peer


def verify_peer(sock: socket.socket, expected_uid: int | None = None) -> PeerCredentials:
    """`peer_credentials` then `check_peer`: the one call a server or a client makes."""
    return check_peer(peer_credentials(sock), expected_uid)
