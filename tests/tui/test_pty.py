"""The real command in a real pseudo-terminal, read byte for byte: what the app sends the
terminal (and so, over SSH, the network), which tmux's screen capture cannot show."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest

pytestmark = pytest.mark.slow


class Pty:
    """A child process on a pty of `cols` x `rows`; `read` collects everything it wrote."""

    def __init__(self, args: list[str], env: dict[str, str], cwd, cols: int = 80, rows: int = 24) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                                     start_new_session=True, close_fds=True)
        os.close(slave)
        self.output = bytearray()

    def read(self, seconds: float) -> bytes:
        """Everything written in the next `seconds`."""
        start = len(self.output)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                self.output += chunk
        return bytes(self.output[start:])

    def wait_for(self, text: bytes, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"{text!r} never came; last output: {bytes(self.output[-400:])!r}")
            self.read(0.1)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        os.close(self.master)


def env_for(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DEAPI_API_KEY", "NO_COLOR")}
    env.update(TERM="xterm-256color", HOME=str(tmp_path), COLUMNS="80", LINES="24")
    return env


@pytest.fixture
def run_pty(tmp_path):
    started: list[Pty] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Pty:
        p = Pty([sys.executable, "-m", "bulk_transcribe.tui", *args], env or env_for(tmp_path), tmp_path)
        started.append(p)
        return p

    yield start
    for p in started:
        p.close()


ANY_MOTION = b"\x1b[?1003h"   # the terminal reports every mouse move
MOUSE = b"\x1b[?1000h"


def test_keyboard_only_by_default_and_the_mouse_on_request(run_pty, tmp_path):
    app = run_pty("tui")
    app.wait_for(b"New batch")
    app.read(1.0)
    assert ANY_MOTION not in app.output and MOUSE not in app.output
    app.send(b"\x11")   # ctrl+q
    app.proc.wait(15)

    app = run_pty("tui", "--mouse")
    app.wait_for(b"New batch")
    assert ANY_MOTION in app.output
    app.send(b"\x11")
    app.proc.wait(15)

    (tmp_path / "config").mkdir()
    env = env_for(tmp_path)
    env["BULK_TRANSCRIBE_CONFIG_DIR"] = str(tmp_path / "config")
    (tmp_path / "config" / "config.toml").write_text("mouse = true\n")
    app = run_pty("tui", env=env)
    app.wait_for(b"New batch")
    assert ANY_MOTION in app.output
