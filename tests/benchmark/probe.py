"""`bulk-transcribe` (the real `tui.cli.main`) with an event-loop lag probe, for scenario 5.

    BENCH_LAG_OUT=lag.json python -m tests.benchmark.probe run batch.txt ...

While `Engine.run` runs, a task sleeps 10 ms again and again and records how late it woke
(seconds); the list is written as JSON to $BENCH_LAG_OUT at exit. Nothing else changes: the
command line, the engine and the headless printer are the product's own.
"""

from __future__ import annotations

import json
import os
import sys
import time

import anyio

from bulk_transcribe.core.run import engine as engine_module

SAMPLES: list[float] = []
_original_run = engine_module.Engine.run


async def _probe() -> None:
    while True:
        started = time.perf_counter()
        await anyio.sleep(0.01)
        SAMPLES.append(time.perf_counter() - started - 0.01)


async def _run_with_probe(self):
    async with anyio.create_task_group() as tg:
        tg.start_soon(_probe)
        try:
            return await _original_run(self)
        finally:
            tg.cancel_scope.cancel()


def main() -> int:
    engine_module.Engine.run = _run_with_probe
    from bulk_transcribe.tui.cli import main as cli_main

    try:
        return cli_main(sys.argv[1:])
    finally:
        out = os.environ.get("BENCH_LAG_OUT")
        if out:
            with open(out, "w") as f:
                json.dump(SAMPLES, f)


if __name__ == "__main__":
    sys.exit(main())
