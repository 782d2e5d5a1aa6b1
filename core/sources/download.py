"""Download a video's audio with yt-dlp, for a video deAPI cannot fetch by its URL.

yt-dlp is synchronous: `download_audio` is called in a worker thread (see `run/upload.py`). It
picks the best audio-only format that fits the upload cap when the site says sizes, else the
best audio-only one, else the best with audio; refuses a file over `max_bytes` (yt-dlp's
`max_filesize`, checked again after); asks `room(size)` before writing a byte; reports progress
through `on_progress(done_bytes, total_bytes or None)`; stops when `abort` is set. The user's
cookies go to yt-dlp as a private copy (`expand.with_private_cookies`), never the file itself.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .expand import QuietLogger, SourceFailure, borrowed_ydl, explain, with_private_cookies, ytdlp_message


class _Logger(QuietLogger):
    """Keeps yt-dlp's warnings, and its screen line when it refuses a file over max_filesize."""

    def debug(self, msg: str) -> None:
        if "max-filesize" in str(msg):
            self.messages.append(ytdlp_message(msg))

    info = debug


class NoRoom(SourceFailure):
    """`room()` said no (the disk): nothing was downloaded."""


class DownloadStopped(Exception):
    """`abort` was set (the run is quitting): the partial file is left for the folder's cleanup."""


@dataclass(frozen=True)
class Downloaded:
    path: str
    size: int
    ext: str
    title: str
    duration: float | None


def format_selector(cap: int) -> str:
    """yt-dlp's format choice: audio-only under `cap` bytes first (exact or approximate size),
    then any audio-only, then the best format that has audio."""
    return (f"bestaudio[filesize<{cap}]/bestaudio[filesize_approx<{cap}]/bestaudio"
            "/best[acodec!=none]/best")


def download_audio(url: str, folder: str | Path, *, cap: int, max_bytes: int,
                   room: Callable[[int | None], str | None], on_progress: Callable[[int, int | None], None],
                   abort: threading.Event, cookies: bytes | None = None, cookies_name: str = "",
                   socket_timeout: float = 20.0) -> Downloaded:
    """Download `url`'s audio into `folder` (as media.<ext>). `room(expected size or None)` returns
    a reason not to start (no disk space) or None. Raises SourceFailure with a sentence for the
    user, DownloadStopped when `abort` was set."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    logger = _Logger()

    def hook(d: dict[str, Any]) -> None:
        if abort.is_set():
            raise DownloadStopped()
        if d.get("status") == "downloading":
            total = d.get("total_bytes") or d.get("total_bytes_estimate")
            on_progress(int(d.get("downloaded_bytes") or 0), int(total) if total else None)

    opts: dict[str, Any] = {
        "quiet": True, "no_warnings": True, "noprogress": True, "logger": logger,
        "format": format_selector(cap), "noplaylist": True, "max_filesize": max_bytes,
        "outtmpl": str(folder / "media.%(ext)s"),
        "progress_hooks": [hook], "socket_timeout": socket_timeout, "retries": 3, "overwrites": True,
        "color": {"stdout": "no_color", "stderr": "no_color"}, "cachedir": False, "updatetime": False,
    }

    def run(_url: str, options: dict[str, Any]) -> dict[str, Any]:
        with borrowed_ydl(options) as ydl:   # an idle one, as lookups take (expand.py): not one per download
            info = ydl.extract_info(_url, download=False)
            if info is None:
                raise SourceFailure(logger.messages[-1] if logger.messages else "yt-dlp found nothing to download")
            size = info.get("filesize") or info.get("filesize_approx")
            if size and size > max_bytes:
                raise SourceFailure(f"the audio is {size / 1e6:.0f} MB, over the download limit of "
                                    f"{max_bytes / 1e6:.0f} MB (--max-download-mb)")
            problem = room(int(size) if size else None)
            if problem:
                raise NoRoom(problem)
            info = ydl.process_ie_result(info, download=True)
            downloads = info.get("requested_downloads") or [{}]
            return {"duration": info.get("duration"), "title": info.get("title"),
                    "_filepath": downloads[0].get("filepath") or ydl.prepare_filename(info)}

    try:
        info = with_private_cookies(run, url, opts, cookies)
    except (SourceFailure, DownloadStopped):
        raise
    except Exception as exc:   # yt-dlp's DownloadError and anything odd
        if isinstance(exc.__context__, DownloadStopped) or "DownloadStopped" in repr(exc):
            raise DownloadStopped() from exc
        raise SourceFailure(explain(str(exc) or type(exc).__name__, cookies=cookies_name)) from exc
    path = Path(info["_filepath"])
    if not path.is_file():
        more = f": {logger.messages[-1]}" if logger.messages else ""
        if any("max-filesize" in m for m in logger.messages):
            raise SourceFailure(f"the audio is over the download limit of {max_bytes / 1e6:.0f} MB "
                                "(--max-download-mb)")
        raise SourceFailure(ytdlp_message(f"yt-dlp wrote no file{more}"))
    size = path.stat().st_size
    if size > max_bytes:
        path.unlink(missing_ok=True)
        raise SourceFailure(f"the audio is {size / 1e6:.0f} MB, over the download limit of "
                            f"{max_bytes / 1e6:.0f} MB (--max-download-mb)")
    duration = info.get("duration")
    return Downloaded(str(path), size, path.suffix.lstrip("."), str(info.get("title") or ""),
                      float(duration) if isinstance(duration, (int, float)) else None)
