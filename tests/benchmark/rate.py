"""Scenario 2, rate-bound: the submit limit R binds (N/L is twice R); accepted submits per
scaled minute, counted at the server and averaged over every complete window from the first
submit to the last, against R; and the 429s the server answered."""

from __future__ import annotations

from pathlib import Path

from .common import Scale, SimProcess, median, run_async, run_ours, sim_config, urls
from .report import Row

R, N, STATUS = 30, 50, 300


def sustained(times: list[float], window: float) -> float:
    """Mean submits per window over the k complete windows [t0 + j*window, t0 + (j+1)*window)
    that fit between the first submit t0 and the last (0.0 if not one fits)."""
    times = sorted(times)
    k = int((times[-1] - times[0]) // window) if times else 0
    if k < 1:
        return 0.0
    return sum(1 for t in times if t < times[0] + k * window) / k


def measure(tmp: Path, scale: Scale, windows: int, seed: int = 0) -> dict:
    cfg = sim_config(scale, seed=seed, submit_rpm=R, status_rpm=STATUS)
    batch = urls(R * (windows + 1), f"R{seed}x")
    with SimProcess(**cfg) as sim:
        stats = run_async(run_ours, tmp, sim.base_url, batch, scale, concurrency=N, limit_mode="per-endpoint",
                          rpm=R, status_rpm=STATUS, adaptive=False)
        ledger = sim.ledger()
    return {"rate": sustained(ledger["submit_times"], scale.window), "count_429": sum(ledger["count_429"].values()),
            "videos": len(batch), "failed": stats.failed}


def run(tmp: Path, scale: Scale, *, smoke: bool, cache: dict) -> list[Row]:
    windows = 2 if smoke else 4
    results = [measure(tmp / f"rate{i}", scale, windows, seed=i) for i in range(1 if smoke else 2)]
    rates = [r["rate"] for r in results]
    worst429 = max(r["count_429"] for r in results)
    params = f"R={R}/min submit, status {STATUS}/min, N={N}, {results[0]['videos']} videos"
    return [
        Row("2 rate-bound", params, median(rates), "submits/min", bound=R, target="ratio >= 0.95",
            passed=median(rates) / R >= 0.95, runs=rates,
            note=f"median of {len(results)}; the limiter keeps a {0.5}-s (scaled) margin per window"),
        Row("2 rate-bound", params + " (429s at the server)", worst429, "429s", target="0",
            passed=worst429 == 0, note="worst of the runs"),
    ]
