"""Scenario 3, a scarce status budget: the `basic` preset (submit 1/min and 10/day, status
50/min and 200/day; per-endpoint buckets), a batch of the day's 10 submits.

Figures: status calls per video (counted at the server) and the batch's time beside what
the submit limit allows: 9 windows between the 10 submits plus the drawn latency of the last.
The limiter's daily clock is scaled too and starts at 12:00 UTC (12 scaled hours to reset),
so the planner sees the day it would see at noon; the simulator's daily counters are real
(a fresh simulator per run; 10 submits never reach them)."""

from __future__ import annotations

from pathlib import Path

from .common import Scale, SimProcess, drawn_latency, median, run_async, run_ours, sim_config, urls
from .report import Row

NOON_UTC = 1_700_049_600.0   # 2023-11-15 12:00:00 UTC
VIDEOS = 10


def measure(tmp: Path, scale: Scale, seed: int = 0) -> dict:
    cfg = sim_config(scale, seed=seed, submit_rpm=1, submit_per_day=10, status_rpm=50, status_per_day=200,
                     price_rpm=50)
    batch = urls(VIDEOS, f"B{seed}x")
    with SimProcess(**cfg) as sim:
        stats = run_async(run_ours, tmp, sim.base_url, batch, scale, wall0=NOON_UTC, plan="basic",
                          limit_mode="per-endpoint", concurrency=5)
        ledger = sim.ledger()
    last = max(stats.submitted, key=stats.submitted.get)
    allowed = (VIDEOS - 1) * scale.window + drawn_latency(last, cfg)
    took = max(stats.done.values(), default=stats.ended) - stats.started
    return {"status_per_video": ledger["arrivals"]["status"] / VIDEOS, "took": took, "allowed": allowed,
            "count_429": sum(ledger["count_429"].values()), "done": len(stats.done)}


def run(tmp: Path, scale: Scale, *, smoke: bool, cache: dict) -> list[Row]:
    results = [measure(tmp / f"budget{i}", scale, seed=i) for i in range(1 if smoke else 2)]
    calls = [r["status_per_video"] for r in results]
    ratios = [r["took"] / r["allowed"] for r in results]
    mid = sorted(results, key=lambda r: r["took"] / r["allowed"])[len(results) // 2]
    params = "basic preset, 10 videos, concurrency 5"
    note = f"median of {len(results)}; 429s {max(r['count_429'] for r in results)}; done {mid['done']}/10"
    return [
        Row("3 status budget", params, median(calls), "status calls/video", bound=3.0, target="<= 3",
            passed=median(calls) <= 3.0, runs=calls, note=note),
        Row("3 status budget", params + ": batch time (scaled s)", mid["took"] * scale.factor, "s",
            bound=mid["allowed"] * scale.factor, target="ratio <= 1.10", passed=median(ratios) <= 1.10,
            runs=ratios, note="bound = 9 windows + the last video's latency"),
    ]
