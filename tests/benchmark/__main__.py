"""`python -m tests.benchmark [--smoke] [--json PATH] [--only NAME ...] [--scale F]`

Runs every scenario of issue 5 against the simulated deAPI over loopback, prints one markdown
table (figure, bound, ratio, target, pass/fail) and writes the same rows as JSON (default
bench-results/latest.json). Scenarios 1-4 run with time scaled by F (default 6; 60 in smoke
mode): the simulator's windows and latencies and our limiter's window all shrink by F, and
rates are given per scaled minute. Scenarios 5-8 run in real time. Config and data folders
point at a temporary directory: the user's own are never touched. Exit status 0 even when a
target is missed (the table says so); 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from . import budget, latency, meta_scale, rate, scale, scale100k, sched, soak, ssh_bytes, streaming, tui_scale, versus
from .common import Scale
from .report import Row, markdown, write_json

SCENARIOS = {"latency": latency, "rate": rate, "budget": budget, "versus": versus, "scale": scale,
             "scale100k": scale100k, "tui": tui_scale, "streaming": streaming, "ssh": ssh_bytes, "sched": sched, "soak": soak,
             "meta": meta_scale}
SCALED = {"latency", "rate", "budget", "versus", "sched"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.benchmark", description=__doc__.split("\n\n")[1])
    p.add_argument("--smoke", action="store_true", help="tiny batches and a large time scale: seconds, not minutes")
    p.add_argument("--json", type=Path, default=Path("bench-results/latest.json"), help="where the JSON goes")
    p.add_argument("--only", nargs="+", choices=list(SCENARIOS), help="run only these scenarios")
    p.add_argument("--scale", type=float, help="time factor F for scenarios 1-4 (default 6, smoke 60)")
    args = p.parse_args(argv)
    factor = args.scale or (60.0 if args.smoke else 6.0)
    sc = Scale(factor)
    print(f"time scale for scenarios 1-4: x{factor:g} (60 s windows last {sc.window:.1f} s, deAPI's "
          f"20-80 s jobs {20 / factor:.1f}-{80 / factor:.1f} s, both sides scaled); rates per scaled minute",
          flush=True)
    rows: list[Row] = []
    timings: dict[str, float] = {}
    cache: dict = {}
    with tempfile.TemporaryDirectory(prefix="bulk-bench-") as tmp:
        os.environ["BULK_TRANSCRIBE_CONFIG_DIR"] = str(Path(tmp) / "config")
        os.environ["BULK_TRANSCRIBE_DATA_DIR"] = str(Path(tmp) / "data")
        for name in args.only or list(SCENARIOS):
            started = time.monotonic()
            print(f"... {name}", file=sys.stderr, flush=True)
            try:
                got = SCENARIOS[name].run(Path(tmp) / name, sc, smoke=args.smoke, cache=cache)
            except Exception as exc:   # one broken scenario must not hide the others' figures
                traceback.print_exc()
                got = [Row(name, "scenario crashed", float("nan"), "", target="a figure", passed=False,
                           note=f"{type(exc).__name__}: {exc}")]
            timings[name] = time.monotonic() - started
            rows += got
    print(markdown(rows))
    meta = {"mode": "smoke" if args.smoke else "full", "scale_factor": factor, "scaled_scenarios": sorted(SCALED),
            "seconds": timings}
    write_json(args.json, rows, meta)
    print(f"\nJSON: {args.json}  ({sum(timings.values()):.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
