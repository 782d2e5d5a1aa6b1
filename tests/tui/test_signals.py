"""Signals in a real pseudo-terminal (tmux): `kill -TERM`, a closed terminal (SIGHUP), Ctrl-Z.

The app and the headless run stop as a quit does: the session saved, a line that says so and
how to resume, exit 128 + the signal's number. The app leaves the terminal as it found it
(tmux's own flags say whether the alternate screen, mouse reporting and the cursor are back).
The simulated deAPI runs here, so its ledger outlives every kill: each test resumes the batch
to the end and checks that no video was paid for twice.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bulk_transcribe.core.simulator import SimConfig, SimServer

from .test_tmux import Tmux, command

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

KEY = "k-signals-0123456789"
N = 12


@pytest.fixture
def sim():
    with SimServer(SimConfig(latency=(4.0, 8.0))) as server:
        yield server


@pytest.fixture
def tmux(tmp_path):
    env = {
        "BULK_TRANSCRIBE_CONFIG_DIR": os.environ["BULK_TRANSCRIBE_CONFIG_DIR"],
        "BULK_TRANSCRIBE_DATA_DIR": os.environ["BULK_TRANSCRIBE_DATA_DIR"],
        "DEAPI_API_KEY": KEY,
        "TERM": "xterm-256color",
        "TEXTUAL_COLOR_SYSTEM": "standard",
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        # The batch runs in this process (as the suite's conftest sets it), not in the service:
        # these tests are about what this process does with the signal.
        "BULK_TRANSCRIBE_NO_SERVICE": "1",
    }
    t = Tmux(env)
    yield t
    t.kill()


def batch(tmp_path: Path) -> Path:
    path = tmp_path / "batch.txt"
    path.write_text("".join(f"https://www.youtube.com/watch?v=signal{i:05d}\n" for i in range(N)), encoding="utf-8")
    return path


def flags(tmux: Tmux, target: str = "t") -> tuple[str, str, str]:
    """(alternate screen on, any mouse reporting on, cursor shown) as tmux sees the pane."""
    out = tmux.run("display", "-p", "-t", target, "#{alternate_on} #{mouse_any_flag} #{cursor_flag}").split()
    return out[0], out[1], out[2]


def app_pid(tmux: Tmux, target: str = "t", timeout: float = 20.0) -> int:
    """The pid of the command the pane's shell started (its only child)."""
    shell = int(tmux.run("display", "-p", "-t", target, "#{pane_pid}").strip())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise AssertionError("the pane's shell started nothing")


def wait_gone(pid: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists():
        stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
        if stat.split(") ")[-1].startswith("Z"):
            return   # exited, not yet reaped by its shell
        if time.monotonic() > deadline:
            raise AssertionError(f"process {pid} still runs {timeout:g} s after its terminal closed")
        time.sleep(0.1)


def wait_submits(sim: SimServer, n: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while sum(sim.submissions().values()) < n:
        assert time.monotonic() < deadline, "the batch never got going"
        time.sleep(0.1)


def finish_and_check_ledger(tmp_path: Path, sim: SimServer, session: Path) -> None:
    """Resume the saved session headless to the end: every video done, none paid twice."""
    env = dict(os.environ, DEAPI_API_KEY=KEY)
    sim.set_config(latency=(0.3, 0.8))   # the jobs still to make: the test is about the ledger, not the wait
    done = subprocess.run([sys.executable, "-m", "bulk_transcribe.tui", "resume", str(session), "--headless",
                           "--api-base", sim.base_url], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr
    subs = sim.submissions()
    assert len(subs) == N and all(n == 1 for n in subs.values()), f"a video was paid for twice: {subs}"
    assert len(list((tmp_path / "out").glob("*.txt"))) == N


def run_args(tmp_path: Path, sim: SimServer, session: Path) -> str:
    return (f"--api-base {sim.base_url} --session {session} --output {tmp_path / 'out'} --no-metadata "
            "--plan premium --concurrency 4")


def test_sigterm_restores_the_terminal_and_saves_the_session(tmux, tmp_path, sim):
    session = tmp_path / "s.toml"
    tmux.start(f"cd {tmp_path} && {command()} tui {batch(tmp_path)} --start --mouse {run_args(tmp_path, sim, session)}")
    tmux.wait_for("transcribing")
    assert flags(tmux) == ("1", "1", "0"), "the app is on the alternate screen, mouse on, cursor hidden"
    wait_submits(sim, 4)
    os.kill(app_pid(tmux), 15)
    screen = tmux.wait_for("EXIT=143", timeout=40)
    assert flags(tmux) == ("0", "0", "1"), "alternate screen left, mouse reporting off, cursor shown"
    assert "interrupted by SIGTERM: the session is saved" in screen, screen
    assert "Stopped:" in screen and "Resume with: bulk-transcribe resume" in screen, screen
    assert list((tmp_path / "out").glob("*.report.csv")), "saved as on quit: the report is written"
    finish_and_check_ledger(tmp_path, sim, session)


def test_a_closed_terminal_stops_the_app_and_saves_the_session(tmux, tmp_path, sim):
    """The SSH drop: the pane is killed, so the app gets SIGHUP (and SIGCONT) on a terminal that
    has gone. It must not hang writing to it, and must save as on quit."""
    session = tmp_path / "s.toml"
    tmux.start(f"cd {tmp_path} && {command()} tui {batch(tmp_path)} --start {run_args(tmp_path, sim, session)}")
    tmux.run("new-window", "-d", "-t", "t", "sleep 600")   # keeps the tmux server up
    tmux.wait_for("transcribing")
    wait_submits(sim, 4)
    pid = app_pid(tmux, "t:0")
    tmux.run("kill-window", "-t", "t:0")
    wait_gone(pid)
    assert list((tmp_path / "out").glob("*.report.csv")), "saved as on quit: the report is written"
    finish_and_check_ledger(tmp_path, sim, session)


def test_ctrl_z_suspends_the_app_and_fg_brings_it_back(tmux, tmp_path, sim):
    session = tmp_path / "s.toml"
    tmux.start("bash --norc --noprofile -i")   # job control needs an interactive shell
    deadline = time.monotonic() + 20
    while not tmux.screen().strip():
        assert time.monotonic() < deadline, "no shell prompt"
        time.sleep(0.1)
    tmux.keys(f"cd {tmp_path} && {command()} tui {batch(tmp_path)} --start --mouse "
              f"{run_args(tmp_path, sim, session)}", "Enter")
    tmux.wait_for("transcribing")
    tmux.keys("C-z")
    tmux.wait_for("Stopped")
    assert flags(tmux) == ("0", "0", "1"), "suspended: the shell gets a plain terminal back"
    tmux.keys("fg", "Enter")
    deadline = time.monotonic() + 20
    while flags(tmux) != ("1", "1", "0"):
        assert time.monotonic() < deadline, f"fg did not bring the app back: {tmux.screen()}"
        time.sleep(0.2)
    screen = tmux.wait_for("in flight")
    assert "running" in screen
    tmux.keys("q")
    tmux.wait_for("Quit while work is running?")
    tmux.keys("y")
    tmux.wait_for("Resume with:", timeout=40)
    tmux.keys("echo RC=$?", "Enter")
    tmux.wait_for("RC=1")
    assert flags(tmux) == ("0", "0", "1")
    finish_and_check_ledger(tmp_path, sim, session)


@pytest.mark.parametrize("signum, name, code", [(15, "SIGTERM", 143), (1, "SIGHUP", 129)])
def test_headless_run_says_it_was_interrupted_and_how_to_resume(tmux, tmp_path, sim, signum, name, code):
    session = tmp_path / "s.toml"
    tmux.start(f"cd {tmp_path} && {command()} run {batch(tmp_path)} {run_args(tmp_path, sim, session)}")
    tmux.wait_for("in flight")
    wait_submits(sim, 4)
    os.kill(app_pid(tmux), signum)
    screen = tmux.wait_for(f"EXIT={code}", timeout=40)
    flat = screen.replace("\n", "")   # the pane wraps long lines at 80 columns
    assert f"interrupted by {name}" in flat, screen
    assert "the session is saved; resume with: bulk-transcribe resume" in flat, screen
    finish_and_check_ledger(tmp_path, sim, session)


def test_headless_run_whose_terminal_closes_saves_and_logs_the_interrupted_line(tmux, tmp_path, sim):
    """`run ... 2>log` over SSH, and the connection drops: SIGHUP with stdin and stdout on a
    terminal that has gone. The log says what happened; the session is saved."""
    session = tmp_path / "s.toml"
    log = tmp_path / "run.log"
    tmux.start(f"cd {tmp_path} && {command()} run {batch(tmp_path)} {run_args(tmp_path, sim, session)} 2>{log}")
    tmux.run("new-window", "-d", "-t", "t", "sleep 600")
    wait_submits(sim, 4)
    pid = app_pid(tmux, "t:0")
    tmux.run("kill-window", "-t", "t:0")
    wait_gone(pid)
    text = log.read_text(encoding="utf-8")
    assert "interrupted by SIGHUP" in text and "the session is saved; resume with:" in text, text
    assert "Traceback" not in text, text
    finish_and_check_ledger(tmp_path, sim, session)
