"""Scenario 8, soak: a batch under mixed faults, killed with SIGKILL at random moments and resumed.

The real `bulk-transcribe run` in a child process, the simulator in another (its ledger outlives
every kill). The simulator answers with every fault it has, at once: 5 % of all requests a 500,
502 or 503 before anything is done, 5 % delayed 1.5 s, 2 % of submits reset after their job was
made, and per video (4 % each) a submit answered with an HTML page after its job was made, a
reset, an answer trickled at 40 bytes/s, or held 3 s; results are links (not inline) valid 3 s,
so some expire before they are fetched; its limits are below the Premium ones the client
starts from, and every third run meets a 429 storm: the account's limits drop (10 submits, 30
status checks a minute) while another client on the same key eats the status window. The batch
is run `kills` times and killed with SIGKILL after a random 1.5-5 s (a storm's 6-10 s), then resumed
headless to the end; videos left in doubt are then resubmitted as a user would allow
(`--resubmit-in-doubt`, again while a resubmit ends in doubt too, up to five times).

Counts (all should be zero): lost, videos without a non-empty transcript at the end; paid
twice, source URLs the simulator made more than one job for, other than those the user allowed
to be resubmitted; hung, runs with no progress (no request reaching the simulator, no new
transcript) for HUNG_AFTER seconds, or a final run over its bound; crashed, runs that printed a
traceback or exited with a code other than 0/1 (or -9 where we killed them).
"""

from __future__ import annotations

import csv
import http.client
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from tests.core.engine_harness import KEY, yt

from .common import REPO, SimProcess, env_isolated
from .report import Row

HUNG_AFTER = 90.0   # longer than any wait deAPI may ask for (a Retry-After is at most its 60 s window)
KINDS = (("sG", "garbled:1"), ("sR", "reset:1"), ("sT", "trickle:40"), ("sH", "hold:3"))


def batch_urls(n: int, rng: random.Random) -> list[str]:
    """`n` URLs; about 4 % of them per kind of per-video fault (the kind is in the id's prefix), and
    at least one of each, spread over the batch."""
    out = []
    firsts = {n * (j + 1) // (len(KINDS) + 1): p for j, (p, _) in enumerate(KINDS)}
    for i in range(n):
        draw = rng.random()
        prefix = firsts.get(i) or next((p for j, (p, _) in enumerate(KINDS) if j * 0.04 <= draw < (j + 1) * 0.04),
                                       "sN")
        out.append(yt(i, prefix))
    return out


def sim_config(seed: int) -> dict:
    return dict(latency=[0.4, 2.0], pending_share=0.3, seed=seed, balance=1e6,
                submit_rpm=200, status_rpm=240, price_rpm=240,
                server_error_share=0.05, server_error_statuses=[500, 502, 503],
                slow_share=0.05, slow_seconds=1.5,
                reset_share=0.02, reset_endpoints=["submit"],
                inline_result=False, result_ttl=3.0,
                faults={f"v={prefix}": kind for prefix, kind in KINDS})


class Child:
    """One `bulk-transcribe` run in a child process, its stderr in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with open(log, "w") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "bulk_transcribe.tui", *args], cwd=REPO, env=env,
                                         stdout=subprocess.DEVNULL, stderr=err)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


class Neighbour(threading.Thread):
    """Another client on the same key, polling a job it made elsewhere about 20 times a second:
    it eats the account's status window, so the run meets 429s its own count cannot foresee.
    Bounded: at most 200 requests, and it stops when told."""

    def __init__(self, base_url: str) -> None:
        super().__init__(daemon=True, name="soak-neighbour")
        self.url = urlsplit(base_url)
        self.done = threading.Event()

    def run(self) -> None:
        conn = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=5)
        try:
            for i in range(200):
                if self.done.wait(0.05):
                    break
                try:
                    conn.request("GET", f"/api/v2/jobs/neighbour-{i}", headers={"Authorization": f"Bearer {KEY}"})
                    conn.getresponse().read()
                except (OSError, http.client.HTTPException):
                    conn.close()
        finally:
            conn.close()

    def stop(self) -> None:
        self.done.set()
        self.join(10)


def transcripts(out: Path) -> int:
    return sum(1 for p in out.glob("*.txt") if p.stat().st_size > 0)


def watch(child: Child, sim: SimProcess, out: Path, *, kill_after: float | None, bound: float) -> tuple[int, bool]:
    """Run `child` until it ends, or kill it (SIGKILL) after `kill_after` seconds; (exit code, hung).
    Hung: no progress for HUNG_AFTER seconds, or still running after `bound`."""
    started = last_move = time.monotonic()
    seen = (sim.money()["arrivals"], transcripts(out))
    hung = False
    while child.proc.poll() is None:
        now = time.monotonic()
        if kill_after is not None and now - started >= kill_after:
            child.proc.kill()
            break
        time.sleep(0.25)
        sig = (sim.money()["arrivals"], transcripts(out))
        if sig != seen:
            seen, last_move = sig, now
        elif now - last_move > HUNG_AFTER or now - started > bound:
            hung = True
            child.proc.kill()
            break
    return child.proc.wait(), hung


def in_doubt(out: Path) -> set[str]:
    """Source URLs the report lists as in doubt (possibly paid, not sent again)."""
    report = next(out.glob("*.report.csv"), None)
    if report is None:
        return set()
    with report.open(encoding="utf-8-sig") as fh:
        return {r["url"] for r in csv.DictReader(fh) if r["status"] != "done" and r["category"] == "in-doubt"}


def soak(tmp: Path, *, n: int, kills: int, seed: int = 20261202) -> dict:
    """Run the soak (see the module docstring); returns the counts and what the simulator answered."""
    rng = random.Random(seed)
    tmp.mkdir(parents=True, exist_ok=True)
    urls = batch_urls(n, rng)
    batch = tmp / "soak.txt"
    batch.write_text("\n".join(urls) + "\n")
    out, session = tmp / "out", tmp / "soak.toml"
    env = env_isolated(tmp)
    counts = {"lost": 0, "paid_twice": 0, "hung": 0, "crashed": 0, "runs": 0, "killed": 0, "allowed": 0}
    crashes: list[str] = []
    started = time.monotonic()

    def one(args: list[str], *, kill_after: float | None, bound: float, expect: tuple[int, ...]) -> None:
        log = tmp / f"run{counts['runs']:02d}.log"
        child = Child(args, env, log)
        code, hung = watch(child, sim, out, kill_after=kill_after, bound=bound)
        counts["runs"] += 1
        counts["hung"] += hung
        killed = code == -9 and (kill_after is not None or hung)
        counts["killed"] += killed and not hung
        text = child.text()
        if "Traceback" in text or not (killed or code in expect):
            counts["crashed"] += 1
            crashes.append(f"{log.name}: exit {code}: {text[-400:]}")

    with SimProcess(**sim_config(seed)) as sim:
        common = ["--api-base", sim.base_url, "--session", str(session)]
        run_opts = [*common, "--output", str(out), "--no-metadata", "--plan", "premium", "--concurrency", "20"]
        for cycle in range(kills):
            storm = Neighbour(sim.base_url) if cycle % 3 == 1 else None
            if storm:
                sim.set(submit_rpm=10, status_rpm=30)
                storm.start()
            kill_after = rng.uniform(6.0, 10.0) if storm else rng.uniform(1.5, 5.0)
            one(["run", str(batch), *run_opts], kill_after=kill_after, bound=60.0, expect=(0, 1))
            if storm:
                storm.stop()
                sim.set(submit_rpm=200, status_rpm=240)
        bound = 300.0 + 2.0 * n   # a Retry-After of up to 60 s left by a storm, a busy machine
        one(["resume", str(session), "--headless", *common[:2]], kill_after=None, bound=bound, expect=(0, 1))
        allowed: set[str] = set()
        for _ in range(5):   # the user's yes to paying again for the videos in doubt (a resubmit may be too)
            doubtful = in_doubt(out)
            if not doubtful:
                break
            allowed |= doubtful
            one(["resume", str(session), "--headless", "--resubmit-in-doubt", *common[:2]], kill_after=None,
                bound=bound, expect=(0, 1))
        money = sim.money()
    subs = money["submissions"]
    counts["allowed"] = len(allowed)
    counts["lost"] = n - transcripts(out)
    counts["paid_twice"] = sum(1 for url, jobs in subs.items() if jobs > 1 and url not in allowed)
    return {**counts, "crashes": crashes, "seconds": time.monotonic() - started, "jobs": sum(subs.values()),
            "faults": {k: money[k] for k in ("count_5xx", "count_429", "resets", "trickles", "holds")}}


def run(tmp: Path, scale, *, smoke: bool, cache: dict) -> list[Row]:
    n, kills = (40, 3) if smoke else (300, 8)
    got = soak(tmp, n=n, kills=kills)
    f = got["faults"]
    params = (f"{n} videos, {kills} kill -9 + resume, then resume to the end; faults answered: {f['count_5xx']} 5xx, "
              f"{sum(f['count_429'].values())} 429s, {f['resets']} resets, {f['trickles']} trickles, "
              f"{f['holds']} held answers")
    note = f"{got['runs']} runs in {got['seconds']:.0f} s, {got['jobs']} jobs for {n} videos"
    if got["crashes"]:
        note += "; " + " | ".join(got["crashes"])
    rows = [Row("10 soak", f"{params}: lost (no transcript at the end)", got["lost"], "videos", target="0",
                passed=got["lost"] == 0, note=note)]
    rows.append(Row("10 soak", f"paid twice (jobs per URL > 1, beyond the {got['allowed']} in doubt the user "
                              "allowed to resubmit)", got["paid_twice"], "videos", target="0",
                    passed=got["paid_twice"] == 0))
    rows.append(Row("10 soak", f"hung (no progress for {HUNG_AFTER:.0f} s)", got["hung"], "runs", target="0",
                    passed=got["hung"] == 0))
    rows.append(Row("10 soak", "crashed (a traceback, or an exit code other than 0/1)", got["crashed"], "runs",
                    target="0", passed=got["crashed"] == 0))
    return rows
