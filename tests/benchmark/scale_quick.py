"""A quick proxy of scenario 5b (scale.py) for working on its memory and resume time.

    python -m tests.benchmark.scale_quick [--n 100000] [--stop 3000] [--half] [--profile DIR] [--tmp DIR]

The same children as scale.py (`run`, then `resume --headless`, each through probe.py, the
simulator in its own process), but each is stopped (SIGINT) once `--stop` more submits have been
accepted, so one pass takes a minute or two instead of 30-40. Prints each child's peak RSS
(os.wait4) and the time from its start to its first submit/status at the simulator.
`--profile DIR` runs each child under cProfile (DIR/run.prof, DIR/resume.prof): the times are
then cProfile's, not the product's. `--half` marks the first half of the batch done (a request
id, an output file, a cost) between the two, so the resume opens what the full scenario's finds.
Not a benchmark row: the full run is `--only scale100k`.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import anyio

from bulk_transcribe.core.model import VideoState
from bulk_transcribe.core.store.session import Session

from .common import REPO, SimProcess, env_isolated, urls
from .scale import LIMIT, OPTS, _reap, _wait


def _start(args: list[str], env: dict[str, str], log: Path, prof: Path | None) -> subprocess.Popen:
    pre = ["-m", "cProfile", "-o", str(prof)] if prof else []
    with open(log, "w") as err:
        return subprocess.Popen([sys.executable, *pre, "-m", "tests.benchmark.probe", *args], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)


def _phase(sim: SimProcess, args: list[str], env: dict[str, str], log: Path, stop: int,
           prof: Path | None) -> tuple[float, float, int]:
    """(peak RSS MB, seconds from start to first request, exit status) of one child."""
    base = sim.ledger()["accepted"]["submit"]
    before = time.monotonic()
    proc = _start(args, env, log, prof)
    got = None
    while got is None and sim.ledger()["accepted"]["submit"] < base + stop:
        time.sleep(0.2)
        got = _reap(proc)
    first = sim.ledger(before)["first_work"]
    if got is None:
        proc.send_signal(signal.SIGINT)
        got = _wait(proc, 120)
    code, rss = got
    return rss, (first - before) if first else float("nan"), code


def _mark_half_done(path: Path, out: Path) -> int:
    """Mark the first half of the session's videos done, as a run that got that far leaves them."""
    s = Session.open(path)
    try:
        now, n = time.time(), 0
        for v in s.videos[: len(s.videos) // 2]:
            if v.state is not VideoState.DONE:
                (out / f"{v.vid}.txt").write_text("a transcript\n")
                s.record_nowait(v, state=VideoState.DONE, request_id=str(uuid.uuid4()), outputs=[str(out / f"{v.vid}.txt")],
                                cost=0.02, method="deapi-url", submitted_at=now, finished_at=now + n * 0.01, attempts=1,
                                polls=1)
                n += 1
        anyio.run(s.checkpoint)
    finally:
        s.close()
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--stop", type=int, default=3000, help="submits accepted before each child is stopped")
    ap.add_argument("--profile", type=Path)
    ap.add_argument("--tmp", type=Path)
    ap.add_argument("--half", action="store_true", help="mark the first half done before the resume")
    a = ap.parse_args()
    tmp = a.tmp or Path(tempfile.mkdtemp(prefix="scale-quick-"))
    tmp.mkdir(parents=True, exist_ok=True)
    if a.profile:
        a.profile.mkdir(parents=True, exist_ok=True)
    batch = tmp / "big.txt"
    batch.write_text("\n".join(urls(a.n, "S")) + "\n")
    session = tmp / "session" / "big.toml"
    env = env_isolated(tmp)
    with SimProcess(latency=[0.2, 0.8], submit_rpm=LIMIT, status_rpm=LIMIT, price_rpm=LIMIT, balance=1e9) as sim:
        common = [*OPTS, "--api-base", sim.base_url, "--output", str(tmp / "out")]
        for name, args in (("run", ["run", str(batch), "--session", str(session), *common]),
                           ("resume", ["resume", str(session), "--headless", *common])):
            if name == "resume" and a.half:
                print(f"marked {_mark_half_done(session, tmp / 'out')} more videos done", flush=True)
            prof = a.profile / f"{name}.prof" if a.profile else None
            rss, first, code = _phase(sim, args, env, tmp / f"{name}.log", a.stop, prof)
            print(f"{name}: peak RSS {rss:.1f} MB, first request {first:.2f} s, exit {code}", flush=True)
    print(f"files in {tmp}")


if __name__ == "__main__":
    main()
