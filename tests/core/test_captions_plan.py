"""The plan counts the videos with their own captions and what taking them saves."""

from __future__ import annotations

import pytest

from bulk_transcribe.core.plan import build_plan
from bulk_transcribe.core.prices import estimate_price
from bulk_transcribe.core.settings import Settings

from .media_server import html_page, media_server

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


A, B = "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "https://www.youtube.com/watch?v=9bZkp7q19f0"


def fake_extract(url, opts):
    """What yt-dlp's lookup of each video gives: A has English captions, B none."""
    subs = {"en": [{"ext": "vtt", "url": "https://example.invalid/a.vtt"}]} if url == A else {}
    return {"_type": "video", "title": url[-11:], "duration": 600.0, "subtitles": subs,
            "automatic_captions": {"en": [{"ext": "vtt", "url": "https://example.invalid/auto.vtt"}]}}


def _batch(tmp_path):
    path = tmp_path / "batch.txt"
    path.write_text(f"{A}\n{B}\n", encoding="utf-8")
    return path


async def test_off_says_what_first_would_save(tmp_path):
    plan = await build_plan(_batch(tmp_path), Settings(), cache_dir=None, extract=fake_extract)
    one = estimate_price(600.0)
    t = plan.totals
    assert (t.with_captions, t.captions_unknown) == (1, 0)
    assert t.estimated_cost == pytest.approx(2 * one) and t.captions_saving == pytest.approx(one)
    assert any("--captions first would take them for free" in n and f"${one:.4f}" in n for n in t.notes)
    assert [r.captions for r in plan.rows] == ["captions", ""]


async def test_first_pays_only_for_the_uncaptioned(tmp_path):
    plan = await build_plan(_batch(tmp_path), Settings(captions="first"), cache_dir=None, extract=fake_extract)
    one = estimate_price(600.0)
    assert plan.totals.estimated_cost == pytest.approx(one)
    assert [r.price_estimate for r in plan.rows] == [0.0, pytest.approx(one)]
    assert any("taken for free, saving" in n and "--captions-auto" in n for n in plan.totals.notes)
    # Automatic captions count only when asked for (B has English ones).
    auto = await build_plan(_batch(tmp_path), Settings(captions="first", captions_auto=True), cache_dir=None,
                            extract=fake_extract)
    assert auto.totals.with_captions == 2 and auto.totals.estimated_cost == 0
    assert [r.captions for r in auto.rows] == ["captions", "captions-auto"]


async def test_only_costs_nothing(tmp_path):
    plan = await build_plan(_batch(tmp_path), Settings(captions="only"), cache_dir=None, extract=fake_extract)
    assert plan.totals.estimated_cost == 0 and all(r.price_estimate in (None, 0.0) for r in plan.rows)
    assert any("nothing is paid" in n for n in plan.totals.notes)


async def test_a_page_track_counts_through_real_yt_dlp(tmp_path):
    files = {"/media/v1.mp4": ("video/mp4", b"\0" * 64), "/subs/en.vtt": ("text/vtt", b"WEBVTT\n\n"),
             "/pages/cap.html": ("text/html", html_page("Cap", ["/media/v1.mp4"], captions={"en": "/subs/en.vtt"})),
             "/pages/plain.html": ("text/html", html_page("Plain", ["/media/v1.mp4"]))}
    with media_server(files) as m:
        path = tmp_path / "batch.txt"
        path.write_text(f"{m.url('/pages/cap.html')}\n{m.url('/pages/plain.html')}\n", encoding="utf-8")
        plan = await build_plan(path, Settings(captions="first"), cache_dir=None, timeout=20)
    assert [r.captions for r in plan.rows] == ["captions", ""]
    assert plan.totals.with_captions == 1 and plan.totals.captions_unknown == 0
