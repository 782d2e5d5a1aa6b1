"""Scenario 8, the run screen over SSH: bytes per second the app writes to its terminal.

The real `bulk-transcribe tui BATCH --start` in a real pseudo-terminal of 80x24, against the
simulator (its own process) with deAPI's real job times (20-80 s) and the default 5 videos in
flight: a steady run, the case a user leaves open for hours over SSH. Every byte the app writes
to the pty is what SSH would carry. The figure is the bytes written during a window after the
run screen has settled (the first frames, which paint the whole screen once, are left out),
divided by its length. Target (issue 11): <= 2 KB/s; it was about 8 KB/s.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from .common import KEY, SimProcess, urls
from .report import Row

COLS, ROWS = 80, 24


def measure(tmp: Path, *, settle: float, window: float, n: int = 200, latency=(20.0, 80.0)) -> dict:
    """Bytes the app wrote in `window` seconds, `settle` seconds after its run screen showed."""
    from tests.tui.test_pty import Pty

    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "run").mkdir(mode=0o700, exist_ok=True)
    batch = tmp / "ssh.txt"
    batch.write_text("\n".join(urls(n, "S")) + "\n")
    with SimProcess(latency=list(latency), submit_rpm=300, status_rpm=300, price_rpm=300, balance=1e9) as sim:
        env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR",)}
        env.update(TERM="xterm-256color", HOME=str(tmp), COLUMNS=str(COLS), LINES=str(ROWS), DEAPI_API_KEY=KEY,
                   BULK_TRANSCRIBE_CONFIG_DIR=str(tmp / "config"), BULK_TRANSCRIBE_DATA_DIR=str(tmp / "data"),
                   XDG_CACHE_HOME=str(tmp / "cache"), BULK_TRANSCRIBE_RUNTIME_DIR=str(tmp / "run"),
                   BULK_TRANSCRIBE_NO_SERVICE="1")   # the app's own engine: the bytes are the screen's either way
        app = Pty([sys.executable, "-m", "bulk_transcribe", "tui", str(batch), "--start", "--no-metadata",
                   "--api-base", sim.base_url, "--output", str(tmp / "out")], env, tmp, cols=COLS, rows=ROWS)
        try:
            app.wait_for(b"videos/min", timeout=60)
            app.read(settle)
            started = time.monotonic()
            data = app.read(window)
            elapsed = time.monotonic() - started
        finally:
            app.close()
    escapes = data.count(b"\x1b[")
    return {"bytes": len(data), "seconds": elapsed, "rate": len(data) / elapsed, "escapes": escapes}


def run(tmp: Path, scale, *, smoke: bool, cache: dict) -> list[Row]:
    out = measure(tmp, settle=3.0 if smoke else 10.0, window=10.0 if smoke else 60.0)
    kb = out["rate"] / 1024
    return [Row("8 SSH", "run screen, 80x24, 5 in flight, jobs 20-80 s: bytes written per second", kb, "KB/s",
                target="<= 2 KB/s", passed=kb <= 2.0,
                note=f"{out['bytes']} bytes in {out['seconds']:.0f} s, {out['escapes']} escape sequences; "
                     "the real app in a pty, after the first frames")]
