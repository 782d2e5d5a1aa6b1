"""`--captions first|only`: a video's own captions, taken for free before (or instead of) deAPI.

Before a video's first submit, its caption tracks (known from the metadata lookup, else looked
up now: one yt-dlp call) are matched against the language wanted; the chosen file is fetched
and read into the same transcript a deAPI result becomes. Under `first`, a video without
captions, or whose captions could not be fetched, goes on to deAPI exactly as without this
step (one paid submit); under `only` it fails saying why, and nothing is ever paid.

Sites push back on caption scraping (YouTube answers 429 on subtitles in long runs), so every
request of this step, lookups included, goes through one `CaptionFetcher` per run: one at a
time, about `gap` seconds apart (±20 %), and a 429 pauses them all for its Retry-After (else a doubling
back-off) before the same file is asked again, at most `TRIES` times.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import anyio
import anyio.to_thread

from ..errors import Category, DeapiError
from ..events import Activity
from ..model import Method, Video, VideoState
from ..output.transcripts import write_outputs
from ..sources.captions import CaptionFetchFailed, fetch_track, lookup_tracks
from ..sources.expand import Extractor, SourceFailure
from ..sources.subtitles import CaptionFormatError, parse_captions
from ..sources.tracks import Track, choose_track, languages

if TYPE_CHECKING:
    from ..settings import Settings
    from .context import RunContext

TRIES = 4                   # fetches of one caption file before giving up on it
GAP = 1.0                   # seconds between two caption requests of a run
BACKOFF = (5.0, 300.0)      # first and longest pause after a 429 that does not say how long
STALE = (403, 404, 410)     # what an expired caption link answers
ONLY_HINT = "; nothing was paid (--captions only): run it with --captions first or off to have deAPI transcribe it"


class CaptionFetcher:
    """The run's caption requests, paced and backed off together (see the module docstring)."""

    def __init__(self, settings: "Settings", *, cache_dir: Path | None, clock: Callable[[], float],
                 gap: float | None = None) -> None:
        self.extractor = Extractor(cookies=settings.cookies, proxy=None, cache_dir=cache_dir, concurrency=1,
                                   timeout=60.0)
        self.clock, self.gap = clock, GAP if gap is None else gap
        self._turn = anyio.Lock()
        self._next = 0.0            # monotonic time the next request may go
        self._cookies_read = False
        self._reading = anyio.Lock()

    def _spacing(self) -> float:
        return self.gap * random.uniform(0.8, 1.2)   # jittered: a fixed beat is easy to spot

    async def _cookies(self) -> None:
        """Read the user's cookies file once (never written: every call gets a private copy)."""
        async with self._reading:   # every caller waits for the one read: none goes without the cookies
            if self._cookies_read:
                return
            path = self.extractor.cookies
            if path:
                try:
                    self.extractor.cookie_bytes = await anyio.to_thread.run_sync(Path(path).read_bytes)
                except OSError:
                    self.extractor.cookies = ""   # the lookups already said so; captions go without
            self._cookies_read = True

    async def _go(self, on_wait: Callable[[float, str], None], reason: str = "") -> None:
        wait = self._next - self.clock()
        if wait > 0:
            on_wait(wait, reason or "pacing caption requests")
            await anyio.sleep(wait)

    async def lookup(self, url: str, on_wait: Callable[[float, str], None]) -> tuple[list[str], str]:
        """(tracks, original language) of one video. Raises SourceFailure."""
        await self._cookies()
        async with self._turn:
            await self._go(on_wait)
            try:
                return await lookup_tracks(self.extractor, url)
            finally:
                self._next = self.clock() + self._spacing()

    async def fetch(self, track: Track, on_wait: Callable[[float, str], None]) -> bytes:
        """The track's file. Raises CaptionFetchFailed after `TRIES` refusals, or at once for
        an answer that trying again cannot change (404, 403)."""
        await self._cookies()
        reason = ""
        for attempt in range(1, TRIES + 1):
            async with self._turn:
                await self._go(on_wait, reason)
                try:
                    return await fetch_track(self.extractor, track)
                except CaptionFetchFailed as exc:
                    again = exc.status == 429 or (exc.status or 0) >= 500 or exc.status is None
                    if not again or attempt == TRIES:
                        raise
                    pause = exc.retry_after if exc.retry_after is not None else min(
                        BACKOFF[0] * 2 ** (attempt - 1), BACKOFF[1])
                    reason = f"{exc.status or 'no answer'} from the caption site"
                    self._next = self.clock() + max(pause, self._spacing())
                finally:
                    self._next = max(self._next, self.clock() + self._spacing())
        raise AssertionError("unreachable")


def _method(track: Track) -> str:
    return (Method.CAPTIONS_AUTO if track.auto else Method.CAPTIONS).value


async def take_captions(ctx: "RunContext", slot: int, v: Video) -> bool:
    """Try `v`'s own captions. True when its walk is over (done from captions, or failed under
    `only`); False when deAPI is to transcribe it (`first`, no captions or none fetched, or a
    video that already has a deAPI job: it is never given up for captions). Under `only` it is
    True for every video without a deAPI job, so nothing is ever submitted."""
    s = ctx.settings
    fetcher: CaptionFetcher | None = getattr(ctx, "captions", None)
    if fetcher is None or v.request_id or v.possibly_paid:
        return False   # a deAPI job exists (or may): it is followed, never given up for captions
    # Done from captions in an earlier run (its files since lost, or lost and failed to come again):
    # fetched again, free, whatever the mode, and never sent to deAPI unasked.
    again = v.method in (Method.CAPTIONS.value, Method.CAPTIONS_AUTO.value)
    if s.captions == "off" and not again:
        return False

    def on_wait(seconds: float, reason: str) -> None:
        ctx.reporter.worker_changed(slot, Activity.CAPTIONS, v, detail=f"waiting: {reason}",
                                    until=ctx.clock() + seconds)

    ctx.reporter.worker_changed(slot, Activity.CAPTIONS, v, detail="looking up")
    auto = s.captions_auto or (again and v.method == Method.CAPTIONS_AUTO.value)
    fresh = False   # whether the tracks come from a lookup of this walk
    while True:
        if not v.captions_known:
            try:
                tracks, original = await fetcher.lookup(v.url, on_wait)
            except SourceFailure as exc:
                return await _without(ctx, v, Category.CAPTIONS, f"its captions could not be looked up: {exc}",
                                      again=again)
            fresh = True
            await ctx.record(v, captions=tracks, captions_known=True, language=original or v.language,
                             durable=False)
        track = choose_track(v.captions, lang=s.lang, original=v.language, auto=auto)
        if track is None:
            return await _without(ctx, v, Category.NO_CAPTIONS, _none_message(v, s), again=again)
        ctx.reporter.worker_changed(slot, Activity.CAPTIONS, v, detail=f"{track.lang} {track.ext}")
        try:
            data = await fetcher.fetch(track, on_wait)
            transcript = parse_captions(data, track.ext, language=track.lang, raw={
                "source": "automatic captions" if track.auto else "captions uploaded with the video",
                "language": track.lang, "format": track.ext})
        except CaptionFetchFailed as exc:
            if not fresh and exc.status in STALE:
                # Links from an earlier lookup expire (YouTube's within hours): look the video up again, once.
                v.captions_known = False
                continue
            return await _without(ctx, v, Category.CAPTIONS, f"its {track.lang} captions could not be read: {exc}",
                                  again=again)
        except CaptionFormatError as exc:
            return await _without(ctx, v, Category.CAPTIONS, f"its {track.lang} captions could not be read: {exc}",
                                  again=again)
        break
    method = _method(track)
    await ctx.record(v, method=method, durable=False)   # the files say where their text came from
    ctx.reporter.worker_changed(slot, Activity.WRITING, v)
    try:
        outputs = await anyio.to_thread.run_sync(
            write_outputs, Path(s.output_dir), v, transcript, tuple(s.formats), s.template)
    except (ValueError, OSError) as exc:
        err = DeapiError(Category.DISK if isinstance(exc, OSError) else Category.RESULT,
                         f"could not write the transcript from captions: {exc}", retryable=True)
        ctx.reporter.error_logged(v, err, will_retry=False)
        await ctx.record(v, state=VideoState.FAILED, category=err.category.value, message=err.message,
                         retryable=True, method="", finished_at=time.time())
        if isinstance(exc, OSError):
            ctx.brakes.halt(err)
        return True
    await ctx.record(v, state=VideoState.DONE, outputs=outputs, finished_at=time.time(), method=method,
                     category="", message="", retryable=False)
    ctx.throughput.completed(ctx.clock())
    return True


def _none_message(v: Video, s: "Settings") -> str:
    want = s.lang or v.language or "en"
    auto_too = ""
    if not s.captions_auto and choose_track(v.captions, lang=s.lang, original=v.language, auto=True) is not None:
        auto_too = " (it has automatic ones, of lower quality: --captions-auto takes them)"
    have = languages(v.captions, auto=s.captions_auto)
    if have:
        return f"no captions in {want}{auto_too}; it has them in {', '.join(have[:8])}"
    return f"no captions{auto_too}"


async def _without(ctx: "RunContext", v: Video, category: Category, message: str, *, again: bool = False) -> bool:
    """No transcript from captions: under `first` deAPI is to transcribe it (False); under `only`,
    or for a video done from captions whose files were lost (`again`: a new job would be paid
    unasked), it fails saying why (True)."""
    if ctx.settings.captions == "only" or again:
        hint = ONLY_HINT if not again else "; not sent to deAPI (a new job is paid): run again with --retry-failed"
        err = DeapiError(category, message + hint, retryable=category is Category.CAPTIONS)
        ctx.reporter.error_logged(v, err, will_retry=False)
        await ctx.record(v, state=VideoState.FAILED, category=err.category.value, message=err.message,
                         retryable=err.retryable, finished_at=time.time())
        return True
    if category is Category.CAPTIONS:   # worth a line in the error log; "has none" is the usual case
        ctx.reporter.error_logged(v, DeapiError(category, f"{message}; deAPI transcribes it instead"),
                                  will_retry=True)
    return False
