"""Scenario 11, metadata at scale: 10,000 distinct video pages served on loopback, read by yt-dlp's
generic extractor, through the real headless command (`bulk-transcribe run`) with metadata on.

Each page (`/v/<i>.html`) embeds one video and one caption track, as a site's own page would;
the videos are on a host deAPI does not fetch, so the engine uploads their audio (a 0.2 s
WAV each) to the simulator, in a process of its own. Every video costs the engine yt-dlp
calls: the page's expansion (the video with its title and compact caption tracks), a lookup
for the duration the page does not give, and the audio's download. Figures: the child's peak
RSS (os.wait4: neither the pages nor the simulator are counted) and its CPU seconds per
yt-dlp page read (expansions + lookups, counted by the page server). Real time.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from bulk_transcribe.core.sources.batch import read_batch
from bulk_transcribe.core.sources.expand import resolve
from tests.core.media_server import MediaServer, html_page, wav_bytes

from .common import REPO, SimProcess, env_isolated, run_async
from .report import Row

LIMIT = 100_000
_PAGE = re.compile(r"^/v/(\d+)\.html$")
WAV = wav_bytes(0.2)
VTT = b"WEBVTT\n\n00:00:00.000 --> 00:00:00.200\nhello\n"


class Pages(dict):
    """The site: page, audio and captions of video i made when asked (10,000 pages, no table)."""

    def get(self, path, default=None):
        if m := _PAGE.match(path):
            i = m.group(1)
            return "text/html", html_page(f"Talk {i}", [f"/m/{i}.mp4"], {"en": f"/s/{i}.vtt"})
        if path.startswith("/m/"):
            return "video/mp4", WAV
        if path.startswith("/s/"):
            return "text/vtt", VTT
        return default


def _wait(proc: subprocess.Popen, timeout: float) -> tuple[int, float, float]:
    """(exit status, peak RSS in MB, CPU seconds) of the child, reaped with os.wait4."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline:
            proc.kill()
        time.sleep(0.1)


def _reads(site: MediaServer) -> int:
    return sum(c for path, c in site.hits.items() if _PAGE.match(path))


def lookup_cpu(tmp: Path, site: MediaServer, first: int, k: int) -> tuple[float, int]:
    """(CPU seconds per page read, reads) of `resolve` over pages first..first+k-1, in this process."""
    batch = tmp / "lookups.txt"
    batch.write_text("".join(site.url(f"/v/{i}.html") + "\n" for i in range(first, first + k)))
    lines = read_batch(batch).lines
    before, cpu = _reads(site), time.process_time()
    got = run_async(resolve, lines, cache_dir=None, concurrency=4, timeout=30)
    cpu, reads = time.process_time() - cpu, _reads(site) - before
    assert len(got.videos) == k and not got.problems, got.problems[:3]
    return cpu / reads, reads


def run(tmp: Path, scale, *, smoke: bool, cache: dict) -> list[Row]:
    n = 60 if smoke else 10_000
    tmp.mkdir(parents=True, exist_ok=True)
    site = MediaServer(Pages()).start()
    try:
        batch = tmp / "pages.txt"
        batch.write_text("".join(site.url(f"/v/{i}.html") + "\n" for i in range(n)))
        env = env_isolated(tmp)
        with SimProcess(latency=[0.2, 0.8], submit_rpm=LIMIT, status_rpm=LIMIT, price_rpm=LIMIT, balance=1e9) as sim:
            args = ["run", str(batch), "--session", str(tmp / "session" / "pages.toml"), "--output", str(tmp / "out"),
                    "--api-base", sim.base_url, "--concurrency", "50", "--limit-mode", "per-endpoint",
                    "--rpm", str(LIMIT), "--status-rpm", str(LIMIT)]
            started = time.monotonic()
            with open(tmp / "run.log", "w") as log:
                child = subprocess.Popen([sys.executable, "-m", "bulk_transcribe.tui", *args], cwd=REPO, env=env,
                                         stdout=subprocess.DEVNULL, stderr=log)
            code, rss, cpu = _wait(child, 7200)
            wall = time.monotonic() - started
            jobs = sim.ledger()["accepted"]["submit"]
        reads = _reads(site)
        per_lookup, lookups = lookup_cpu(tmp, site, n, 100 if smoke else 400)
    finally:
        site.stop()
    done = len(list((tmp / "out").rglob("*.txt"))) if (tmp / "out").exists() else 0
    log = (tmp / "run.log").read_text(errors="replace")
    summary = next((line for line in log.splitlines() if line.startswith("Finished:")), "no summary")
    params = f"{n:,} loopback pages, metadata on, N=50"
    note = (f"exit {code}, {done} transcripts, {jobs} jobs, {wall:.0f} s wall, {cpu:.0f} s CPU in all; {summary}")
    return [
        Row("11 metadata scale", params + ": peak RSS headless", rss, "MB", target="<= 150 MB", passed=rss <= 150,
            note=note),
        Row("11 metadata scale", params + ": CPU per video done", cpu / done if done else float("nan"), "s",
            note=f"{reads:,} page reads by yt-dlp (expansion, lookup, download): {cpu / reads if reads else 0:.3f} s "
                 "each, with the uploads and the rest of the run"),
        Row("11 metadata scale", "lookups alone (expand + read, real yt-dlp), 4 at a time: CPU per page read",
            per_lookup, "s", note=f"{lookups} reads in this process (an expansion and a lookup per page)"),
    ]
