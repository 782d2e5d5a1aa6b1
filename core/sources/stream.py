"""Expansion and metadata beside a running batch: videos join the queue as they become known.

A batch's session exists from its first second (see prepare.py): single video lines are
videos at once, playlists, channels and pages are *sources still to expand*. The `Feeder`
runs in the engine's task group while workers already submit: it expands each source with
yt-dlp (flat extraction, which carries most durations: no per-video call where it does) and
looks up the title and duration of the videos that lack them, in threads, bounded, each call
under its own time limit. It never blocks a worker and never holds a slot.

When the site pushes back (YouTube's bot check, 429s), lookups back off for a while (the
lookups refused together count as one refusal: one pause, one message), the refused videos are
asked again after the pause, and lookups stop for the run after several refusals in a row; a
lookup that fails leaves its video submitted by URL, and the reason is said once, not once per
video. Expansion failures are reported per
source (the line that produced nothing).

The feeder knows nothing of sessions or queues: the engine gives it callbacks.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from ..errors import Category
from ..model import Video
from .expand import (
    EXPANDABLE,
    Extract,
    Extractor,
    SourceFailure,
    SourceProblem,
    apply_meta,
    expand_source,
    is_complete,
    meta_from_info,
)
from .metadata_cache import read_cached, write_cached
from .urls import UrlError, normalize

PUSHBACK = ("not a bot", "sign in to confirm", "429", "too many requests", "rate-limit", "rate limit")
PUSHBACK_PAUSE = (30.0, 600.0)   # first and longest back-off after the site pushes back
GIVE_UP_AFTER = 5                # refusals in a row before lookups stop for this run
PUSHBACK_TRIES = 3               # times one video is asked while the site pushes back


@dataclass
class Source:
    """A batch line still to expand (stored in the session's ``meta.sources``)."""

    line: int
    url: str
    title: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "url": self.url, "title": self.title}

    @classmethod
    def from_dict(cls, data: Any) -> "Source | None":
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            return None
        line = data.get("line")
        return cls(line if isinstance(line, int) else 0, data["url"], str(data.get("title") or ""))


OnVideos = Callable[[Source, list[Video]], Awaitable[list[Video]]]   # returns the ones really added
OnMeta = Callable[[Video, dict[str, Any]], None]
OnSourceDone = Callable[[Source, "SourceProblem | None"], None]   # after `sources_pending` counted it
Say = Callable[[str, str], None]   # (level, message), said once per message by the caller


class Feeder:
    """See the module docstring. Build one per run; `run` returns when every source is expanded
    and every lookup is done (or given up)."""

    def __init__(self, *, metadata: bool = True, cookies: str = "", cache_dir: Path | None = None,
                 concurrency: int = 4, timeout: float = 60.0, expand_timeout: float | None = None,
                 extract: Extract | None = None, proxy: str | None = None,
                 pushback_pause: tuple[float, float] = PUSHBACK_PAUSE, max_per_source: int = 0) -> None:
        self.metadata = metadata
        self.max_per_source = max_per_source   # --max-per-source: first N entries of each playlist/channel
        self.cookies = cookies
        self.cache_dir = cache_dir / "metadata" if cache_dir is not None else None
        self.concurrency = max(1, concurrency)
        self.expand_timeout = expand_timeout or timeout * 5
        self.pushback_pause = pushback_pause
        self.ex = Extractor(cookies=cookies, proxy=proxy, cache_dir=cache_dir, concurrency=self.concurrency,
                            timeout=timeout, extract=extract)
        self.sources_pending = 0
        self.lookups_pending = 0
        self.failed = 0
        self._refusals = 0
        self._resume_at = 0.0
        self._backoff_began = float("-inf")   # when the current back-off began
        self._stopped = False

    def wanted(self, v: Video) -> bool:
        return self.metadata and not is_complete(v)

    async def run(self, sources: Iterable[Source], lookups: Iterable[Video], *, known: set[str],
                  on_videos: OnVideos, on_meta: OnMeta, on_source_done: OnSourceDone, say: Say) -> None:
        sources, lookups = list(sources), [v for v in lookups if self.wanted(v)]
        self.sources_pending = len(sources)
        await self._read_cookies(say)
        send, receive = anyio.create_memory_object_stream[Video](max_buffer_size=1 << 30)
        lookups = await self._from_cache(lookups, on_meta)
        self.lookups_pending = len(lookups)
        for v in lookups:
            send.send_nowait(v)
        try:
            async with anyio.create_task_group() as tg:
                async with receive:
                    for _ in range(self.concurrency if self.metadata else 0):
                        tg.start_soon(self._lookup_worker, receive.clone(), on_meta, say)
                async with send:
                    # `concurrency` expanders take the sources in order: a task each would hold
                    # 10,000 waiting coroutines (~10 KB apiece) for a batch of 10,000 pages.
                    todo = iter(sources)

                    async def expander() -> None:
                        for src in todo:
                            await self._expand_one(src, send, known, on_videos, on_meta, on_source_done, say)

                    async with anyio.create_task_group() as expanding:
                        for _ in range(min(self.concurrency, len(sources))):
                            expanding.start_soon(expander)
        finally:
            # Cancelled with the run (its last transcript came first): what is left is dropped, not
            # pending; sources still to expand stay in the session for the next run.
            self.sources_pending = self.lookups_pending = 0
        if self.failed > 1:
            say("info", f"metadata was not read for {self.failed} videos in all (submitted by URL)")

    # -- expansion ------------------------------------------------------------------------
    async def _expand_one(self, src: Source, send: Any, known: set[str], on_videos: OnVideos, on_meta: OnMeta,
                          on_source_done: OnSourceDone, say: Say) -> None:
        problem: SourceProblem | None = None
        try:
            norm = normalize(src.url)
        except UrlError as exc:
            self.sources_pending -= 1
            on_source_done(src, SourceProblem(src.line, src.url, Category.INPUT.value, str(exc)))
            return
        try:
            items, problems = await expand_source(self.ex, norm, src.line, self.expand_timeout, cap=self.max_per_source)
        except SourceFailure as exc:
            keep = norm.kind == "page" and norm.supported
            items, problems = ([(norm, {})] if keep else []), []
            problem = SourceProblem(src.line, src.url, Category.SOURCE.value, str(exc), key=norm.key if keep else "")
        for p in problems:
            say("warning", f"line {p.line}: {p.message}")
        videos: list[Video] = []
        fetched: dict[str, dict[str, Any]] = {}
        for sub, meta in items:
            if sub.key in known:
                continue
            known.add(sub.key)
            own = sub.key == norm.key
            v = Video(key=sub.key, url=sub.url, vid=sub.vid, line=src.line if own else 0,
                      source="" if own else src.url, title=src.title if own else "")
            if meta:
                apply_meta(v, meta)
                if is_complete(v):
                    fetched[v.key] = meta
            videos.append(v)
        added = await on_videos(src, videos) if videos else []
        if fetched and self.cache_dir is not None:
            await anyio.to_thread.run_sync(write_cached, self.cache_dir, fetched)
        for v in await self._from_cache([v for v in added if self.wanted(v)], on_meta):
            self.lookups_pending += 1
            send.send_nowait(v)
        self.sources_pending -= 1
        on_source_done(src, problem)

    # -- metadata -------------------------------------------------------------------------
    async def _from_cache(self, videos: list[Video], on_meta: OnMeta) -> list[Video]:
        """Apply what the cache knows; return the videos still needing a lookup."""
        if self.cache_dir is None or not videos:
            return videos
        cached = await anyio.to_thread.run_sync(read_cached, self.cache_dir, [v.key for v in videos])
        left = []
        for v in videos:
            if v.key in cached:
                on_meta(v, cached[v.key])
            if self.wanted(v) and v.key not in cached:
                left.append(v)
        return left

    async def _lookup_worker(self, receive: Any, on_meta: OnMeta, say: Say) -> None:
        async with receive:
            async for v in receive:
                try:
                    if not self._stopped:
                        await self._lookup(v, on_meta, say)
                finally:
                    self.lookups_pending -= 1

    async def _lookup(self, v: Video, on_meta: OnMeta, say: Say) -> None:
        for _ in range(PUSHBACK_TRIES):
            wait = self._resume_at - anyio.current_time()
            if wait > 0:
                await anyio.sleep(wait)
            if self._stopped:
                return
            began = anyio.current_time()
            try:
                info = await self.ex.extract(v.url, single=True)
            except SourceFailure as exc:
                message = str(exc)
                if any(word in message.lower() for word in PUSHBACK):
                    self._pushed_back(message, began, say)
                    continue   # asked again after the pause (unless lookups stopped meanwhile)
                self._failed_once(message, say)
                return
            self._refusals = 0
            meta = meta_from_info(info)
            on_meta(v, meta)
            if self.cache_dir is not None:
                await anyio.to_thread.run_sync(write_cached, self.cache_dir, {v.key: meta})
            return
        if not self._stopped:
            self._failed_once("the site kept refusing its lookup", say)

    def _pushed_back(self, message: str, began: float, say: Say) -> None:
        """One refusal by the site. Lookups already in flight when a back-off began are the same
        push-back (four refused at once are one refusal, one pause, one message), not four."""
        if began < self._backoff_began or self._stopped:
            return
        self._refusals += 1
        self._backoff_began = anyio.current_time()
        if self._refusals >= GIVE_UP_AFTER:
            self._stopped = True
            say("warning", f"metadata lookups stopped for this run: the site keeps refusing ({message}); "
                           "videos are submitted by URL without titles or durations")
            return
        first, longest = self.pushback_pause
        pause = min(longest, first * 2 ** (self._refusals - 1))
        self._resume_at = max(self._resume_at, self._backoff_began + pause)
        say("warning", f"the site pushes back on metadata lookups ({message}); pausing them "
                       f"{pause:.0f} s (submitting goes on)")

    def _failed_once(self, message: str, say: Say) -> None:
        self.failed += 1
        if self.failed == 1:   # said once, with the first reason; the count comes at the end
            say("warning", f"metadata not read for some videos (they are submitted by URL): {message}")

    async def _read_cookies(self, say: Say) -> None:
        if not self.cookies:
            return
        if not os.path.isfile(self.cookies):
            say("warning", f"cookies file {self.cookies} not found; continuing without cookies")
            self.ex.cookies = ""
            return
        try:
            self.ex.cookie_bytes = await anyio.to_thread.run_sync(Path(self.cookies).read_bytes)
        except OSError as exc:
            say("warning", f"cookies file {self.cookies} not readable ({exc.strerror or exc}); continuing without")
            self.ex.cookies = ""


def is_source(kind: str) -> bool:
    return kind in EXPANDABLE
