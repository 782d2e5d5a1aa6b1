"""The user's cookies file is only ever read: yt-dlp gets a private copy per call.

yt-dlp writes its cookie jar back to `cookiefile` when it closes, not atomically: with
several lookups at once the user's file was truncated or corrupted, and even one lookup
rewrote it. Real yt-dlp against the loopback media server, many lookups at once.
"""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from pathlib import Path

import pytest

from bulk_transcribe.core.plan import build_plan
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.sources import expand as sources
from bulk_transcribe.core.sources.batch import read_batch
from bulk_transcribe.core.sources.expand import resolve

from .media_server import media_server

pytestmark = pytest.mark.anyio
OLD = 1_000_000_000   # an mtime from 2001: any write would move it


@pytest.fixture
def anyio_backend():
    return "asyncio"


def netscape(n: int = 300) -> str:
    """A browser export: many cookies on several domains, a session cookie, an HttpOnly one,
    comments and a line order yt-dlp would not write back the same way."""
    lines = ["# Netscape HTTP Cookie File", "# Exported by a browser extension. Edit at will.", ""]
    for i in range(n):
        domain = (".youtube.com", "127.0.0.1", ".example.org")[i % 3]
        lines.append("\t".join([domain, "TRUE" if domain.startswith(".") else "FALSE", "/", "FALSE",
                                str(2_000_000_000 + i), f"name{i}", f"value{i}-" + "x" * 40]))
    lines += ["#HttpOnly_.youtube.com\tTRUE\t/\tTRUE\t0\tSID\tsecret-session", "# trailing comment"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def cookies(tmp_path: Path) -> Path:
    path = tmp_path / "cookies.txt"
    path.write_text(netscape(), encoding="utf-8")
    path.chmod(0o600)
    os.utime(path, (OLD, OLD))
    return path


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch) -> Path:
    """Where tempfile puts things during the test, to check nothing is left behind."""
    where = tmp_path / "tmp"
    where.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    return where


@pytest.fixture
def spy(monkeypatch):
    """Sees what each real yt-dlp call was given (and still runs it)."""
    real = sources._extract_sync
    seen: list[tuple[str, int, int, bytes]] = []
    lock = threading.Lock()

    def watching(url, opts):
        path = opts.get("cookiefile")
        info = os.stat(path)
        with lock:
            seen.append((path, stat.S_IMODE(info.st_mode), stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode),
                         Path(path).read_bytes()))
        return real(url, opts)

    monkeypatch.setattr(sources, "_extract_sync", watching)
    return seen


def lines_for(tmp_path: Path, srv, n: int = 40):
    texts = [srv.url("/pages/three.html"), srv.url("/pages/two.html")]
    texts += [srv.url(f"/media/a.wav?copy={i}") for i in range(n)]   # distinct videos: one lookup each
    path = tmp_path / "batch.txt"
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    return path


def assert_untouched(cookies: Path, original: bytes) -> None:
    assert cookies.read_bytes() == original
    assert os.stat(cookies).st_mtime == OLD
    assert stat.S_IMODE(os.stat(cookies).st_mode) == 0o600


async def test_resolve_never_writes_the_cookies_file(tmp_path, cookies, private_tmp, spy):
    original = cookies.read_bytes()
    with media_server() as srv:
        batch = lines_for(tmp_path, srv)
        got = await resolve(read_batch(batch).lines, cookies=str(cookies), cache_dir=None, concurrency=12,
                            timeout=20)
        cookie_headers = list(srv.cookie_headers)
    assert not got.problems and len(got.videos) == 4 + 40
    assert_untouched(cookies, original)
    assert len(spy) >= 2 + 40                           # every page and link was looked up, 12 at a time
    assert len({path for path, *_ in spy}) == len(spy)  # a copy of its own for every call
    for path, mode, dir_mode, content in spy:
        assert Path(path).parent != cookies.parent and Path(path).is_relative_to(private_tmp)
        assert mode == 0o600 and dir_mode == 0o700 and content == original
    assert cookie_headers and all("name1=value1-" in h for h in cookie_headers)   # the copy was read
    assert list(private_tmp.iterdir()) == []            # every copy is gone


async def test_plan_never_writes_the_cookies_file(tmp_path, cookies, private_tmp, spy):
    original = cookies.read_bytes()
    with media_server() as srv:
        plan = await build_plan(lines_for(tmp_path, srv, n=20), Settings(cookies=str(cookies)), cache_dir=None,
                                source_concurrency=8, timeout=20)
    assert len(plan.rows) == 4 + 20 and len(spy) >= 2 + 20
    assert_untouched(cookies, original)
    assert list(private_tmp.iterdir()) == []


async def test_a_failing_lookup_leaves_no_copy_behind(tmp_path, cookies, private_tmp):
    original = cookies.read_bytes()
    with media_server() as srv:
        batch = tmp_path / "batch.txt"
        batch.write_text(srv.url("/pages/missing.html") + "\n", encoding="utf-8")
        got = await resolve(read_batch(batch).lines, cookies=str(cookies), cache_dir=None, timeout=20)
    assert got.problems and "404" in got.problems[0].message
    assert_untouched(cookies, original)
    assert list(private_tmp.iterdir()) == []


async def test_an_abandoned_lookup_deletes_its_copy_when_it_ends(tmp_path, cookies, private_tmp):
    import anyio

    original = cookies.read_bytes()
    with media_server() as srv:
        batch = tmp_path / "batch.txt"
        batch.write_text(srv.url("/slow/page.html") + "\n", encoding="utf-8")
        got = await resolve(read_batch(batch).lines, cookies=str(cookies), cache_dir=None, timeout=1,
                            expand_timeout=1)
        assert got.problems and "gave up" in got.problems[0].message
        assert list(private_tmp.iterdir())   # still in use by the thread yt-dlp runs in
        srv.release()   # the abandoned yt-dlp thread now gets its answer and ends
        with anyio.fail_after(30):
            while list(private_tmp.iterdir()):
                await anyio.sleep(0.1)
    assert_untouched(cookies, original)


def test_a_run_that_used_the_cookies_leaves_the_file_untouched(tmp_path, cookies, private_tmp, monkeypatch):
    """The run's own yt-dlp calls (a page's captions looked up and fetched, a page downloaded for
    upload) against the simulator: each gets a copy; the user's file is byte-for-byte the same."""
    from bulk_transcribe.core.model import VideoState
    from bulk_transcribe.core.run import captions as run_captions
    from bulk_transcribe.core.simulator import SimConfig, SimServer

    from .audio import tone
    from .engine_harness import make_session, run_engine
    from .media_server import html_page

    original = cookies.read_bytes()
    files = {
        "/media/v1.mp4": ("video/mp4", b"\0" * 64),
        "/media/talk.mp3": ("audio/mpeg", tone(3.0)),
        "/subs/talk.en.vtt": ("text/vtt", b"WEBVTT\n\n00:00:01.250 --> 00:00:03.500\nWelcome.\n"),
        "/pages/captioned.html": ("text/html", html_page("Captioned", ["/media/v1.mp4"],
                                                         captions={"en": "/subs/talk.en.vtt"})),
        "/pages/plain.html": ("text/html", html_page("Plain", ["/media/talk.mp3"])),
    }
    monkeypatch.setattr(run_captions, "GAP", 0.05)
    with media_server(files) as m, SimServer(SimConfig(latency=(0.1, 0.3))) as sim:
        urls = [m.url("/pages/captioned.html"), m.url("/pages/plain.html")]
        session = make_session(tmp_path, urls, sim.base_url, captions="first", cookies=str(cookies), concurrency=2)
        finished, _ = run_engine(session)
        cookie_headers = list(m.cookie_headers)
        jobs = sim.jobs_created()
    assert finished.done == 2, [(v.url, v.message) for v in session.videos]
    assert [v.state for v in session.videos] == [VideoState.DONE, VideoState.DONE] and jobs == 1
    assert cookie_headers and all("name1=value1-" in h for h in cookie_headers), "the run's calls used the cookies"
    assert_untouched(cookies, original)
    assert list(private_tmp.iterdir()) == [], "every copy is gone"
