"""The headless faces as clients of the service, as a user runs them: real processes, the real
service started on demand, the simulated deAPI in this process (so its ledger survives kills)."""

from __future__ import annotations

import csv
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bulk_transcribe.core.simulator import SimConfig, SimServer
from tests.core.engine_harness import KEY, yt

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path, monkeypatch):
    """The environment of a user's shell, with the service allowed; the service is stopped after."""
    monkeypatch.delenv("BULK_TRANSCRIBE_NO_SERVICE")
    e = dict(os.environ, DEAPI_API_KEY=KEY, BULK_TRANSCRIBE_SERVICE_IDLE="60")
    yield e
    subprocess.run(_cli("service", "--stop"), env=e, capture_output=True, timeout=60)
    pid = _service_pid(e)
    if pid:
        os.kill(pid, signal.SIGKILL)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "bulk_transcribe.tui", *args]


def _service_pid(env) -> int | None:
    out = subprocess.run(_cli("service", "--status"), env=env, capture_output=True, text=True, timeout=30).stdout
    if "pid" not in out:
        return None
    return int(out.split("pid ")[1].split(",")[0])


def _batch(tmp_path: Path, n: int, prefix: str) -> tuple[Path, list[str]]:
    urls = [yt(i, prefix) for i in range(n)]
    path = tmp_path / f"{prefix}.txt"
    path.write_text("\n".join(urls) + "\n", encoding="utf-8")
    return path, urls


def _wait(predicate, timeout: float = 90.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_run_in_the_foreground_runs_in_the_service_with_the_same_output_and_exit_code(tmp_path, env):
    batch, urls = _batch(tmp_path, 5, "fg")
    out = tmp_path / "out"
    with SimServer(SimConfig(latency=(0.2, 0.6))) as sim:
        run = subprocess.run(_cli("run", str(batch), "--api-base", sim.base_url, "--output", str(out),
                                  "--no-metadata", "--plan", "premium"),
                             env=env, capture_output=True, text=True, timeout=120)
        paid = sim.submissions()
    assert run.returncode == 0, run.stderr
    assert "Finished: 5 done, 0 failed, 0 not finished (of 5)" in run.stderr
    assert len(list(out.glob("*.txt"))) == 5
    assert sorted(paid) == sorted(urls) and set(paid.values()) == {1}
    pid = _service_pid(env)
    assert pid and pid != os.getpid(), "the batch ran in the service, which is still there"
    environ = Path(f"/proc/{pid}/environ").read_bytes()
    assert KEY.encode() not in environ, "the key reached the service over the socket, not in its environment"
    runtime = Path(env["BULK_TRANSCRIBE_RUNTIME_DIR"])
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o700
    sock = runtime / "service.sock"
    assert stat.S_ISSOCK(sock.lstat().st_mode) and stat.S_IMODE(sock.lstat().st_mode) == 0o600
    listing = subprocess.run(_cli("ls"), env=env, capture_output=True, text=True, timeout=30).stdout
    assert "fg-" in listing and "finished" in listing and "5/5" in listing
    for p in [*tmp_path.rglob("*"), *runtime.rglob("*")]:
        if p.is_file():
            assert KEY not in p.read_text(encoding="utf-8", errors="replace"), f"API key written to {p}"


def test_detach_returns_at_once_and_the_batch_outlives_its_terminal(tmp_path, env):
    """`run --detach` hands the batch over and returns; a foreground face killed outright
    (its terminal gone) leaves its batch running too; `attach` follows either to its end."""
    batch, urls = _batch(tmp_path, 12, "dt")
    other, other_urls = _batch(tmp_path, 6, "hup")
    out = tmp_path / "out"
    with SimServer(SimConfig(latency=(0.5, 1.5))) as sim:
        common = ["--api-base", sim.base_url, "--output", str(out), "--no-metadata", "--plan", "premium", "-c", "3"]
        started = subprocess.run(_cli("run", str(batch), "--detach", *common), env=env, capture_output=True,
                                 text=True, timeout=60)
        assert started.returncode == 0, started.stderr
        name = started.stderr.split("started ")[1].split()[0]
        assert f"bulk-transcribe attach {name}" in started.stderr
        twice = subprocess.run(_cli("run", str(batch), "--detach", *common), env=env, capture_output=True,
                               text=True, timeout=60)
        assert twice.returncode == 2 and "already running in the service" in twice.stderr, twice.stderr
        face = subprocess.Popen(_cli("run", str(other), *common), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        _wait(lambda: any(out.glob("hup*.txt")), what="the second batch's first transcript")
        os.killpg(face.pid, signal.SIGKILL)   # the terminal and everything in it gone at once
        face.wait()
        attached = subprocess.run(_cli("attach", name), env=env, capture_output=True, text=True, timeout=120)
        hup_name = [line.split()[0] for line in subprocess.run(_cli("ls"), env=env, capture_output=True, text=True,
                                                               timeout=30).stdout.splitlines() if line.startswith("hup-")][0]
        second = subprocess.run(_cli("attach", hup_name), env=env, capture_output=True, text=True, timeout=120)
        paid = sim.submissions()
    assert attached.returncode == 0, attached.stderr
    assert "Finished: 12 done" in attached.stderr
    assert second.returncode == 0 and "Finished: 6 done" in second.stderr, second.stderr
    assert len(list(out.glob("*.txt"))) == 18
    assert sorted(paid) == sorted(urls + other_urls) and set(paid.values()) == {1}, "nothing paid twice"


def test_ctrl_c_stops_a_foreground_run_and_saves_it(tmp_path, env):
    batch, _ = _batch(tmp_path, 30, "cc")
    out = tmp_path / "out"
    with SimServer(SimConfig(latency=(1.0, 2.0))) as sim:
        proc = subprocess.Popen(_cli("run", str(batch), "--api-base", sim.base_url, "--output", str(out),
                                     "--no-metadata", "--plan", "premium", "-c", "3"),
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        _wait(lambda: any(out.glob("*.txt")), what="a first transcript")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        listing = subprocess.run(_cli("ls"), env=env, capture_output=True, text=True, timeout=30).stdout
        paid = sim.submissions()
    assert proc.returncode == 130, err
    assert "interrupted: saving the session" in err
    assert "not finished" in err, "the summary of the batch cut short"
    assert "Resume with:" in err
    assert " quit " in listing, listing
    assert set(paid.values()) == {1} and len(paid) < 30


def test_kill_9_of_the_service_then_the_same_run_resumes_and_pays_nothing_twice(tmp_path, env):
    batch, urls = _batch(tmp_path, 30, "k9")
    out = tmp_path / "out"
    with SimServer(SimConfig(latency=(0.4, 1.2))) as sim:
        common = ["--api-base", sim.base_url, "--output", str(out), "--no-metadata", "--plan", "premium"]
        started = subprocess.run(_cli("run", str(batch), "--detach", "-c", "8", *common), env=env,
                                 capture_output=True, text=True, timeout=60)
        assert started.returncode == 0, started.stderr
        _wait(lambda: len(list(out.glob("*.txt"))) >= 8, what="8 transcripts")
        pid = _service_pid(env)
        os.kill(pid, signal.SIGKILL)             # no cleanup, no final save
        _wait(lambda: not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
              or " Z " in Path(f"/proc/{pid}/stat").read_text(), what="the service to die")
        done_at_kill = len(list(out.glob("*.txt")))
        assert done_at_kill < 30, "the kill landed mid-batch"
        again = subprocess.run(_cli("run", str(batch), *common), env=env, capture_output=True, text=True,
                               timeout=180)
        assert _service_pid(env) not in (None, pid), "a new service was started on demand"
        subs = sim.submissions()
    report = next(out.glob("*.report.csv"))
    rows = list(csv.DictReader(report.open(encoding="utf-8-sig")))
    doubtful = [r for r in rows if r["status"] != "done"]
    assert all(r["category"] == "in-doubt" for r in doubtful), doubtful
    assert again.returncode == (1 if doubtful else 0), again.stderr
    assert "resuming" in again.stderr
    assert all(n == 1 for n in subs.values()), f"a resume pays for nothing twice: {subs}"
    assert set(subs) <= set(urls)
    assert len(list(out.glob("*.txt"))) == 30 - len(doubtful)


def test_stop_lets_the_paid_jobs_finish_logs_tells_the_story_and_the_service_can_be_stopped(tmp_path, env):
    batch, _ = _batch(tmp_path, 30, "st")
    out = tmp_path / "out"
    with SimServer(SimConfig(latency=(1.0, 2.0))) as sim:
        started = subprocess.run(_cli("run", str(batch), "--detach", "--api-base", sim.base_url, "--output", str(out),
                                      "--no-metadata", "--plan", "premium", "-c", "2"),
                                 env=env, capture_output=True, text=True, timeout=60)
        name = started.stderr.split("started ")[1].split()[0]
        _wait(lambda: any(out.glob("*.txt")), what="a first transcript")
        stopped = subprocess.run(_cli("stop", name), env=env, capture_output=True, text=True, timeout=30)
        followed = subprocess.run(_cli("logs", name, "--follow"), env=env, capture_output=True, text=True, timeout=60)
        story = subprocess.run(_cli("logs", name), env=env, capture_output=True, text=True, timeout=30)
        as_json = subprocess.run(_cli("logs", name, "--json"), env=env, capture_output=True, text=True, timeout=30)
        unknown = subprocess.run(_cli("stop", "no-such"), env=env, capture_output=True, text=True, timeout=30)
        paid = sim.submissions()
    assert stopped.returncode == 0 and "no new submits" in stopped.stderr
    assert "Stopped:" in followed.stderr and followed.returncode == 1, followed.stderr
    assert "starting" in story.stderr and "stopping: no new submits" in story.stderr
    assert '"BatchFinished"' in as_json.stdout, "--json: the same events as JSON lines"
    assert unknown.returncode == 2 and "no batch 'no-such'" in unknown.stderr
    assert len(paid) < 30 and set(paid.values()) == {1}
    done = len(list(out.glob("*.txt")))
    assert done == len(paid), "every job paid for before the stop was followed to its transcript"
    down = subprocess.run(_cli("service", "--stop"), env=env, capture_output=True, text=True, timeout=60)
    assert down.returncode == 0
    _wait(lambda: _service_pid(env) is None, timeout=30, what="the service to leave")


def test_an_unsafe_service_folder_is_refused_saying_what_to_do(tmp_path, env):
    folder = Path(env["BULK_TRANSCRIBE_RUNTIME_DIR"])
    folder.chmod(0o755)
    try:
        listing = subprocess.run(_cli("ls"), env=env, capture_output=True, text=True, timeout=30)
        batch, _ = _batch(tmp_path, 1, "un")
        run = subprocess.run(_cli("run", str(batch), "--no-metadata"), env=env, capture_output=True, text=True,
                             timeout=30)
    finally:
        folder.chmod(0o700)
    for done in (listing, run):
        assert done.returncode == 2 and f"chmod 700 {folder}" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
