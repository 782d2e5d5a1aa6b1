"""--captions on the command line, end to end: yt-dlp reads a loopback page's captions, --json says
the method, the simulated deAPI is never paid under `only`."""

from __future__ import annotations

import csv
import json

from bulk_transcribe.core.simulator import SimConfig, SimServer
from tests.core.media_server import html_page, media_server

from .test_cli import run_cli

VTT = b"WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nFirst words.\n\n00:00:02.500 --> 00:00:05.000\nLast words.\n"


def test_captions_only_from_the_command_line(tmp_path):
    files = {"/media/v.mp4": ("video/mp4", b"\0" * 64), "/subs/en.vtt": ("text/vtt", VTT),
             "/pages/cap.html": ("text/html", html_page("Captioned", ["/media/v.mp4"], captions={"en": "/subs/en.vtt"})),
             "/pages/plain.html": ("text/html", html_page("Plain", ["/media/v.mp4"]))}
    with media_server(files) as m, SimServer(SimConfig(latency=(0.1, 0.3))) as sim:
        batch = tmp_path / "b.txt"
        batch.write_text(f"{m.url('/pages/cap.html')}\n{m.url('/pages/plain.html')}\n", encoding="utf-8")
        r = run_cli(tmp_path, "run", str(batch), "--api-base", sim.base_url, "--captions", "only",
                    "--format", "srt,json", "--output", str(tmp_path / "out"), "--json", key="k-123456789")
        jobs = sim.jobs_created()
    assert r.returncode == 1, r.stderr   # the uncaptioned page failed, saying why
    assert jobs == 0, "--captions only never submits"
    events = [json.loads(line) for line in r.stdout.splitlines()]
    ends = {e["label"].split(" (")[0]: e for e in events if e["event"] == "VideoChanged" and e["state"] in ("done", "failed")}
    assert ends["Captioned"]["method"] == "captions" and ends["Captioned"]["state"] == "done"
    assert ends["Plain"]["category"] == "no-captions" and "nothing was paid" in ends["Plain"]["message"]
    assert events[-1]["event"] == "BatchFinished" and events[-1]["methods"] == [["captions", 1]]
    srt = next((tmp_path / "out").glob("*.srt")).read_text(encoding="utf-8")
    assert "00:00:02,500 --> 00:00:05,000\nLast words." in srt
    report = next((tmp_path / "out").glob("*.report.csv"), None) or next(tmp_path.rglob("*.report.csv"))
    with open(report, newline="", encoding="utf-8-sig") as f:
        methods = {row["title"].split(" (")[0]: row["method"] for row in csv.DictReader(f)}
    assert methods == {"Captioned": "captions", "Plain": ""}


def test_help_documents_the_captions_options(tmp_path):
    r = run_cli(tmp_path, "run", "--help")
    assert "--captions {off,first,only}" in r.stdout and "--captions-auto" in r.stdout
    assert "lower quality" in r.stdout


def test_captions_only_needs_no_key_and_asks_deapi_nothing(tmp_path):
    """No DEAPI_API_KEY and an API address where nothing listens: `--captions only` pays nothing,
    so it runs (the captioned page done, the other failed saying why), and asks deAPI nothing."""
    files = {"/media/v.mp4": ("video/mp4", b"\0" * 64), "/subs/en.vtt": ("text/vtt", VTT),
             "/pages/cap.html": ("text/html", html_page("Captioned", ["/media/v.mp4"], captions={"en": "/subs/en.vtt"}))}
    with media_server(files) as m:
        batch = tmp_path / "b.txt"
        batch.write_text(f"{m.url('/pages/cap.html')}\n", encoding="utf-8")
        r = run_cli(tmp_path, "run", str(batch), "--api-base", "http://127.0.0.1:9", "--captions", "only",
                    "--output", str(tmp_path / "out"), "--json")
    assert r.returncode == 0, r.stderr
    assert "DEAPI_API_KEY" not in r.stderr and "unreachable" not in r.stdout
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert events[-1]["event"] == "BatchFinished" and events[-1]["methods"] == [["captions", 1]]
    assert not any(e["event"] == "Notice" and "balance" in e.get("message", "") for e in events)


def test_max_per_source_limits_what_a_run_pays_for(tmp_path):
    """`run --max-per-source 2` on a page with three media: only the first two are run (the
    first of them, a fake mp4, fails to decode before any upload; the second is paid for), and
    the third is never seen."""
    from tests.core.media_server import media_server as default_media
    with default_media() as m, SimServer(SimConfig(latency=(0.1, 0.3))) as sim:
        batch = tmp_path / "b.txt"
        batch.write_text(m.url("/pages/three.html") + "\n", encoding="utf-8")
        r = run_cli(tmp_path, "run", str(batch), "--api-base", sim.base_url, "--max-per-source", "2",
                    "--output", str(tmp_path / "out"), "--json", key="k-123456789")
        jobs = sim.jobs_created()
    events = [json.loads(line) for line in r.stdout.splitlines()]
    end = events[-1]
    assert end["event"] == "BatchFinished" and (end["done"], end["failed"]) == (1, 1), r.stdout[-2000:]
    assert jobs == 1
    assert not any("Three clips (3)" in line for line in r.stdout.splitlines())
