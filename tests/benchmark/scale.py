"""Scenario 5, scale: a 10,000-video batch (5b: 100,000, `--only scale100k`) through the headless command (`bulk-transcribe
run`, via `probe.py` for the loop-lag probe) in a child process, the simulator in another.

The first run is interrupted (SIGINT, the user's Ctrl-C) once about half the batch is done;
`bulk-transcribe resume SESSION --headless` then finishes it. Figures: peak RSS of each child
(os.wait4, so neither the simulator nor the benchmark is counted), loop lag p99 over both,
time from the resume process's start to its first submit or status request arriving at the
simulator, the session folder's size at the end, and (5b) throughput of the last quarter of
the videos against the first (videos/min between completions, from the session's own
``finished_at``). Real time: nothing is scaled here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bulk_transcribe.core.store.session import Session

from .common import REPO, SimProcess, env_isolated, urls
from .report import Row

LIMIT = 100_000
OPTS = ["--no-metadata", "--concurrency", "50", "--limit-mode", "per-endpoint", "--rpm", str(LIMIT),
        "--status-rpm", str(LIMIT)]


def _child(args: list[str], env: dict[str, str], lag: Path) -> subprocess.Popen:
    with open(lag.with_suffix(".log"), "w") as log:
        return subprocess.Popen([sys.executable, "-m", "tests.benchmark.probe", *args], cwd=REPO,
                                env={**env, "BENCH_LAG_OUT": str(lag)}, stdout=subprocess.DEVNULL, stderr=log)


def _reap(proc: subprocess.Popen) -> tuple[int, float] | None:
    """(exit status, peak RSS in MB) if the child has ended, else None. Uses os.wait4, never
    Popen.poll/wait (they would reap it and lose its resource usage)."""
    pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
    if not pid:
        return None
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024


def _wait(proc: subprocess.Popen, timeout: float) -> tuple[int, float]:
    """Wait for `_reap`, killing the child after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while (got := _reap(proc)) is None:
        if time.monotonic() > deadline:
            proc.kill()
        time.sleep(0.05)
    return got


def _p99(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(0.99 * len(xs)))] if xs else float("nan")


def _du(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def _rates(ends: list[float]) -> tuple[float, float]:
    """Videos/min over the first and the last quarter of sorted completion times (nan when too few)."""
    q = len(ends) // 4
    if q < 2:
        return float("nan"), float("nan")

    def rate(a: float, b: float) -> float:
        return q / max(b - a, 1e-9) * 60

    return rate(ends[0], ends[q]), rate(ends[-q - 1], ends[-1])


def _quarters(session: Path, split: float = 0.0) -> tuple[float, float, tuple[float, float], tuple[float, float]]:
    """The first and the last quarter of all completions (videos/min), then the same within each
    process: completions before `split` (the resume's start, wall clock) and after it."""
    s = Session.open(session)
    try:
        ends = sorted(v.finished_at for v in s.videos if v.finished_at)
    finally:
        s.close()
    return (*_rates(ends), _rates([e for e in ends if e < split]), _rates([e for e in ends if e >= split]))


def run(tmp: Path, scale, *, smoke: bool, cache: dict) -> list[Row]:
    return _run(tmp, 500 if smoke else 10_000, "5 scale", 150)[0]


def run_100k(tmp: Path, scale, *, smoke: bool, cache: dict) -> list[Row]:
    """Scenario 5b: the same at 100,000 videos (600 in smoke mode), with the throughput figure."""
    rows, resumed_at = _run(tmp, 600 if smoke else 100_000, "5b scale 100k", 200)
    first, last, (run1, run4), (res1, res4) = _quarters(tmp / "session" / "big.toml", resumed_at)
    ratio = last / first
    # The row compares the first run's first quarter with the resume's last: two processes, under
    # whatever load each met. The note adds each process's own last quarter vs its first.
    rows.append(Row("5b scale 100k", rows[0].parameters.split(": ")[0] + ": throughput, last quarter vs first", ratio,
                    "x", target="0.95-1.05", passed=0.95 <= ratio <= 1.05,
                    note=f"first quarter {first:,.0f} videos/min, last {last:,.0f} videos/min; within each process, "
                         f"last quarter / first: run {run4 / run1:.2f}, resume {res4 / res1:.2f}"))
    return rows


def _run(tmp: Path, n: int, name: str, rss_target: float) -> tuple[list[Row], float]:
    """The rows, and the wall clock when the resume started."""
    tmp.mkdir(parents=True, exist_ok=True)
    batch = tmp / "big.txt"
    batch.write_text("\n".join(urls(n, "S")) + "\n")
    sdir = tmp / "session"
    session = sdir / "big.toml"
    env = env_isolated(tmp)
    with SimProcess(latency=[0.2, 0.8], submit_rpm=LIMIT, status_rpm=LIMIT, price_rpm=LIMIT, balance=1e9) as sim:
        common = [*OPTS, "--api-base", sim.base_url, "--output", str(tmp / "out")]
        first = _child(["run", str(batch), "--session", str(session), *common], env, tmp / "lag1.json")
        ended = None
        while ended is None and sim.ledger()["accepted"]["submit"] < n // 2:
            time.sleep(0.5)
            ended = _reap(first)
        if ended is None:
            first.send_signal(signal.SIGINT)
        code1, rss1 = ended or _wait(first, 120)
        before = time.monotonic()
        resumed_at = time.time()
        second = _child(["resume", str(session), "--headless", *common], env, tmp / "lag2.json")
        code2, rss2 = _wait(second, 1800 * max(1, n // 20_000))
        ledger = sim.ledger(before)
    lag = [x for f in ("lag1.json", "lag2.json") if (tmp / f).exists() for x in json.loads((tmp / f).read_text())]
    first_work = (ledger["first_work"] - before) if ledger["first_work"] else float("nan")
    size = _du(sdir)
    log = (tmp / "lag2.log").read_text(errors="replace") if (tmp / "lag2.log").exists() else ""
    summary = next((line for line in log.splitlines() if line.startswith("Finished:")), "no summary")
    params = f"{n:,} videos, N=50, latency 0.2-0.8 s, limits {LIMIT:,}/min"
    return [
        Row(name, params + ": peak RSS headless", max(rss1, rss2), "MB", target=f"<= {rss_target:.0f} MB",
            passed=max(rss1, rss2) <= rss_target,
            note=f"run {rss1:.0f} MB (exit {code1}), resume {rss2:.0f} MB (exit {code2}); {summary}"),
        Row(name, params + ": loop lag p99", _p99(lag) * 1000, "ms", target="<= 20 ms",
            passed=_p99(lag) * 1000 <= 20, note=f"{len(lag)} samples of a 10 ms sleep; max {max(lag, default=0) * 1000:.0f} ms"),
        Row(name, params + ": resume to first request", first_work, "s", target="<= 2 s",
            passed=first_work <= 2.0, note="process start to the first submit/status at the simulator"),
        Row(name, params + ": session folder", size, "MB", note="session head, pages and journal at the end"),
    ], resumed_at
