"""Scenario 4, ours beside the naive design (`naive.py`), same simulator limits (premium:
300 per scaled minute per endpoint), same latencies, same run. Each side at its best allowed
concurrency: the naive pool at its maximum of 10 threads, ours at 50. Both rates use the same
steady-state measure as scenario 1 (N / mean slot time after the first wave)."""

from __future__ import annotations

from pathlib import Path

from .common import KEY, Scale, SimProcess, run_async, run_ours, sim_config, slot_rate, steady_state, urls
from .naive import run_naive
from .report import Row

RPM = 300


def _ours(tmp: Path, scale: Scale, waves: int) -> float:
    cfg = sim_config(scale, seed=7, submit_rpm=RPM, status_rpm=RPM)
    with SimProcess(**cfg) as sim:
        stats = run_async(run_ours, tmp, sim.base_url, urls(50 * (waves + 2), "Vo"), scale, concurrency=50,
                          limit_mode="per-endpoint", rpm=RPM, status_rpm=RPM)
    return slot_rate(stats, steady_state(stats, 50), 50, scale)


def _naive(scale: Scale, waves: int) -> float:
    cfg = sim_config(scale, seed=7, submit_rpm=RPM, status_rpm=RPM)
    with SimProcess(**cfg) as sim:
        stats = run_naive(sim.base_url, KEY, urls(10 * (waves + 2), "Vn"), scale, threads=10, rpm=RPM)
    return slot_rate(stats, steady_state(stats, 10), 10, scale)


def run(tmp: Path, scale: Scale, *, smoke: bool, cache: dict) -> list[Row]:
    waves = 2 if smoke else 5
    naive = _naive(scale, waves)
    ours = _ours(tmp / "versus", scale, waves)
    return [
        Row("4 vs naive", f"naive: 10 threads, poll 5 s, 1 s pause, R/N share of {RPM}/min", naive, "videos/min",
            note="plain httpx sync clients in threads"),
        Row("4 vs naive", "ours: N=50, same limits and latencies", ours, "videos/min", bound=3 * naive,
            target="ratio >= 1 (= 3x naive)", passed=ours >= 3 * naive,
            note=f"ours / naive = {ours / naive:.2f}x" if naive else ""),
    ]
