"""Turn batch lines into distinct videos: expand playlists, channels and pages, read metadata.

yt-dlp is used only through its Python API, always in a worker thread (it is synchronous and
does network I/O), a bounded number at once, each call under an overall time limit, and quiet:
its messages go to a private logger, never to stdout. Metadata is an enrichment: a video whose
metadata cannot be read is still returned and will be submitted by its URL. Metadata that was
read goes to the on-disk cache (metadata_cache.py), so a reopened session never asks again.

The user's cookies file is only ever read, once per `resolve`: yt-dlp saves its cookie jar back
to `cookiefile` when it closes (not atomically, so concurrent calls truncate and corrupt it, and
even one call rewrites it), so every call gets a private copy instead: a file of mode 0600 in a
fresh 0700 temporary folder, made in the worker thread just before the call and deleted just
after it (an abandoned call deletes its own when it ends).

A call's cost is mostly yt-dlp's, not the site's: building a `YoutubeDL` (~70 ms of CPU: every
extractor registered, a TLS context loaded) took more than the extraction itself, and each one
left the C heap of its thread a little bigger. So calls borrow an idle `YoutubeDL` built for the
run's options (`borrowed_ydl`) and only the per-call ones (logger, single video or not, the
private cookies copy) change between calls. And what a call returns to the event loop is
`slim(info)`: the dozen fields the engine reads, made in the worker thread, so no info dict
(formats, thumbnails, HTTP headers, every caption URL in 150 languages) outlives its call.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from ..errors import Category
from ..model import Video
from .batch import BatchLine
from .metadata_cache import cache_path, read_cached, write_cached  # noqa: F401

# cache_path is unused here but stays importable from sources, where callers first found it.
from .tracks import caption_tracks
from .urls import NormalizedUrl, UrlError, normalize

EXPANDABLE = ("playlist", "channel", "page")
COOKIES_REMEDY = (
    "YouTube asks this server's address to sign in. Export the cookies of a logged-in browser "
    "to a file (Netscape cookies.txt format) and pass it with --cookies FILE, or set "
    'cookies = "FILE" in the config file'
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_MAX_DEPTH = 2  # a channel's root lists its tabs (videos, shorts, streams), each a playlist


@dataclass(frozen=True)
class SourceProblem:
    """Why a source could not be expanded, or a video's metadata could not be read.

    `key` is set when the problem concerns one video that is still in the batch (a metadata
    failure); it is empty when a whole source was lost (nothing of it is in the batch)."""

    line: int
    url: str
    category: str
    message: str
    key: str = ""


@dataclass
class Resolved:
    """The distinct videos of a batch, in input order (expanded entries in place of their source).

    `duplicates` holds (line, url, key) for every item dropped because the same key came first;
    `skipped_done` counts distinct keys left out because they were in `done_keys`."""

    videos: list[Video]
    problems: list[SourceProblem] = field(default_factory=list)
    skipped_done: int = 0
    duplicates: list[tuple[int, str, str]] = field(default_factory=list)


class SourceFailure(Exception):
    """A yt-dlp call failed; the message is already written for the user."""


# -- yt-dlp in a thread ---------------------------------------------------------------


class QuietLogger:
    """Receives everything yt-dlp would print; keeps warnings and errors for the report."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def debug(self, msg: str) -> None:
        pass

    info = debug

    def warning(self, msg: str) -> None:
        self.messages.append(ytdlp_message(msg))

    error = warning


def ytdlp_message(msg: str) -> str:
    """yt-dlp's message without its colours, its ERROR:/WARNING: prefix and its "caused by" tail
    (not a sanitiser: text shown to a person still goes through `core.sanitize.clean`)."""
    msg = _ANSI.sub("", str(msg)).strip()
    for prefix in ("ERROR: ", "WARNING: "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    return re.sub(r"\s*\(caused by .*\)\s*$", "", msg, flags=re.S)


def explain(raw: str, *, cookies: str = "") -> str:
    """A yt-dlp error turned into one sentence the user can act on."""
    msg = ytdlp_message(raw)
    low = msg.lower()
    if "not a bot" in low or "sign in to confirm" in low:
        if cookies:
            return f"{msg}. The cookies in {cookies} were not accepted: export fresh ones from a logged-in browser"
        return f"{msg}. {COOKIES_REMEDY}"
    if "unsupported url" in low:
        return f"yt-dlp cannot read this page ({msg})"
    if any(s in low for s in ("connection refused", "unable to download", "timed out", "name or service",
                               "temporary failure", "network is unreachable", "proxy")):
        return f"could not reach the source: {msg}"
    return msg


def ytdlp_options(*, logger: QuietLogger, proxy: str | None, socket_timeout: float,
             cache_dir: Path | None, single: bool) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "quiet": True, "no_warnings": True, "noprogress": True, "logger": logger,
        "skip_download": True, "extract_flat": "in_playlist", "socket_timeout": socket_timeout,
        "extractor_retries": 1, "format": "bestaudio/best", "ignore_no_formats_error": True,
        "noplaylist": single, "color": {"stdout": "no_color", "stderr": "no_color"},
        # yt-dlp's own cache (YouTube player code) lives beside ours, never in the user's home.
        "cachedir": str(cache_dir / "yt-dlp") if cache_dir else False,
    }
    if proxy is not None:
        opts["proxy"] = proxy
    return opts


Extract = Callable[[str, dict[str, Any]], dict[str, Any]]   # (url, yt-dlp options) -> info, in a thread


def with_private_cookies(extract: Extract, url: str, opts: dict[str, Any], cookies: bytes | None
                          ) -> dict[str, Any]:
    """`extract(url, opts)` with `cookies` (the user's file, read once) in a private copy that
    only this call sees and writes; the copy and its folder are deleted when the call ends."""
    if cookies is None:
        return extract(url, opts)
    folder = tempfile.mkdtemp(prefix="bulk-transcribe-cookies-")   # mode 0700
    try:
        path = os.path.join(folder, "cookies.txt")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(cookies)
        return extract(url, {**opts, "cookiefile": path})
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _read_cookies(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


# Options a YoutubeDL takes per call; every other option is the run's and picks the instance.
_PER_CALL = ("logger", "noplaylist", "cookiefile", "outtmpl", "progress_hooks")
_IDLE_KEPT = 8   # idle instances kept per set of options: more than the calls a run makes at once
_idle: dict[str, list[Any]] = {}
_idle_lock = threading.Lock()


@contextmanager
def borrowed_ydl(opts: dict[str, Any]) -> Iterator[Any]:
    """An idle `YoutubeDL` for `opts`' run options (built when none is idle), set up for one call:
    this call's logger, playlist choice, output template and progress hooks, and a cookie jar
    emptied and loaded from this call's `cookiefile` (the private copy) if any. One call at a
    time uses an instance, so there are never more than the calls in flight (an abandoned call
    keeps its own until it ends). `cookiefile` never reaches yt-dlp's params, so yt-dlp has no
    file to save the jar to; the jar is emptied again when the call ends."""
    import yt_dlp  # heavy: imported only by the worker that needs it

    base = {k: v for k, v in opts.items() if k not in _PER_CALL}
    key = repr(sorted(base.items()))
    with _idle_lock:
        idle = _idle.get(key)
        ydl = idle.pop() if idle else None
    if ydl is None:
        ydl = yt_dlp.YoutubeDL({**base, "logger": opts.get("logger")})
    ydl.params["logger"] = opts.get("logger")
    ydl.params["noplaylist"] = bool(opts.get("noplaylist"))
    if "outtmpl" in opts:
        ydl.params["outtmpl"] = {"default": opts["outtmpl"]}
        ydl._parse_outtmpl()   # what __init__ does with `outtmpl`: the other templates' defaults
    ydl._progress_hooks[:] = list(opts.get("progress_hooks") or ())   # what __init__ fills from the option
    jar = ydl.cookiejar
    jar.clear()
    try:
        if opts.get("cookiefile"):
            jar.load(opts["cookiefile"])
        yield ydl
    finally:
        jar.clear()
        ydl.params["logger"] = None
        ydl._progress_hooks.clear()
        with _idle_lock:
            idle = _idle.setdefault(key, [])
            if len(idle) < _IDLE_KEPT:
                idle.append(ydl)


def _extract_sync(url: str, opts: dict[str, Any]) -> dict[str, Any]:
    logger: QuietLogger = opts["logger"]
    try:
        with borrowed_ydl(opts) as ydl:
            info = ydl.extract_info(url, download=False)
        if info is None:
            raise SourceFailure(logger.messages[-1] if logger.messages else "yt-dlp returned nothing")
        return info
    except SourceFailure:
        raise
    except Exception as exc:  # yt-dlp raises DownloadError and, on odd pages, anything else
        raise SourceFailure(ytdlp_message(str(exc)) or type(exc).__name__) from exc


_META = ("title", "duration", "channel", "uploader", "upload_date", "language")
_LINK = ("_type", "url", "webpage_url", "ie_key", "id")   # what `_walk` reads of a playlist's entries


def slim(info: dict[str, Any], *, entry: bool = False) -> dict[str, Any]:
    """The few fields of a yt-dlp info dict the engine reads: `_META`, a video's caption tracks
    in compact form (`captions`, see tracks.py; only when yt-dlp listed subtitles), and a
    playlist's `entries`, each slimmed with the `_LINK` fields `_walk` follows. Scalars only;
    everything else (formats, thumbnails, headers, descriptions) is left behind. Idempotent."""
    keep = _META + _LINK if entry else (*_META, "_type")
    out: dict[str, Any] = {k: v for k in keep if isinstance(v := info.get(k), (str, int, float))}
    if isinstance(info.get("captions"), list):
        out["captions"] = [str(t) for t in info["captions"]]
    elif info.get("_type", "video") == "video" and "subtitles" in info:
        # Only a video's own info lists captions; a playlist's flat entries never do.
        out["captions"] = caption_tracks(info)
    entries = info.get("entries")
    if entries is not None and not isinstance(entries, (str, bytes, dict)):
        out["entries"] = [slim(e, entry=True) for e in entries if isinstance(e, dict)]
    return out


def _slim_call(extract: Extract, url: str, opts: dict[str, Any], cookies: bytes | None) -> dict[str, Any]:
    return slim(with_private_cookies(extract, url, opts, cookies))


class Extractor:
    """Runs yt-dlp calls in threads: at most `concurrency` at once, each under `timeout` seconds.

    A call that runs out of time is abandoned (a thread cannot be killed); it ends on its own
    within yt-dlp's socket timeout, so abandoned threads never pile up for long. `cookies` names
    the user's file (for messages); `cookie_bytes` is its content, given to each call as a
    private copy (None: no cookies). `extract` replaces yt-dlp (`_extract_sync`) for tests.
    What a call returns is `slim`med in its thread: the event loop never holds an info dict."""

    def __init__(self, *, cookies: str, proxy: str | None, cache_dir: Path | None,
                 concurrency: int, timeout: float, cookie_bytes: bytes | None = None,
                 extract: Extract | None = None) -> None:
        self.cookies, self.proxy, self.cache_dir, self.timeout = cookies, proxy, cache_dir, timeout
        self.cookie_bytes, self.extract_fn = cookie_bytes, extract
        self.limiter = anyio.CapacityLimiter(max(1, concurrency))

    async def extract(self, url: str, *, single: bool, timeout: float | None = None) -> dict[str, Any]:
        """Raise SourceFailure with a user-facing message when the call fails or times out."""
        limit = timeout or self.timeout
        opts = ytdlp_options(logger=QuietLogger(), proxy=self.proxy,
                        socket_timeout=max(1.0, min(20.0, self.timeout / 3)),
                        cache_dir=self.cache_dir, single=single)
        async with self.limiter:  # waiting for a slot does not count against the time limit
            with anyio.move_on_after(limit):
                try:
                    return await anyio.to_thread.run_sync(
                        _slim_call, self.extract_fn or _extract_sync, url, opts, self.cookie_bytes,
                        abandon_on_cancel=True)
                except SourceFailure as exc:
                    raise SourceFailure(explain(str(exc), cookies=self.cookies)) from None
        raise SourceFailure(f"gave up after {limit:g} s: the source did not answer in time")


# -- metadata --------------------------------------------------------------------------


def meta_from_info(info: dict[str, Any]) -> dict[str, Any]:
    """A video's metadata from its info (yt-dlp's, or `slim`'s form of it)."""
    info = slim(info)
    duration = info.get("duration")
    return {
        "title": str(info.get("title") or ""),
        "duration": float(duration) if isinstance(duration, (int, float)) and duration >= 0 else None,
        "channel": str(info.get("channel") or info.get("uploader") or ""),
        "upload_date": str(info.get("upload_date") or ""),
        **({"captions": info["captions"], "language": str(info.get("language") or "")}
           if "captions" in info else {}),
    }


def apply_meta(video: Video, meta: dict[str, Any]) -> None:
    """Fill what is missing. A title already there wins: the user's own, or the playlist's
    (a page's "Talk (2)" says more than the media file's name a second fetch would find)."""
    if meta.get("title") and not video.title:
        video.title = meta["title"]
    if meta.get("duration") is not None:
        video.duration = float(meta["duration"])
    video.channel = meta.get("channel") or video.channel
    video.upload_date = meta.get("upload_date") or video.upload_date
    if isinstance(meta.get("captions"), list):
        video.captions, video.captions_known = list(meta["captions"]), True
        video.language = meta.get("language") or video.language


def is_complete(video: Video) -> bool:
    """Enough for names, ordering and estimates; upload dates alone are not worth a fetch."""
    return bool(video.title) and video.duration is not None


# -- resolve ---------------------------------------------------------------------------


def _entry_url(entry: dict[str, Any]) -> str:
    url = entry.get("url") or entry.get("webpage_url") or ""
    if not url and entry.get("ie_key") == "Youtube" and entry.get("id"):
        url = f"https://www.youtube.com/watch?v={entry['id']}"
    return str(url)


async def expand_source(ex: Extractor, norm: NormalizedUrl, line: int, timeout: float, depth: int = 0,
                        *, cap: int = 0) -> tuple[list[tuple[NormalizedUrl, dict[str, Any]]], list[SourceProblem]]:
    """Entries of one source as (normalised url, metadata) pairs, nested playlists flattened.

    A page that turns out to be a single video yields itself with the metadata read. `cap`
    (`--max-per-source`, 0 = all): only the first `cap` entries, in the site's order (a
    channel's newest first), as yt-dlp's --playlist-end; nested playlists past it are not asked for."""
    info = await ex.extract(norm.url, single=False, timeout=timeout)
    entries = info.get("entries")
    if entries is None:
        return [(norm, meta_from_info(info))], []
    return await _walk(ex, entries, norm.url, line, timeout, depth, cap)


async def _walk(ex: Extractor, entries: Iterable[Any], where: str, line: int, timeout: float, depth: int,
                cap: int = 0) -> tuple[list[tuple[NormalizedUrl, dict[str, Any]]], list[SourceProblem]]:
    """The videos of a playlist's `entries` (`where`: its URL, for messages), at most `cap` (0: all).

    A nested playlist that comes with its entries (a channel root lists its Videos, Shorts and
    Live tabs that way) is walked where it is: yt-dlp is not asked for it again. Only a nested
    playlist or channel given by reference (`_type` url / url_transparent, no entries) costs a
    call of its own, down to _MAX_DEPTH levels."""
    found: list[tuple[NormalizedUrl, dict[str, Any]]] = []
    problems: list[SourceProblem] = []
    for entry in entries:
        if cap and len(found) >= cap:
            break
        if not isinstance(entry, dict):
            continue
        raw = _entry_url(entry)
        nested = entry.get("entries")
        if isinstance(nested, (list, tuple)):
            more, more_problems = await _walk(ex, nested, raw or where, line, timeout, depth + 1,
                                              cap - len(found) if cap else 0)
            found += more
            problems += more_problems
            continue
        try:
            sub = normalize(raw)
        except UrlError as exc:
            problems.append(SourceProblem(line, raw or where, Category.SOURCE.value,
                                          f"an entry of {where} has an unusable URL: {exc}"))
            continue
        if nested is not None or (sub.kind in ("playlist", "channel") and depth < _MAX_DEPTH
                                  and entry.get("_type") in ("url", "url_transparent")):
            try:
                more, more_problems = await expand_source(ex, sub, line, timeout, depth + 1,
                                                          cap=cap - len(found) if cap else 0)
            except SourceFailure as exc:
                problems.append(SourceProblem(line, sub.url, Category.SOURCE.value, str(exc)))
                continue
            found += more
            problems += more_problems
        else:
            found.append((sub, meta_from_info(entry)))
    return found, problems


async def _pool(items: Sequence[Any], worker: Callable[[Any], Any], n: int) -> None:
    """Run `worker` over items with at most n in flight (a shared iterator: no task per item)."""
    it = iter(items)

    async def run() -> None:
        for item in it:
            await worker(item)

    async with anyio.create_task_group() as tg:
        for _ in range(max(1, min(n, len(items)))):
            tg.start_soon(run)


async def resolve(
    lines: Sequence[BatchLine], *, metadata: bool = True, captions: bool = False, cookies: str = "",
    cache_dir: Path | None = None,
    done_keys: frozenset[str] = frozenset(), proxy: str | None = None, concurrency: int = 4,
    timeout: float = 60.0, expand_timeout: float | None = None,
    on_progress: Callable[[str], None] | None = None, extract: Extract | None = None, max_per_source: int = 0,
) -> Resolved:
    """Expand, dedupe and (when `metadata`) enrich the batch's lines. Never raises for a source.

    - Lines without a URL (input errors: batch.py reports them) are ignored; lines batch.py
      marked `duplicate_of` go to `duplicates`.
    - Playlists, channels and pages are expanded with yt-dlp's flat extraction; a source that
      cannot be expanded becomes a SourceProblem (an unknown page on a host deAPI supports is
      kept as one video, since deAPI may still fetch it).
    - Single video URLs cost no yt-dlp call unless metadata is wanted and not cached.
    - Each key appears once: the first occurrence wins, later ones go to `duplicates`;
      keys in `done_keys` are counted in `skipped_done` and left out.
    - Metadata failures are SourceProblems carrying the video's key; the video stays.
    - `captions` (a run with --captions first|only): videos whose caption tracks are not known
      are looked up even when the cache knows their title and duration.
    `timeout` bounds each per-video call, `expand_timeout` (default 5 x timeout) each expansion;
    `on_progress` gets short human lines, called from the event loop. `cache_dir` is the app's
    cache directory (`paths.cache_dir()`): metadata goes to `metadata/`, yt-dlp's own to `yt-dlp/`.
    `extract` stands in for yt-dlp in tests: called as `extract(url, options)` in a worker thread,
    it returns what `YoutubeDL.extract_info` (sanitised) would, or raises SourceFailure.
    """
    ex = Extractor(cookies=cookies, proxy=proxy, cache_dir=cache_dir, concurrency=concurrency, timeout=timeout,
                    extract=extract)
    cache_dir = cache_dir / "metadata" if cache_dir is not None else None
    expand_limit = expand_timeout or timeout * 5
    say = on_progress or (lambda _msg: None)
    problems: list[SourceProblem] = []
    if cookies and not os.path.isfile(cookies):
        problems.append(SourceProblem(0, "", Category.SOURCE.value,
                                      f"cookies file {cookies} not found; continuing without cookies"))
        ex.cookies = ""
    elif cookies:
        try:   # read once; every yt-dlp call gets a private copy, the user's file is never written
            ex.cookie_bytes = await anyio.to_thread.run_sync(_read_cookies, cookies)
        except OSError as exc:
            problems.append(SourceProblem(0, "", Category.SOURCE.value,
                                          f"cookies file {cookies} not readable ({exc.strerror or exc}); "
                                          "continuing without cookies"))
            ex.cookies = ""

    usable = [bl for bl in lines if bl.url is not None and not bl.error]
    to_expand = [bl for bl in usable if not bl.duplicate_of and bl.url.kind in EXPANDABLE]
    expanded: dict[int, list[tuple[NormalizedUrl, dict[str, Any]]]] = {}
    unreadable: set[str] = set()
    count = [0]

    async def expand_one(bl: BatchLine) -> None:
        try:
            expanded[bl.line], more = await expand_source(ex, bl.url, bl.line, expand_limit, cap=max_per_source)
            problems.extend(more)
        except SourceFailure as exc:
            keep = bl.url.kind == "page" and bl.url.supported
            problems.append(SourceProblem(bl.line, bl.url.url, Category.SOURCE.value, str(exc),
                                          key=bl.url.key if keep else ""))
            expanded[bl.line] = [(bl.url, {})] if keep else []
            unreadable.add(bl.url.key)  # one failure is enough: no second call for its metadata
        count[0] += 1
        say(f"expanded {count[0]}/{len(to_expand)}: {bl.url.url}")

    if cache_dir is not None:
        # A page whose own key is cached was read before as one single video: not asked again.
        pages = [bl for bl in to_expand if bl.url.kind == "page"]
        known = await anyio.to_thread.run_sync(read_cached, cache_dir, [bl.url.key for bl in pages])
        for bl in pages:
            if bl.url.key in known:
                expanded[bl.line] = [(bl.url, known[bl.url.key])]
        to_expand = [bl for bl in to_expand if bl.line not in expanded]
    await _pool(to_expand, expand_one, concurrency)

    # Assemble in input order; the first occurrence of a key wins.
    result = Resolved(videos=[], problems=problems)
    seen: set[str] = set()
    origin: dict[str, int] = {}
    fetched: dict[str, dict[str, Any]] = {}
    for bl in usable:
        if bl.duplicate_of:
            result.duplicates.append((bl.line, bl.url.url, bl.url.key))
            continue
        items = expanded.get(bl.line, []) if bl.url.kind in EXPANDABLE else [(bl.url, {})]
        for norm, meta in items:
            if norm.key in seen:
                result.duplicates.append((bl.line, norm.url, norm.key))
                continue
            seen.add(norm.key)
            if norm.key in done_keys:
                result.skipped_done += 1
                continue
            own = norm is bl.url
            video = Video(key=norm.key, url=norm.url, vid=norm.vid, line=bl.line if own else 0,
                          source="" if own else bl.url.url, title=bl.title or "")
            if meta:
                apply_meta(video, meta)
                if is_complete(video):
                    fetched[norm.key] = meta
            origin[norm.key] = bl.line
            result.videos.append(video)

    cached: dict[str, dict[str, Any]] = {}
    if cache_dir is not None:
        cached = await anyio.to_thread.run_sync(read_cached, cache_dir, [v.key for v in result.videos])
        for video in result.videos:
            if video.key in cached and not is_complete(video):
                apply_meta(video, cached[video.key])
        new = {k: m for k, m in fetched.items() if k not in cached}
        if new:
            await anyio.to_thread.run_sync(write_cached, cache_dir, new)

    if metadata:
        # One successful read is final: what it did not find (a WAV's length) it will not find later.
        # With --captions, a video whose captions are unknown (the cache keeps none) is looked up too.
        missing = [v for v in result.videos if v.key not in unreadable and (
            (not is_complete(v) and v.key not in cached) or (captions and not v.captions_known))]
        done = [0]

        async def enrich(video: Video) -> None:
            try:
                info = await ex.extract(video.url, single=True)
            except SourceFailure as exc:
                result.problems.append(SourceProblem(
                    origin[video.key], video.url, Category.SOURCE.value,
                    f"metadata not read (the video is still submitted by URL): {exc}", key=video.key))
            else:
                meta = meta_from_info(info)
                apply_meta(video, meta)
                if cache_dir is not None:
                    await anyio.to_thread.run_sync(write_cached, cache_dir, {video.key: meta})
            done[0] += 1
            say(f"metadata {done[0]}/{len(missing)}: {video.label}")

        await _pool(missing, enrich, concurrency)
    result.problems.sort(key=lambda p: p.line)  # workers finish in any order; reports read by line
    return result


def order_videos(videos: Iterable[Video], order: str) -> list[Video]:
    """`"input"`: as given. `"shortest"`: known durations ascending, then unknown ones;
    `"finish"`: known durations descending (longest first: while the batch runs one slot takes
    the shortest, see `run/queue.py`), then unknown ones; both stable (ties and unknowns keep
    input order). Raises ValueError for another order."""
    videos = list(videos)
    if order == "input":
        return videos
    if order in ("shortest", "finish"):
        known = sorted((v for v in videos if v.duration is not None), key=lambda v: v.duration,
                       reverse=order == "finish")
        return known + [v for v in videos if v.duration is None]
    raise ValueError(f"order must be 'finish', 'shortest' or 'input' (got {order!r})")
