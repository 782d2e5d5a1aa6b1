"""Where the service's socket and lock live: one private folder per user, checked every time.

The folder, in order of preference:
1. ``$BULK_TRANSCRIBE_RUNTIME_DIR`` itself, when set (tests, unusual setups);
2. ``$XDG_RUNTIME_DIR/bulk-transcribe`` when ``$XDG_RUNTIME_DIR`` is a folder of ours with
   mode 0700 (systemd's ``/run/user/<uid>``);
3. ``${TMPDIR:-/tmp}/bulk-transcribe-<uid>``.

Whichever it is, it is created 0700 if missing, and refused (`RuntimeDirError`, saying what to
do) if it is a symbolic link, not a folder, not ours, or open to the group or others. In a
world-writable /tmp anyone can create that name first; refusing turns that into a clear error
instead of a socket (and an API key) in someone else's folder.

Inside: ``service.sock`` (the Unix socket, 0600) and ``service.lock``, the sidecar that the one
service of the user holds with ``flock`` (core/store/lockfile.py: never deleted, holder's pid inside).
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

ENV_RUNTIME_DIR = "BULK_TRANSCRIBE_RUNTIME_DIR"
SOCKET_NAME = "service.sock"
LOCK_NAME = "service.lock"
# sun_path is 108 bytes on Linux, 104 on macOS and the BSDs, the terminating NUL included.
MAX_SOCKET_PATH = 107 if sys.platform.startswith("linux") else 103


class RuntimeDirError(Exception):
    """The service's folder is missing, unsafe or unusable; the message says what to do."""


@dataclass(frozen=True)
class ServicePaths:
    dir: Path      # the private folder (0700, ours)
    socket: Path   # the Unix socket the service listens on
    lock: Path     # the service's lock file (flock), never deleted

    @classmethod
    def in_dir(cls, folder: Path | str) -> "ServicePaths":
        folder = Path(folder)
        return cls(folder, folder / SOCKET_NAME, folder / LOCK_NAME)


def _uid() -> int:
    return os.geteuid()


ADVICE = f"or set {ENV_RUNTIME_DIR} to a private folder of yours, mode 0700"


def _xdg_base() -> Path | None:
    """$XDG_RUNTIME_DIR if it is trustworthy: a folder owned by us with mode 0700."""
    value = os.environ.get("XDG_RUNTIME_DIR")
    if not value or not os.path.isabs(value):
        return None
    try:
        st = os.stat(value)
    except OSError:
        return None
    if stat.S_ISDIR(st.st_mode) and st.st_uid == _uid() and stat.S_IMODE(st.st_mode) == 0o700:
        return Path(value)
    return None


def runtime_dir_candidate() -> Path:
    """The folder the rules above pick, without creating or checking it."""
    override = os.environ.get(ENV_RUNTIME_DIR)
    if override:
        return Path(override).absolute()
    xdg = _xdg_base()
    if xdg is not None:
        return xdg / "bulk-transcribe"
    tmp = os.environ.get("TMPDIR") or "/tmp"
    return Path(tmp).absolute() / f"bulk-transcribe-{_uid()}"


def check_private_dir(path: Path) -> None:
    """RuntimeDirError unless `path` is a real folder (not a link), ours, with no group/other
    access and full access for us. Checked on an O_NOFOLLOW descriptor, so a link swapped in
    cannot pass for the folder. FileNotFoundError if it does not exist."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            if path.is_symlink():
                raise RuntimeDirError(
                    f"{path} is a symbolic link; the service's folder must be a real folder. "
                    f"Remove the link ({ADVICE})."
                ) from None
            raise RuntimeDirError(
                f"{path} exists and is not a folder. Move it away ({ADVICE})."
            ) from None
        if exc.errno == errno.EACCES:
            raise RuntimeDirError(
                f"{path} cannot be opened (permission denied): it is not a folder of yours. "
                f"Remove it as its owner or root ({ADVICE})."
            ) from None
        raise RuntimeDirError(f"cannot open {path}: {exc.strerror} ({ADVICE})") from None
    try:
        st = os.fstat(fd)
    finally:
        os.close(fd)
    if not stat.S_ISDIR(st.st_mode):
        raise RuntimeDirError(f"{path} exists and is not a folder. Move it away ({ADVICE}).")
    if st.st_uid != _uid():
        raise RuntimeDirError(
            f"{path} belongs to uid {st.st_uid}, not to you (uid {_uid()}): another user may be "
            "trying to receive what is meant for your service. Remove it as its owner or root "
            f"({ADVICE})."
        )
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077 or mode & 0o700 != 0o700:
        raise RuntimeDirError(
            f"{path} has mode {mode:04o}; the service's folder must be private (0700). "
            f"Run `chmod 700 {path}` ({ADVICE})."
        )


def ensure_private_dir(path: Path) -> Path:
    """Create `path` with mode 0700 if missing (its parent must exist), then check it."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except FileNotFoundError:
        raise RuntimeDirError(f"cannot create {path}: its parent folder does not exist ({ADVICE})") from None
    except OSError as exc:
        raise RuntimeDirError(f"cannot create {path}: {exc.strerror} ({ADVICE})") from None
    check_private_dir(path)
    return path


def service_paths(*, create: bool = True) -> ServicePaths:
    """The checked paths of this user's service. `create=False` (clients) does not create the
    folder and raises FileNotFoundError when it is missing: then no service is running."""
    folder = runtime_dir_candidate()
    if create:
        ensure_private_dir(folder)
    else:
        check_private_dir(folder)
    paths = ServicePaths.in_dir(folder)
    if len(os.fsencode(paths.socket)) > MAX_SOCKET_PATH:
        raise RuntimeDirError(
            f"the socket path {paths.socket} is longer than the {MAX_SOCKET_PATH} bytes a Unix "
            f"socket allows: set {ENV_RUNTIME_DIR} to a shorter private folder"
        )
    return paths
