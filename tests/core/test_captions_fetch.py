"""Fetching caption files: one request at a time however many workers ask, 429s waited out,
and the user's cookies sent from a private copy, the file itself never written."""

from __future__ import annotations

import os
import time

import anyio
import pytest

from bulk_transcribe.core.run.captions import CaptionFetcher
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.sources.captions import CaptionFetchFailed
from bulk_transcribe.core.sources.tracks import Track

from .media_server import media_server
from .test_sources_cookies import OLD, netscape

pytestmark = pytest.mark.anyio
VTT = b"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nhi\n"


@pytest.fixture
def anyio_backend():
    return "asyncio"


def _files(n: int) -> dict:
    return {f"/subs/{i}.vtt": ("text/vtt", VTT) for i in range(n)}


async def test_workers_asking_at_once_fetch_one_at_a_time_with_cookies(tmp_path):
    cookies = tmp_path / "cookies.txt"
    cookies.write_text(netscape(30), encoding="utf-8")
    os.utime(cookies, (OLD, OLD))
    before = cookies.read_bytes()
    with media_server(_files(6)) as m:
        fetcher = CaptionFetcher(Settings(cookies=str(cookies)), cache_dir=None, clock=time.monotonic, gap=0.01)
        got: list[bytes] = []

        async def one(i: int) -> None:
            got.append(await fetcher.fetch(Track(False, "en", "vtt", m.url(f"/subs/{i}.vtt")), lambda *_: None))

        async with anyio.create_task_group() as tg:
            for i in range(6):
                tg.start_soon(one, i)
        peak, sent = m.peak, list(m.cookie_headers)
    assert got == [VTT] * 6
    assert peak == 1, "caption requests are paced: never two at once"
    assert len(sent) == 6 and all("name1=value1-" in c for c in sent), "the user's cookies went with each"
    assert cookies.read_bytes() == before and os.stat(cookies).st_mtime == OLD, "the user's file is never written"


async def test_429_is_waited_out_then_a_dead_file_fails_at_once():
    with media_server(_files(1)) as m:
        m.refuse["/subs/0.vtt"] = [429, 503]
        fetcher = CaptionFetcher(Settings(), cache_dir=None, clock=time.monotonic, gap=0.01)
        waits: list[str] = []
        data = await fetcher.fetch(Track(False, "en", "vtt", m.url("/subs/0.vtt")), lambda s, why: waits.append(why))
        assert data == VTT and m.hits["/subs/0.vtt"] == 3
        assert waits and "429 from the caption site" in waits[0]
        with pytest.raises(CaptionFetchFailed) as info:
            await fetcher.fetch(Track(False, "en", "vtt", m.url("/subs/missing.vtt")), lambda *_: None)
        assert info.value.status == 404 and m.hits["/subs/missing.vtt"] == 1, "a 404 is not asked again"
