"""sources.resolve against real yt-dlp over loopback HTTP, plus dedupe properties with a fake yt-dlp."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from unittest import mock

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulk_transcribe.core.model import Video
from bulk_transcribe.core.sources import expand as sources
from bulk_transcribe.core.sources.batch import read_batch
from bulk_transcribe.core.sources.expand import (
    SourceFailure,
    explain,
    order_videos,
    read_cached,
    resolve,
    write_cached,
)
from bulk_transcribe.core.sources.urls import normalize

from .media_server import closed_port, media_server

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def server():
    with media_server() as srv:
        yield srv


def batch_lines(tmp_path: Path, texts: list[str]):
    path = tmp_path / f"batch-{time.monotonic_ns()}.txt"
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    return read_batch(path).lines


YT_A = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
YT_B = "https://www.youtube.com/watch?v=9bZkp7q19f0"
YT_PLAYLIST = "https://www.youtube.com/playlist?list=PLFgquLnL59alCl_2TQvOiD5Vgm1hCaGSI"


# -- real yt-dlp, loopback ------------------------------------------------------------------


async def test_page_expands_into_one_video_per_media_element(tmp_path, server):
    page = server.url("/pages/three.html")
    got = await resolve(batch_lines(tmp_path, [page]), timeout=20)
    assert not got.problems
    assert [v.url for v in got.videos] == [server.url(p) for p in ("/media/v1.mp4", "/media/a.wav", "/media/v2.mp4")]
    assert len({v.key for v in got.videos}) == 3
    for v in got.videos:
        assert v.line == 0 and v.source == normalize(page).url  # expanded: the source says where from
        assert v.title.startswith("Three clips")


async def test_direct_media_link_is_one_video(tmp_path, server):
    got = await resolve(batch_lines(tmp_path, [server.url("/media/a.wav")]), timeout=20)
    assert not got.problems
    [video] = got.videos
    assert video.line == 1 and video.source == "" and video.title == "a"


async def test_hls_playlist_carries_its_duration(tmp_path, server):
    got = await resolve(batch_lines(tmp_path, [server.url("/media/talk.m3u8")]), timeout=20)
    [video] = got.videos
    assert video.duration == pytest.approx(25.5, abs=1)


async def test_unreachable_and_missing_sources_are_explained(tmp_path, server):
    dead = f"http://127.0.0.1:{closed_port()}/pages/gone.html"
    missing = server.url("/pages/missing.html")
    got = await resolve(batch_lines(tmp_path, [dead, missing, server.url("/media/b.wav")]), timeout=20)
    assert [v.url for v in got.videos] == [server.url("/media/b.wav")]
    by_line = {p.line: p for p in got.problems}
    assert set(by_line) == {1, 2}
    assert all(p.category == "source" for p in got.problems)
    assert "could not reach the source" in by_line[1].message and "refused" in by_line[1].message
    assert "404" in by_line[2].message


async def test_youtube_video_without_network_stays_in_the_batch(tmp_path):
    proxy = f"http://127.0.0.1:{closed_port()}"
    got = await resolve(batch_lines(tmp_path, [YT_A]), proxy=proxy, timeout=20)
    [video] = got.videos
    assert video.key == normalize(YT_A).key and video.duration is None
    [problem] = got.problems
    assert problem.key == video.key and problem.line == 1
    assert "still submitted by URL" in problem.message and "could not reach" in problem.message
    assert "gave up after" not in problem.message   # the refusal itself, not our timeout


async def test_youtube_playlist_without_network_is_a_source_problem(tmp_path):
    proxy = f"http://127.0.0.1:{closed_port()}"
    got = await resolve(batch_lines(tmp_path, [YT_PLAYLIST, YT_B]), proxy=proxy, metadata=False, timeout=20)
    assert [v.key for v in got.videos] == [normalize(YT_B).key]
    [problem] = got.problems
    assert problem.line == 1 and problem.key == "" and problem.category == "source"
    assert "could not reach the source" in problem.message


async def test_yt_dlp_writes_nothing_to_the_terminal(tmp_path, server, capfd):
    await resolve(batch_lines(tmp_path, [server.url("/pages/two.html"), server.url("/pages/nope.html")]), timeout=20)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


async def test_a_source_that_never_answers_times_out(tmp_path, server):
    got = await resolve(batch_lines(tmp_path, [server.url("/slow/page.html")]), timeout=0.5, expand_timeout=1.0)
    [problem] = got.problems
    assert "gave up after 1 s" in problem.message
    server.release()


async def test_metadata_cache_means_no_second_fetch(tmp_path, server):
    cache = tmp_path / "cache"
    # a WAV's length stays unknown: one successful read is still final
    lines = batch_lines(tmp_path, [server.url("/media/talk.m3u8"), server.url("/media/a.wav")])
    first = await resolve(lines, cache_dir=cache, timeout=20)
    key = first.videos[0].key
    assert read_cached(cache / "metadata", [key])[key]["duration"] == pytest.approx(25.5, abs=1)
    server.hits.clear()
    again = await resolve(lines, cache_dir=cache, timeout=20)
    assert server.hits.total() == 0
    assert [(v.key, v.title, v.duration) for v in again.videos] == [(v.key, v.title, v.duration) for v in first.videos]


async def test_cached_youtube_metadata_is_used_without_network(tmp_path):
    cache = tmp_path / "cache"
    key = normalize(YT_A).key
    write_cached(cache / "metadata", {key: {"title": "Never", "duration": 213.0, "channel": "Rick", "upload_date": "20091025"}})
    proxy = f"http://127.0.0.1:{closed_port()}"
    got = await resolve(batch_lines(tmp_path, [YT_A]), cache_dir=cache, proxy=proxy, timeout=20)
    assert not got.problems  # any fetch would have failed on the closed proxy
    [v] = got.videos
    assert (v.title, v.duration, v.channel, v.upload_date) == ("Never", 213.0, "Rick", "20091025")


async def test_corrupt_cache_file_is_ignored(tmp_path):
    meta = tmp_path / "cache" / "metadata"
    key = normalize(YT_A).key
    meta.mkdir(parents=True)
    sources.cache_path(meta, key).write_text("{not json", encoding="utf-8")
    assert read_cached(meta, [key]) == {}


# -- fake yt-dlp: fast paths, bounds and messages -----------------------------------------


def _refuse(url, opts):
    raise AssertionError(f"yt-dlp was called for {url}")


async def test_single_videos_without_metadata_never_call_yt_dlp(tmp_path):
    with mock.patch.object(sources, "_extract_sync", _refuse):
        got = await resolve(batch_lines(tmp_path, [YT_A, YT_B]), metadata=False)
    assert [v.key for v in got.videos] == [normalize(YT_A).key, normalize(YT_B).key]
    assert [v.line for v in got.videos] == [1, 2]


async def test_bot_check_message_names_the_cookies_remedy(tmp_path):
    def bot(url, opts):
        raise SourceFailure("ERROR: [youtube] dQw4w9WgXcQ: Sign in to confirm you\u2019re not a bot. "
                            "Use --cookies-from-browser or --cookies for the authentication.")

    with mock.patch.object(sources, "_extract_sync", bot):
        got = await resolve(batch_lines(tmp_path, [YT_A]))
    [problem] = got.problems
    assert "--cookies FILE" in problem.message and "config" in problem.message
    assert got.videos and got.videos[0].key == normalize(YT_A).key


def test_explain_mentions_given_cookies_when_they_fail():
    msg = explain("Sign in to confirm you're not a bot", cookies="/tmp/c.txt")
    assert "/tmp/c.txt" in msg and "fresh" in msg


async def test_missing_cookies_file_is_reported_once(tmp_path):
    with mock.patch.object(sources, "_extract_sync", _refuse):
        got = await resolve(batch_lines(tmp_path, [YT_A]), metadata=False, cookies=str(tmp_path / "nope.txt"))
    assert len(got.problems) == 1 and "not found" in got.problems[0].message


async def test_yt_dlp_calls_are_bounded(tmp_path):
    running, peak, lock = [0], [0], threading.Lock()

    def slow(url, opts):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return {"id": "x", "title": url.rsplit("/", 1)[-1], "duration": 5}

    pages = [f"https://example.com/show/{i}" for i in range(8)]
    with mock.patch.object(sources, "_extract_sync", slow):
        got = await resolve(batch_lines(tmp_path, pages), concurrency=2)
    assert peak[0] == 2 and len(got.videos) == 8


# -- ordering -------------------------------------------------------------------------------


def _v(key, duration):
    return Video(key=key, url=f"https://example.com/{key}", vid=key, duration=duration)


def test_order_shortest_puts_unknown_last_and_is_stable():
    videos = [_v("a", None), _v("b", 30), _v("c", 10), _v("d", None), _v("e", 30)]
    assert [v.key for v in order_videos(videos, "shortest")] == ["c", "b", "e", "a", "d"]
    assert [v.key for v in order_videos(videos, "input")] == ["a", "b", "c", "d", "e"]
    with pytest.raises(ValueError):
        order_videos(videos, "longest")


@given(st.lists(st.one_of(st.none(), st.floats(0, 1e5)), max_size=30))
def test_order_is_a_permutation_sorted_by_known_duration(durations):
    videos = [_v(str(i), d) for i, d in enumerate(durations)]
    ordered = order_videos(videos, "shortest")
    assert sorted(v.key for v in ordered) == sorted(v.key for v in videos)
    known = [v.duration for v in ordered if v.duration is not None]
    assert known == sorted(known)
    assert all(v.duration is None for v in ordered[len(known):])


# -- dedupe across expanded sources (property) ----------------------------------------------

IDS = [f"{c}{i:02d}abcdefgh"[:11] for c in "AB" for i in range(6)]  # 12 valid-looking ids


def _watch(vid: str) -> str:
    return f"https://www.youtube.com/watch?v={vid}"


item = st.one_of(
    st.builds(lambda v: ("video", [v]), st.sampled_from(IDS)),
    st.builds(lambda vs: ("page", vs), st.lists(st.sampled_from(IDS), max_size=6)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(item, min_size=1, max_size=10), done=st.sets(st.sampled_from(IDS), max_size=4))
def test_dedupe_across_expanded_sources(tmp_path, items, done):
    pages: dict[str, list[str]] = {}
    texts = []
    for i, (kind, vids) in enumerate(items):
        if kind == "video":
            texts.append(_watch(vids[0]))
        else:
            url = f"https://example.com/collection/{i}"
            pages[normalize(url).url] = vids
            texts.append(url)

    def fake(url, opts):
        return {"_type": "playlist", "entries": [{"_type": "url", "url": _watch(v), "title": v}
                                                 for v in pages[url]]}

    done_keys = frozenset(normalize(_watch(v)).key for v in done)
    with mock.patch.object(sources, "_extract_sync", fake):
        got = anyio.run(lambda: resolve(batch_lines(tmp_path, texts), metadata=False, done_keys=done_keys))

    wanted = [normalize(_watch(v)).key for _, vids in items for v in vids]
    keys = [v.key for v in got.videos]
    assert len(keys) == len(set(keys))
    assert set(keys) == set(wanted) - done_keys
    assert got.skipped_done == len(set(wanted) & done_keys)
    assert len(got.duplicates) == len(wanted) - len(set(wanted))
    assert not got.problems


# -- channel tabs: what yt-dlp already listed is not asked again -------------------------------

CHANNEL = "https://www.youtube.com/@somechannel"
TAB_IDS = {"videos": IDS[:4], "shorts": IDS[4:7], "streams": IDS[7:9]}


class CountingExtractor:
    """Stands in for yt-dlp (resolve's `extract` seam) and counts the calls per URL."""

    def __init__(self, answers: dict[str, dict]) -> None:
        self.answers, self.calls, self.lock = answers, [], threading.Lock()

    def __call__(self, url, opts):
        with self.lock:
            self.calls.append(url)
        if url not in self.answers:
            raise SourceFailure(f"unexpected call for {url}")
        return self.answers[url]


def tab(name: str, *, with_entries: bool) -> dict:
    entry = {"_type": "playlist" if with_entries else "url", "ie_key": "YoutubeTab",
             "title": f"somechannel - {name.title()}", "url": f"{CHANNEL}/{name}",
             "webpage_url": f"{CHANNEL}/{name}"}
    if with_entries:
        entry["entries"] = [{"_type": "url", "ie_key": "Youtube", "id": v, "url": _watch(v), "title": f"{name} {v}",
                             "duration": 60 + i} for i, v in enumerate(TAB_IDS[name])]
    return entry


def tab_answer(name: str) -> dict:
    return {"_type": "playlist", "id": name, "title": name,
            "entries": tab(name, with_entries=True)["entries"]}


async def test_channel_tabs_listed_with_their_entries_cost_one_call(tmp_path):
    root = {"_type": "playlist", "id": "UC123", "title": "somechannel",
            "entries": [tab(name, with_entries=True) for name in TAB_IDS]
            + [{"_type": "playlist", "title": "somechannel - Empty", "url": f"{CHANNEL}/podcasts", "entries": []}]}
    fake = CountingExtractor({CHANNEL: root})
    got = await resolve(batch_lines(tmp_path, [CHANNEL]), metadata=False, extract=fake)
    assert fake.calls == [CHANNEL]                      # the tabs were in the answer: no call per tab
    assert [v.vid for v in got.videos] == [v for ids in TAB_IDS.values() for v in ids]
    assert all(v.source == CHANNEL and v.title and v.duration for v in got.videos)
    assert not got.problems


async def test_channel_tabs_given_by_reference_are_asked_once_each(tmp_path):
    root = {"_type": "playlist", "id": "UC123", "title": "somechannel",
            "entries": [tab(name, with_entries=False) for name in TAB_IDS]}
    answers = {CHANNEL: root} | {f"{CHANNEL}/{name}": tab_answer(name) for name in TAB_IDS}
    fake = CountingExtractor(answers)
    got = await resolve(batch_lines(tmp_path, [CHANNEL]), metadata=False, extract=fake)
    assert sorted(fake.calls) == sorted(answers)        # root, then each tab once
    assert len(got.videos) == sum(len(ids) for ids in TAB_IDS.values()) and not got.problems


async def test_nested_entries_are_walked_in_place_and_deduped(tmp_path):
    """A tab holding a playlist by reference, and a video in two tabs: one more call, one video."""
    playlist = "https://www.youtube.com/playlist?list=PLFgquLnL59alCl_2TQvOiD5Vgm1hCaGSI"
    videos = tab("videos", with_entries=True)
    videos["entries"].append({"_type": "url", "url": _watch(TAB_IDS["shorts"][0]), "title": "again"})
    playlists = {"_type": "playlist", "title": "somechannel - Playlists", "url": f"{CHANNEL}/playlists",
                 "entries": [{"_type": "url", "ie_key": "YoutubeTab", "url": playlist, "title": "A list"},
                             {"_type": "url", "url": "not a url", "title": "broken"}]}
    root = {"_type": "playlist", "entries": [videos, tab("shorts", with_entries=True), playlists]}
    listed = {"_type": "playlist", "entries": [{"_type": "url", "url": _watch(IDS[11]), "title": "listed"}]}
    fake = CountingExtractor({CHANNEL: root, playlist: listed})
    got = await resolve(batch_lines(tmp_path, [CHANNEL]), metadata=False, extract=fake)
    assert fake.calls == [CHANNEL, playlist]
    assert [v.vid for v in got.videos] == TAB_IDS["videos"] + TAB_IDS["shorts"] + [IDS[11]]
    assert len(got.duplicates) == 1
    [problem] = got.problems
    assert "unusable URL" in problem.message and f"{CHANNEL}/playlists" in problem.message


async def test_max_per_source_takes_the_first_entries_of_a_page(tmp_path, server):
    """`--max-per-source 2` on a loopback page with three media (real yt-dlp): the first two."""
    page = server.url("/pages/three.html")
    got = await resolve(batch_lines(tmp_path, [page, server.url("/media/b.wav")]), timeout=20, max_per_source=2)
    assert [v.url for v in got.videos] == [server.url(p) for p in ("/media/v1.mp4", "/media/a.wav", "/media/b.wav")]
    assert not got.problems


async def test_max_per_source_counts_across_a_channels_tabs_and_asks_no_tab_past_it(tmp_path):
    root = {"_type": "playlist", "id": "UC123", "title": "somechannel",
            "entries": [tab(name, with_entries=False) for name in TAB_IDS]}
    answers = {CHANNEL: root} | {f"{CHANNEL}/{name}": tab_answer(name) for name in TAB_IDS}
    fake = CountingExtractor(answers)
    first = list(TAB_IDS)[0]
    cap = len(TAB_IDS[first]) + 1   # all of the first tab and one of the second
    got = await resolve(batch_lines(tmp_path, [CHANNEL]), metadata=False, extract=fake, max_per_source=cap)
    second = list(TAB_IDS)[1]
    assert [v.vid for v in got.videos] == TAB_IDS[first] + TAB_IDS[second][:1]
    assert fake.calls == [CHANNEL, f"{CHANNEL}/{first}", f"{CHANNEL}/{second}"], "no tab is asked past the cap"
