"""The simulated deAPI in its own process, with a ledger the benchmark can read.

    python -m tests.benchmark.simproc '{"submit_rpm": 30, "window": 10, "latency": [3, 13]}'

Prints the base URL on the first stdout line, then answers one JSON line per stdin command:
``ledger [T]`` -> counts per endpoint (arrivals, accepted, 429s), the first arrival of any
kind and the first submit/status arrival at or after monotonic time T (CLOCK_MONOTONIC is
system-wide on Linux, so the benchmark's clock compares), and the accepted submit times.
``money`` -> jobs created per source URL, USD charged and the faults answered (the soak's
ledger); ``set {JSON}`` changes the simulator's settings while it runs (answers ``{}``).
EOF is the signal to stop. A separate process keeps the server's CPU and memory out of the
engine's figures.
"""

from __future__ import annotations

import json
import sys

from bulk_transcribe.core.simulator import SimConfig, SimServer

ENDPOINTS = ("submit", "status", "price", "balance", "models", "storage", "other")


def ledger(sim: SimServer, since: float) -> dict:
    arrivals = {e: sim.arrivals(e) for e in ENDPOINTS}
    every = sorted(t for times in arrivals.values() for t in times if t >= since)
    work = sorted(t for e in ("submit", "status") for t in arrivals[e] if t >= since)
    return {
        "arrivals": {e: len(t) for e, t in arrivals.items()},
        "accepted": {e: len(sim.accepted(e)) for e in ("submit", "status")},
        "count_429": sim.count_429,
        "first_any": every[0] if every else None,
        "first_work": work[0] if work else None,
        "submit_times": sim.accepted("submit"),
        "jobs_created": sim.jobs_created(),
        "paid_twice": sum(1 for n in sim.submissions().values() if n > 1),
    }


def money(sim: SimServer) -> dict:
    """The paid side: jobs created per source URL, USD charged, and the faults answered."""
    return {"submissions": sim.submissions(), "charged": sim.charged(), "count_5xx": sim.count_5xx,
            "count_429": sim.count_429, "resets": sim.count_resets, "trickles": sim.count_trickles,
            "holds": sim.count_holds, "arrivals": sum(len(sim.arrivals(e)) for e in ENDPOINTS)}


def main() -> int:
    raw = json.loads(sys.argv[1])
    if "latency" in raw:
        raw["latency"] = tuple(raw["latency"])
    if "server_error_statuses" in raw:
        raw["server_error_statuses"] = tuple(raw["server_error_statuses"])
    for name in ("trickle_endpoints", "reset_endpoints"):
        if name in raw:
            raw[name] = frozenset(raw[name])
    with SimServer(SimConfig(**raw)) as sim:
        print(sim.base_url, flush=True)
        for line in sys.stdin:
            parts = line.split()
            if parts and parts[0] == "ledger":
                since = float(parts[1]) if len(parts) > 1 else 0.0
                print(json.dumps(ledger(sim, since)), flush=True)
            elif parts and parts[0] == "money":
                print(json.dumps(money(sim)), flush=True)
            elif parts and parts[0] == "set":
                sim.set_config(**json.loads(line.split(None, 1)[1]))
                print("{}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
