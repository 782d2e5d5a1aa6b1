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
        assert resumed.returncode == 0, resumed.stderr
        subs = sim.submissions()

    assert len(list(out.glob("*.txt"))) == 30, "every transcript is present"
    paid_twice = [u for u, n in subs.items() if n > 1]
    assert len(paid_twice) <= 1, f"only a submit on the wire at the kill may be repeated: {paid_twice}"
    assert set(subs) == set(urls)
    report = next(out.glob("*.report.csv"))
    rows = list(csv.DictReader(report.open(encoding="utf-8-sig")))
    assert {r["status"] for r in rows} == {"done"}
    for url in paid_twice:
        row = next(r for r in rows if r["url"] == url)
        assert row["possibly_paid"].lower() in ("true", "yes", "1"), "the repeat is owned up to in the report"
    for p in tmp_path.rglob("*"):
        if p.is_file():
            assert KEY not in p.read_text(encoding="utf-8", errors="replace"), f"API key written to {p}"
