"""kill -9 in the middle of a batch, then resume: nothing lost, nothing paid twice.

The command runs as a real subprocess; the simulated deAPI runs here, so its ledger of
billable submits survives the kill and can be compared with the session's."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bulk_transcribe.core.simulator import SimConfig, SimServer

from .engine_harness import KEY, yt


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DEAPI_API_KEY=KEY, BULK_TRANSCRIBE_DATA_DIR=str(tmp_path / "data"),
               BULK_TRANSCRIBE_CONFIG_DIR=str(tmp_path / "config"))
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "bulk_transcribe.tui", *args]


@pytest.mark.slow
def test_kill_9_mid_batch_then_resume(tmp_path):
    urls = [yt(i, "kil") for i in range(30)]
    batch = tmp_path / "batch.txt"
    batch.write_text("\n".join(urls) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    session = tmp_path / "batch-session.toml"
    with SimServer(SimConfig(latency=(0.4, 1.2))) as sim:
        common = ["--api-base", sim.base_url, "--session", str(session), "--output", str(out), "--no-metadata"]
        proc = subprocess.Popen(_cli("run", str(batch), "--concurrency", "8", *common), env=_env(tmp_path),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(list(out.glob("*.txt"))) < 8:
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.05)
        proc.kill()                      # SIGKILL: no cleanup, no final save
        proc.wait()
        proc.stderr.close()
        done_at_kill = len(list(out.glob("*.txt")))
        assert 8 <= done_at_kill < 30, "the kill landed mid-batch"

        resumed = subprocess.run(_cli("resume", str(session), "--headless", *common[:2]), env=_env(tmp_path),
                                 capture_output=True, text=True, timeout=180)
        subs = sim.submissions()
        assert all(n == 1 for n in subs.values()), f"a plain resume pays for nothing twice: {subs}"
        report = next(out.glob("*.report.csv"))
        rows = list(csv.DictReader(report.open(encoding="utf-8-sig")))
        doubtful = [r for r in rows if r["status"] != "done"]
        assert all(r["category"] == "in-doubt" and r["possibly_paid"] == "yes" for r in doubtful), doubtful
        assert resumed.returncode == (1 if doubtful else 0), resumed.stderr
        if doubtful:
            assert "--resubmit-in-doubt" in resumed.stderr, "the summary says how to pay for them again"
            again = subprocess.run(_cli("resume", str(session), "--headless", "--resubmit-in-doubt", *common[:2]),
                                   env=_env(tmp_path), capture_output=True, text=True, timeout=180)
            assert again.returncode == 0, again.stderr
        subs = sim.submissions()

    assert len(list(out.glob("*.txt"))) == 30, "every transcript is present"
    paid_twice = {u for u, n in subs.items() if n > 1}
    assert paid_twice <= {r["url"] for r in doubtful}, "only what the user asked to resubmit is paid twice"
    assert set(subs) >= {r["url"] for r in rows if r["status"] == "done"}
    for p in tmp_path.rglob("*"):
        if p.is_file():
            assert KEY not in p.read_text(encoding="utf-8", errors="replace"), f"API key written to {p}"


@pytest.mark.slow
def test_kill_9_at_random_moments_then_resume_never_pays_twice(tmp_path):
    """Several kills at random moments (mid-submit and mid-checkpoint included), then a plain
    resume: no video is submitted twice, every video ends done or in doubt, and the ones in
    doubt are the only ones the report flags."""
    import random

    rng = random.Random(20261201)
    urls = [yt(i, "rnd") for i in range(24)]
    batch = tmp_path / "batch.txt"
    batch.write_text("\n".join(urls) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    session = tmp_path / "s.toml"
    with SimServer(SimConfig(latency=(0.3, 1.0), submit_answer_delay=0.05)) as sim:
        common = ["--api-base", sim.base_url, "--session", str(session), "--output", str(out), "--no-metadata"]
        for _kill in range(4):
            args = _cli("run", str(batch), "--concurrency", "8", *common)
            proc = subprocess.Popen(args, env=_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.8, 2.5))
            proc.kill()
            proc.wait()
        final = subprocess.run(_cli("resume", str(session), "--headless", *common[:2]), env=_env(tmp_path),
                               capture_output=True, text=True, timeout=240)
        subs = sim.submissions()
    assert all(n == 1 for n in subs.values()), f"no video paid twice: {subs}"
    rows = list(csv.DictReader(next(out.glob("*.report.csv")).open(encoding="utf-8-sig")))
    assert {r["status"] for r in rows} <= {"done", "failed"}
    for r in rows:
        if r["status"] == "failed":
            assert r["category"] == "in-doubt" and r["possibly_paid"] == "yes", r
        else:
            assert r["possibly_paid"] == "no" and subs.get(r["url"]) == 1
    assert final.returncode in (0, 1), final.stderr


# The CLI in a child that SIGKILLs itself inside its Nth checkpoint: before the new TOML is written,
# or after it replaced the old one but before the journal was emptied (the riskiest two moments).
_KILL_IN_CHECKPOINT = """
import os, signal, sys
from bulk_transcribe.core.run import engine
from bulk_transcribe.core.store import session as store
engine.CHECKPOINT_EVERY = 0.2
real, calls, phase, nth = store.atomic_write_bytes, [0], sys.argv[1], int(sys.argv[2])
def writing(*args, **kwargs):
    calls[0] += 1
    if calls[0] == nth and phase == "before-write":
        os.kill(os.getpid(), signal.SIGKILL)
    real(*args, **kwargs)
    if calls[0] == nth and phase == "before-truncate":
        os.kill(os.getpid(), signal.SIGKILL)
store.atomic_write_bytes = writing
from bulk_transcribe.tui.cli import main
sys.argv = ["bulk-transcribe", *sys.argv[3:]]
sys.exit(main())
"""


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["before-write", "before-truncate"])
def test_kill_9_inside_a_checkpoint_then_resume_never_pays_twice(tmp_path, phase):
    urls = [yt(i, "ckp") for i in range(16)]
    batch = tmp_path / "batch.txt"
    batch.write_text("\n".join(urls) + "\n", encoding="utf-8")
    out, session = tmp_path / "out", tmp_path / "s.toml"
    with SimServer(SimConfig(latency=(0.5, 1.5), submit_answer_delay=0.05)) as sim:
        common = ["--api-base", sim.base_url, "--session", str(session), "--output", str(out), "--no-metadata"]
        killed = subprocess.run([sys.executable, "-c", _KILL_IN_CHECKPOINT, phase, "4", "run", str(batch),
                                 "--concurrency", "4", *common], env=_env(tmp_path), capture_output=True,
                                text=True, timeout=180)
        assert killed.returncode == -9, killed.stderr   # it died inside the checkpoint, as meant
        paid_before = sim.jobs_created()
        final = subprocess.run(_cli("resume", str(session), "--headless", *common[:2]), env=_env(tmp_path),
                               capture_output=True, text=True, timeout=240)
        subs = sim.submissions()
    assert 0 < paid_before < len(urls), "the kill landed mid-batch"
    assert all(n == 1 for n in subs.values()), f"no video paid twice: {subs}"
    rows = list(csv.DictReader(next(out.glob("*.report.csv")).open(encoding="utf-8-sig")))
    assert len(rows) == len(urls)
    for r in rows:
        if r["status"] == "failed":
            assert r["category"] == "in-doubt" and r["possibly_paid"] == "yes", r
        else:
            assert r["status"] == "done" and r["possibly_paid"] == "no" and subs.get(r["url"]) == 1, r
    assert final.returncode in (0, 1), final.stderr
