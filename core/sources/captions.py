"""Fetching a video's caption file, and looking up its tracks when the lookup did not.

A track's file is fetched through yt-dlp's own opener, so the proxy, the headers a site wants
and the cookies (a private copy, see expand.py) are those of the metadata lookups.
"""

from __future__ import annotations

from typing import Any

import anyio
import anyio.to_thread

from .expand import (
    Extractor,
    QuietLogger,
    SourceFailure,
    borrowed_ydl,
    meta_from_info,
    with_private_cookies,
    ytdlp_message,
    ytdlp_options,
)
from .tracks import Track


class CaptionFetchFailed(Exception):
    """The caption file could not be fetched. `status` is the HTTP status when there was one;
    `retry_after` the seconds a 429 asked to wait (None when it did not say)."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.retry_after = status, retry_after


def _retry_after(headers: Any) -> float | None:
    try:
        value = headers.get("Retry-After") if headers is not None else None
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


MAX_CAPTION_BYTES = 20 * 1024 * 1024   # a caption file is text: anything bigger is not one


def _fetch_sync(url: str, opts: dict[str, Any]) -> bytes:
    from yt_dlp.networking.exceptions import HTTPError, RequestError

    try:
        with borrowed_ydl(opts) as ydl, ydl.urlopen(url) as answer:   # an instance the lookups use too
            data = answer.read(MAX_CAPTION_BYTES + 1)
    except HTTPError as exc:
        status = exc.status
        raise CaptionFetchFailed(f"the caption file answered {status} {exc.reason or ''}".strip(), status,
                                 _retry_after(exc.response.headers if exc.response is not None else None)) from None
    except RequestError as exc:
        raise CaptionFetchFailed(f"could not reach the caption file: {ytdlp_message(str(exc))}") from None
    except Exception as exc:   # yt-dlp raises its own errors and, on odd answers, anything else
        raise CaptionFetchFailed(ytdlp_message(str(exc)) or type(exc).__name__) from None
    if len(data) > MAX_CAPTION_BYTES:
        raise CaptionFetchFailed(f"the caption file is over {MAX_CAPTION_BYTES // 2**20} MB: not captions")
    return data


async def fetch_track(ex: Extractor, track: Track, *, timeout: float | None = None) -> bytes:
    """The track's file, through `ex` (its concurrency bound, time limit, proxy and private
    cookies). Raises CaptionFetchFailed."""
    limit = timeout or ex.timeout
    opts = ytdlp_options(logger=QuietLogger(), proxy=ex.proxy, socket_timeout=max(1.0, min(20.0, ex.timeout / 3)),
                    cache_dir=ex.cache_dir, single=True)
    async with ex.limiter:
        with anyio.move_on_after(limit):
            return await anyio.to_thread.run_sync(with_private_cookies, _fetch_sync, track.url, opts,
                                                  ex.cookie_bytes, abandon_on_cancel=True)
    raise CaptionFetchFailed(f"gave up after {limit:g} s: the caption file did not come in time")


async def lookup_tracks(ex: Extractor, url: str) -> tuple[list[str], str]:
    """One metadata lookup for a video whose captions are not known yet: (tracks, original
    language). Raises SourceFailure with a message for the user."""
    info = await ex.extract(url, single=True)
    if info.get("entries") is not None:
        raise SourceFailure("the link is a list of videos, not one video")
    meta = meta_from_info(info)
    return meta.get("captions", []), str(info.get("language") or "")
