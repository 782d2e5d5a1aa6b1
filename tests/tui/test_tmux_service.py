"""The app as a client of the service, in a real pseudo-terminal (tmux): a batch started in the
app keeps submitting after its terminal is killed, and a new app in a new terminal attaches to
it and shows it finishing, with nothing paid twice. The simulated deAPI runs in this process so
its ledger outlives every terminal."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import time

import pytest

from bulk_transcribe.core.simulator import SimConfig, SimServer
from tests.core.engine_harness import KEY, yt

from .test_tmux import Tmux, command

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


@pytest.fixture
def service_env(tmp_path, monkeypatch):
    monkeypatch.delenv("BULK_TRANSCRIBE_NO_SERVICE")
    env = {
        "BULK_TRANSCRIBE_CONFIG_DIR": os.environ["BULK_TRANSCRIBE_CONFIG_DIR"],
        "BULK_TRANSCRIBE_DATA_DIR": os.environ["BULK_TRANSCRIBE_DATA_DIR"],
        "BULK_TRANSCRIBE_RUNTIME_DIR": os.environ["BULK_TRANSCRIBE_RUNTIME_DIR"],
        "BULK_TRANSCRIBE_NO_SERVICE": "0",
        "BULK_TRANSCRIBE_SERVICE_IDLE": "60",
        "DEAPI_API_KEY": KEY,
        "TERM": "xterm-256color",
        "TEXTUAL_COLOR_SYSTEM": "standard",
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
    }
    yield env
    subprocess.run([sys.executable, "-m", "bulk_transcribe.tui", "service", "--stop"], env={**os.environ, **env},
                   capture_output=True, timeout=60)


def _until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _start_running(tmux, tmp_path, batch, base_url: str, out, *, concurrency: int) -> None:
    """The app started on `batch` in `tmux`, once it is transcribing and 3 transcripts are written."""
    tmux.start(f"cd {tmp_path} && {command()} tui {batch} --start --no-metadata --plan premium -c {concurrency} "
               f"--api-base {base_url} --output {out}")
    tmux.wait_for("transcribing", timeout=60)
    _until(lambda: len(list(out.glob("*.txt"))) >= 3, 60, "3 transcripts")


def test_a_batch_started_in_the_app_outlives_its_terminal_and_a_new_app_shows_it_finish(tmp_path, service_env):
    urls = [yt(i, "tmx") for i in range(24)]
    batch = tmp_path / "talks.txt"
    batch.write_text("\n".join(urls) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    with SimServer(SimConfig(latency=(0.8, 1.6))) as sim:
        first = Tmux(service_env)
        second = Tmux(service_env)
        try:
            _start_running(first, tmp_path, batch, sim.base_url, out, concurrency=2)
            first.kill()                 # the terminal is gone: tmux's server and the app's pty with it
            at_kill = sim.jobs_created()
            assert at_kill < len(urls), "the terminal was killed mid-batch"
            _until(lambda: sim.jobs_created() >= at_kill + 3, 60, "submits after the terminal died")

            second.start(f"cd {tmp_path} && {command()}")
            second.wait_for("Unfinished sessions", timeout=30)
            second.wait_for("/24", timeout=30)   # the batch, with its count of videos
            second.keys("Enter")         # the first (newest) session: the one the service runs
            screen = second.wait_for("Finished:", timeout=120)
            assert "done 24" in screen, screen
            second.keys("q")
            second.wait_for("EXIT=0", timeout=30)
        finally:
            first.kill()
            second.kill()
        paid = sim.submissions()
    assert sorted(paid) == sorted(urls) and set(paid.values()) == {1}, f"nothing paid twice: {paid}"
    assert len(list(out.glob("*.txt"))) == 24


def test_quitting_the_app_asks_detach_or_stop(tmp_path, service_env):
    """q while the service runs the batch: d detaches (it keeps running; reopening the same batch
    attaches to it instead of starting it again), s stops it there (saved, resumable)."""
    urls = [yt(i, "qds") for i in range(30)]
    batch = tmp_path / "quit.txt"
    batch.write_text("\n".join(urls) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    ls = [sys.executable, "-m", "bulk_transcribe.tui", "ls"]
    with SimServer(SimConfig(latency=(1.0, 2.0))) as sim:
        app = f"cd {tmp_path} && {command()} tui {batch} --start --no-metadata --plan premium -c 2 " \
              f"--api-base {sim.base_url} --output {out}"
        t = Tmux(service_env)
        try:
            t.start(app)
            t.wait_for("transcribing", timeout=60)
            t.keys("q")
            t.wait_for("Leave the app?", timeout=20)
            t.keys("d")
            screen = t.wait_for("EXIT=0", timeout=30)
            assert "detached:" in screen and "keeps running" in screen, screen
            t.kill()
            listing = subprocess.run(ls, env={**os.environ, **service_env}, capture_output=True, text=True,
                                     timeout=30).stdout
            assert "running" in listing, listing

            t.start(app)                     # the same batch again: shown, not started twice
            t.wait_for("transcribing", timeout=60)
            t.keys("q")
            t.wait_for("Leave the app?", timeout=20)
            t.keys("s")
            screen = t.wait_for("EXIT=1", timeout=60)   # unfinished: stopped, saved
            assert "Resume with:" in screen, screen
        finally:
            t.kill()
        listing = subprocess.run(ls, env={**os.environ, **service_env}, capture_output=True, text=True,
                                 timeout=30).stdout
        paid = sim.submissions()
    assert " quit " in listing, listing
    assert set(paid.values()) == {1} and len(paid) < 30, "nothing paid twice, and the stop stopped it"


def test_the_service_killed_under_the_app_then_the_reopened_app_resumes_and_pays_nothing_twice(tmp_path, service_env):
    urls = [yt(i, "svk") for i in range(20)]
    batch = tmp_path / "crash.txt"
    batch.write_text("\n".join(urls) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    status = [sys.executable, "-m", "bulk_transcribe.tui", "service", "--status"]
    env = {**os.environ, **service_env}
    with SimServer(SimConfig(latency=(0.8, 1.6))) as sim:
        t = Tmux(service_env)
        try:
            _start_running(t, tmp_path, batch, sim.base_url, out, concurrency=3)
            said = subprocess.run(status, env=env, capture_output=True, text=True, timeout=30).stdout
            pid = int(said.split("pid ")[1].split(",")[0])
            os.kill(pid, 9)
            t.wait_for("lost the bulk-transcribe service", timeout=30)
            t.keys("q")
            t.wait_for("EXIT=", timeout=30)
            t.kill()
            assert len(list(out.glob("*.txt"))) < 20, "the kill landed mid-batch"

            t.start(f"cd {tmp_path} && {command()} tui --api-base {sim.base_url}")   # the host it ran against
            t.wait_for("Unfinished sessions", timeout=30)
            t.wait_for("/20", timeout=30)
            t.keys("Enter")
            screen = t.wait_for("Finished:", timeout=120)
        finally:
            t.kill()
        paid = sim.submissions()
    assert set(paid.values()) == {1}, f"nothing paid twice: {paid}"
    rows = list(csv.DictReader(next(out.glob("*.report.csv")).open(encoding="utf-8-sig")))
    not_done = [r for r in rows if r["status"] != "done"]
    assert all(r["category"] == "in-doubt" for r in not_done), not_done   # a submit the kill cut off
    assert len(list(out.glob("*.txt"))) == 20 - len(not_done) and "Finished:" in screen
