"""A lookup hands the event loop a few fields, never yt-dlp's info dict, and calls reuse idle
YoutubeDL instances (no more than run at once) instead of building one per call (issue 15, point 5).

Real yt-dlp against the loopback media server, except where a playlist's shape is needed.
"""

from __future__ import annotations

import pytest
import yt_dlp

from bulk_transcribe.core.sources import expand as sources
from bulk_transcribe.core.sources.expand import Extractor, resolve

from .media_server import default_files, html_page, media_server
from .test_sources import batch_lines
from .test_sources_cookies import netscape

pytestmark = pytest.mark.anyio
SLIM_KEYS = {"_type", "title", "duration", "channel", "uploader", "upload_date", "language", "captions", "entries"}
LINK_KEYS = {"url", "webpage_url", "ie_key", "id"}


@pytest.fixture
def anyio_backend():
    return "asyncio"


def _files() -> dict:
    files = default_files()
    files["/subs/en.vtt"] = ("text/vtt", b"WEBVTT\n\n00:00.000 --> 00:01.000\nhi\n")
    files["/pages/talk.html"] = ("text/html", html_page("A talk", ["/media/v1.mp4"], {"en": "/subs/en.vtt"}))
    return files


def _extractor(**kw) -> Extractor:
    return Extractor(cookies="", proxy=None, cache_dir=None, concurrency=2, timeout=20, **kw)


async def test_a_lookup_returns_the_few_fields_with_compact_captions():
    with media_server(_files()) as srv:
        info = await _extractor().extract(srv.url("/pages/talk.html"), single=True)
    assert set(info) <= SLIM_KEYS, set(info) - SLIM_KEYS   # no formats, headers, thumbnails, subtitles
    assert info["title"] and all(isinstance(v, (str, int, float, list)) for v in info.values())
    [track] = info["captions"]
    assert track.startswith("sub:en:vtt:http://127.0.0.1:") and track.endswith("/subs/en.vtt")


async def test_a_playlist_keeps_only_what_its_walk_follows():
    bulky = {"formats": [{"url": "http://x/" + "f" * 500}] * 30, "thumbnails": [{"url": "t"}] * 20,
             "description": "d" * 5000, "http_headers": {"User-Agent": "x"}}

    def fake(url, opts):
        entries = [{"_type": "url", "url": f"https://www.youtube.com/watch?v=dQw4w9WgXc{i}", "title": f"v{i}",
                    "duration": 60 + i, "ie_key": "Youtube", "id": f"dQw4w9WgXc{i}", **bulky} for i in range(5)]
        return {"_type": "playlist", "title": "list", "entries": iter(entries), **bulky}

    info = await _extractor(extract=fake).extract("https://example.com/list", single=False)
    assert set(info) == {"_type", "title", "entries"}
    assert len(info["entries"]) == 5
    for i, e in enumerate(info["entries"]):
        assert set(e) <= SLIM_KEYS | LINK_KEYS and e["duration"] == 60 + i and e["url"].endswith(str(i))
    assert sources.slim(info) == info   # idempotent: slimming what a lookup returned changes nothing


async def test_no_more_youtubedl_instances_than_calls_at_once(tmp_path, monkeypatch):
    built: list[int] = []
    real_init = yt_dlp.YoutubeDL.__init__

    def counting_init(self, *args, **kwargs):
        built.append(1)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(yt_dlp.YoutubeDL, "__init__", counting_init)
    monkeypatch.setattr(sources, "_idle", {})   # none left idle by earlier tests
    with media_server() as srv:
        got = await resolve(batch_lines(tmp_path, [srv.url(f"/media/a.wav?copy={i}") for i in range(16)]),
                            cache_dir=None, concurrency=2, timeout=20)
    assert len(got.videos) == 16 and not got.problems
    assert len(built) <= 2   # 32 calls (an expansion and a lookup per link), 2 at a time: 2 instances


async def test_cookies_of_one_call_never_reach_the_next(tmp_path):
    cookies = tmp_path / "cookies.txt"
    cookies.write_text(netscape(9), encoding="utf-8")
    with media_server() as srv:
        batch = [srv.url(f"/media/a.wav?copy={i}") for i in range(4)]
        await resolve(batch_lines(tmp_path, batch), cookies=str(cookies), cache_dir=None, concurrency=1, timeout=20)
        with_cookies = len(srv.cookie_headers)
        await resolve(batch_lines(tmp_path, [u + "&again" for u in batch]), cache_dir=None, concurrency=1,
                      timeout=20)
        after = srv.cookie_headers[with_cookies:]
    assert with_cookies >= 4 and after == []   # the same threads' YoutubeDL, its jar emptied for each call


async def test_many_sources_are_expanded_by_a_few_tasks_not_one_each():
    """10,000 pages once meant 10,000 waiting tasks (~120 MB at the start of scenario 11)."""
    import asyncio

    from bulk_transcribe.core.sources.stream import Feeder, Source

    tasks: list[int] = []

    def fake(url, opts):
        return {"title": url.rsplit("/", 1)[-1], "duration": 5.0}

    async def on_videos(src, videos):
        tasks.append(len(asyncio.all_tasks()))
        return videos

    feeder = Feeder(extract=fake, cache_dir=None, concurrency=3)
    sources_ = [Source(i + 1, f"https://example.com/show/{i}") for i in range(300)]
    await feeder.run(sources_, [], known=set(), on_videos=on_videos, on_meta=lambda v, m: None,
                     on_source_done=lambda s, p: None, say=lambda level, msg: None)
    assert len(tasks) == 300 and max(tasks) < 20, max(tasks)
