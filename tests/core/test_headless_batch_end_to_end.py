"""A whole batch headless, end to end: 60 videos, some failing for good and some for a while, zero 429s."""

from __future__ import annotations

import os
import subprocess
import sys

from bulk_transcribe.core.simulator import SimConfig, SimServer

from .engine_harness import KEY, yt


def test_sixty_videos_headless_zero_429s_every_transcript_and_no_key_on_disk(tmp_path):
    urls = [yt(i, "sixty") for i in range(60)]
    ids = [u[-11:] for u in urls]
    faults = {ids[3]: "private", ids[17]: "restricted", ids[40]: "private",          # permanent
              ids[5]: "flaky:1", ids[22]: "flaky:2", ids[51]: "capacity"}          # retryable, recover
    batch = tmp_path / "sixty.txt"
    batch.write_text("\n".join(urls) + "\n", encoding="utf-8")
    env = dict(os.environ, DEAPI_API_KEY=KEY, BULK_TRANSCRIBE_DATA_DIR=str(tmp_path / "data"),
               BULK_TRANSCRIBE_CONFIG_DIR=str(tmp_path / "config"))
    with SimServer(SimConfig(latency=(0.2, 0.8), faults=faults)) as sim:   # deAPI's Premium limits: 300/min
        r = subprocess.run([sys.executable, "-m", "bulk_transcribe.tui", "run", str(batch), "--api-base",
                            sim.base_url, "--no-metadata", "--output", str(tmp_path / "out"), "--concurrency", "10"],
                           env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        rejected = sim.count_429
        subs = sim.submissions()
    assert r.returncode == 1, r.stderr            # some failed (the permanent ones)
    assert "57 done, 3 failed" in r.stderr
    assert sum(rejected.values()) == 0, "no 429 provoked with the true limits configured"
    transcripts = {p.stem.rsplit("[", 1)[-1].rstrip("]") for p in (tmp_path / "out").glob("*.txt")}
    assert transcripts == set(ids) - {ids[3], ids[17], ids[40]}
    assert subs[urls[22]] == 3 and subs[urls[3]] == 1
    for p in tmp_path.rglob("*"):
        if p.is_file():
            assert KEY not in p.read_text(encoding="utf-8", errors="replace"), f"API key written to {p}"
    assert KEY not in r.stderr and KEY not in r.stdout
