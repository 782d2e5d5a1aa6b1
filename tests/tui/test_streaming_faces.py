"""Work starts at once, in both faces (issue 9): a 300-line batch's first submit does not wait for
a single metadata lookup, headless (`run`) and in the app (`--start`).

The lookups are real yt-dlp calls, untouched: `https_proxy` sends them to a loopback proxy that
holds each one until the simulator has made a job (tests/core/slow_site.py). If submitting waited
for any lookup, the first job could only come after the proxy's 30 s hold ran out, and that hold
is what the test catches (`site.held` False), not a clock. Once let go, every lookup fails (no
internet), which the run must say once, not once per video, and submit by URL all the same.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.simulator import SimConfig, SimServer
from bulk_transcribe.tui.app import build_app
from bulk_transcribe.tui.screens.run import RunScreen
from bulk_transcribe.tui.screens.summary import SummaryScreen
from tests.core.media_server import media_server
from tests.core.slow_site import proxy_env, slow_site

from .fakes import shown, text, until

pytestmark = pytest.mark.slow

N = 300
KEY = "k-123456789"


def batch_of(tmp_path, tag: str):
    batch = tmp_path / "batch.txt"
    batch.write_text("".join(f"https://www.youtube.com/watch?v={tag}{i:0{11 - len(tag)}d}\n" for i in range(N)),
                     encoding="utf-8")
    return batch


def check_lookups_waited_for_the_first_submit(site) -> None:
    assert site.held, "yt-dlp looked the videos up (metadata is on)"
    assert all(site.held), (f"{site.held.count(False)} of {len(site.held)} lookups were let go by the time limit: "
                            "the first submit waited for them")


def test_headless_run_submits_before_any_lookup_answers(tmp_path):
    with SimServer(SimConfig(latency=(0.05, 0.15), pending_share=0.0)) as sim, \
            slow_site(lambda: sim.jobs_created() > 0) as site:
        env = {**os.environ, **proxy_env(site), "DEAPI_API_KEY": KEY,
               "BULK_TRANSCRIBE_DATA_DIR": str(tmp_path / "data"), "BULK_TRANSCRIBE_CONFIG_DIR": str(tmp_path / "cfg")}
        r = subprocess.run([sys.executable, "-m", "bulk_transcribe.tui", "run", str(batch_of(tmp_path, "H")),
                            "--api-base", sim.base_url, "--output", str(tmp_path / "out"), "--concurrency", "20"],
                           env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        jobs, subs = sim.jobs_created(), sim.submissions()
    assert r.returncode == 0, r.stderr[-2000:]
    check_lookups_waited_for_the_first_submit(site)
    assert jobs == N and set(subs.values()) == {1}, "every video submitted once, by URL"
    said = r.stdout + r.stderr
    assert said.count("metadata not read") == 1, "a failing lookup says why once, not once per video"


@pytest.mark.anyio
async def test_the_app_with_start_submits_before_any_lookup_answers(tmp_path, monkeypatch):
    """Beside the 300 videos, a page that stays unlisted until the header has said so (a loopback
    page held open): the header shows the source still being listed and the lookups pending,
    and submitting does not wait for either."""
    seen: list[str] = []

    def header_says() -> str:
        if shown(app, RunScreen, "#run-buckets"):
            seen.append(text(app.screen, "#run-buckets"))
        return seen[-1] if seen else ""

    with SimServer(SimConfig(latency=(0.05, 0.15), pending_share=0.0)) as sim, \
            slow_site(lambda: sim.jobs_created() > 0) as site, media_server() as pages:
        for name, value in proxy_env(site).items():
            monkeypatch.setenv(name, value)
        batch = batch_of(tmp_path, "A")
        batch.write_text(batch.read_text(encoding="utf-8") + pages.url("/slow/listing.html") + "\n", encoding="utf-8")
        settings = Settings(api_base=sim.base_url, output_dir=str(tmp_path / "out"), concurrency=20)
        app = build_app(settings=settings, api_key=KEY, key_source="test", batch_path=str(batch),
                        start=True, testing=True)
        async with app.run_test(size=(160, 30)) as pilot:
            await until(pilot, lambda: "1 playlist/channel still being listed" in header_says()
                        and "lookups pending" in header_says(), what="the header to say what is still to find")
            await until(pilot, lambda: sim.jobs_created() > 0, what="a submit while the page is still unlisted")
            pages.release()
            await until(pilot, lambda: shown(app, SummaryScreen, "#summary-text"), timeout=300, what="the summary")
            finished = app.view.finished
            notices = [n.message for n in app.view.notices]
            await pilot.press("q")
        jobs, subs = sim.jobs_created(), sim.submissions()
    check_lookups_waited_for_the_first_submit(site)
    assert finished is not None and finished.done == N
    assert jobs == N and set(subs.values()) == {1}, "every video submitted once, by URL"
    assert sum("metadata not read" in m for m in notices) == 1, "a failing lookup says why once, not once per video"
