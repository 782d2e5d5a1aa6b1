"""The design this product replaces, as a reference: a pool of at most 10 threads, each with
its own plain synchronous httpx client. A thread takes a video, waits for its own share R/N
of the submit limit (each thread spaces its submits N*60/R s apart), submits, pauses a fixed
1 s, then polls every 5 s until the job ends and downloads the result. Times are scaled with
the same `Scale` as our engine. Written for the benchmark only; not used by the product.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field

import httpx

from .common import Scale


@dataclass
class NaiveStats:
    """Monotonic times: when a thread took each URL and when its transcript was saved."""

    picked: dict[str, float] = field(default_factory=dict)
    done: dict[str, float] = field(default_factory=dict)
    failed: int = 0


def run_naive(base_url: str, key: str, urls: list[str], scale: Scale, *, threads: int, rpm: int,
              poll_every: float = 5.0, pause: float = 1.0) -> NaiveStats:
    """Process every URL with `threads` threads; returns when all are done or failed."""
    todo: queue.Queue[str] = queue.Queue()
    for u in urls:
        todo.put(u)
    stats = NaiveStats()
    lock = threading.Lock()
    gap = threads * scale.window / rpm          # this thread's share of the limit

    def worker() -> None:
        last_submit = -1e9
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
            while True:
                try:
                    url = todo.get_nowait()
                except queue.Empty:
                    return
                with lock:
                    stats.picked[url] = time.monotonic()
                time.sleep(max(0.0, last_submit + gap - time.monotonic()))
                last_submit = time.monotonic()
                r = c.post("/api/v2/audio/transcriptions", data={
                    "source_url": url, "model": "WhisperLargeV3", "include_ts": "0"})
                time.sleep(scale.s(pause))
                if r.status_code != 200:
                    with lock:
                        stats.failed += 1
                    continue
                rid = r.json()["data"]["request_id"]
                while True:
                    time.sleep(scale.s(poll_every))
                    job = c.get(f"/api/v2/jobs/{rid}").json().get("data", {})
                    if job.get("status") in ("done", "error"):
                        break
                ok = job.get("status") == "done" and c.get(job["result_url"]).status_code == 200
                with lock:
                    if ok:
                        stats.done[url] = time.monotonic()
                    else:
                        stats.failed += 1

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return stats
