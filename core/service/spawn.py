"""Starting the service on demand: a face never asks the user to start it.

`ensure_service()` pings this user's service and, when none answers, starts
``python -m bulk_transcribe.core.service`` detached from the terminal (its own session, so a
closed terminal's SIGHUP never reaches it; stdin from /dev/null; stdout and stderr to
``service.log`` in the private folder, mode 0600), then waits until it answers. Two faces
starting at once are safe: the service lock lets one service win, the other exits at once,
and both faces reach the winner.

The service gets the face's environment without ``DEAPI_API_KEY``: the key travels over the
socket with each batch, so it is in no process's environment but the face's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from .client import ServiceDisconnected, ServiceNotRunning, call
from .paths import service_paths

LOG_NAME = "service.log"
START_TIMEOUT = 20.0
ENV_NO_SERVICE = "BULK_TRANSCRIBE_NO_SERVICE"


class ServiceStartFailed(RuntimeError):
    """The service could not be started; the message quotes the end of its log."""


def service_disabled() -> bool:
    """True when the faces should run batches in their own process (``BULK_TRANSCRIBE_NO_SERVICE=1``)."""
    return os.environ.get(ENV_NO_SERVICE, "") not in ("", "0")


def ping() -> dict | None:
    """The service's ping answer, or None when no service answers."""
    try:
        return call("ping", timeout=5.0)
    except (ServiceNotRunning, ServiceDisconnected, FileNotFoundError, TimeoutError, ConnectionError):
        return None


def ensure_service(timeout: float = START_TIMEOUT) -> dict:
    """This user's service's ping answer, starting the service first if none runs.
    ServiceStartFailed if it does not answer within `timeout`; RuntimeDirError for an unsafe folder."""
    answer = ping()
    if answer is not None:
        return answer
    paths = service_paths()   # creates the private folder
    log_path = paths.dir / LOG_NAME
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    env = {k: v for k, v in os.environ.items() if k != "DEAPI_API_KEY"}
    try:
        proc = subprocess.Popen([sys.executable, "-m", f"{__package__}"], stdin=subprocess.DEVNULL,
                                stdout=fd, stderr=fd, env=env, cwd="/", start_new_session=True,
                                close_fds=True)
    finally:
        os.close(fd)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = ping()
        if answer is not None:
            return answer
        if proc.poll() not in (None, 0):
            break
        time.sleep(0.05)
    raise ServiceStartFailed(f"the bulk-transcribe service did not start: {_tail(log_path)} "
                             f"(its log: {log_path}; set {ENV_NO_SERVICE}=1 to run batches in the foreground)")


def _tail(path: Path, size: int = 400) -> str:
    try:
        data = path.read_bytes()[-size:]
    except OSError:
        return "no log"
    return data.decode("utf-8", "replace").strip().replace("\n", " | ") or "nothing in its log"
