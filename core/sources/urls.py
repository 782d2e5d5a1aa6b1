"""URL normalisation: every form of one video becomes one canonical URL and one dedupe key.

YouTube URLs come in many shapes (watch?v=, youtu.be, shorts/, embed/, live/, m. and music.
hosts, tracking parameters). They all normalise to ``https://www.youtube.com/watch?v=ID``
with the key ``youtube:ID``. Playlists and channels are recognised so they can be expanded.
Other hosts deAPI fetches itself (X, Twitch VODs, Kick, TikTok) pass through, cleaned; any
other http(s) URL is a "page" that yt-dlp may expand later.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit, urlunsplit

_YT_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_YT_LIST = re.compile(r"^[A-Za-z0-9_-]{10,64}$")
_YT_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtube-nocookie.com",
             "www.youtube-nocookie.com", "gaming.youtube.com"}
_YT_PATH_ID = re.compile(r"^/(?:shorts|embed|live|v|e)/(?!videoseries\b)([A-Za-z0-9_-]{11})(?:[/?#]|$)")
_YT_CHANNEL = re.compile(r"^/(@[\w.\-·]+|channel/UC[A-Za-z0-9_-]{10,40}|c/[^/]+|user/[^/]+)"
                         r"(?:/(videos|shorts|streams|featured|live|playlists))?/?$", re.UNICODE)
_TWITCH_VOD = re.compile(r"^/(?:videos|[^/]+/v)/(\d+)")
_TIKTOK_VIDEO = re.compile(r"^/@[^/]+/video/(\d+)")
_X_STATUS = re.compile(r"^/(?:[^/]+|i/web)/status/(\d+)")
_X_SPACE = re.compile(r"^/i/spaces/([A-Za-z0-9]+)")

SUPPORTED_HOSTS = ("youtube", "x", "twitch", "kick", "tiktok")


class UrlError(ValueError):
    """Not a URL this tool can use; the message says what was expected."""


@dataclass(frozen=True)
class NormalizedUrl:
    url: str        # canonical form
    key: str        # dedupe key, e.g. "youtube:dQw4w9WgXcQ"
    vid: str        # short id safe for file names
    host: str       # youtube | x | twitch | kick | tiktok | other
    kind: str       # video | playlist | channel | page
    supported: bool  # deAPI fetches it directly by URL (playlists and channels: expand first)


def _short_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:11]


def _clean_text(text: str) -> str:
    s = text.strip().strip("<>\"'").strip()
    if s.startswith("//"):
        s = "https:" + s
    # No scheme but a host name first ("youtube.com/watch?v=...", "example.com/video"): https.
    elif s and "://" not in s and re.match(r"^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::\d+)?(?:[/?]|$)", s):
        s = "https://" + s
    return s


def youtube(vid: str) -> NormalizedUrl:
    return NormalizedUrl(f"https://www.youtube.com/watch?v={vid}", f"youtube:{vid}", vid, "youtube", "video", True)


_UNSAFE = re.compile(r"[\"'<>`]")


def normalize(text: str) -> NormalizedUrl:
    """Normalise one URL. Raises UrlError for anything that is not a usable http(s) URL.

    Idempotent: ``normalize(normalize(x).url) == normalize(x)``. Quotes and <> inside a
    passed-through URL are percent-encoded, so a canonical URL never ends in characters
    that the cleaning of pasted text would strip."""
    n = _normalize(text)
    safe = _UNSAFE.sub(lambda m: f"%{ord(m.group()):02X}", n.url)
    return n if safe == n.url else _normalize(safe)


def _normalize(text: str) -> NormalizedUrl:
    s = _clean_text(text)
    if not s:
        raise UrlError("empty line: expected a video URL")
    try:
        parts = urlsplit(s)
    except ValueError as exc:
        raise UrlError(f"not a URL ({exc}): expected e.g. https://www.youtube.com/watch?v=...") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlError(f"not an http(s) URL: {s[:80]!r} (expected e.g. https://youtu.be/VIDEO_ID)")
    host = (parts.hostname or "").lower().rstrip(".")
    try:
        _ = parts.port   # raises ValueError for a bad port
    except ValueError:
        raise UrlError(f"not a valid port in {s[:80]!r}: expected e.g. https://example.com:8080/video") from None
    if not host or "." not in host or " " in s or not re.fullmatch(r"[\w.-]+", host):
        raise UrlError(f"not a valid URL: {s[:80]!r}")
    path = parts.path or "/"
    query = parse_qs(parts.query)

    if host == "youtu.be" or host == "www.youtu.be":
        vid = path.strip("/").split("/")[0]
        if _YT_ID.match(vid):
            return youtube(vid)
        raise UrlError(f"a youtu.be link without a valid video id: {s[:80]!r}")
    if host in _YT_HOSTS:
        return _youtube(s, path, query)

    bare = host.removeprefix("www.").removeprefix("m.").removeprefix("mobile.")
    clean = urlunsplit(("https", bare if bare not in ("twitter.com",) else "x.com", path.rstrip("/") or "/",
                        parts.query, ""))
    if bare in ("x.com", "twitter.com"):
        m = _X_STATUS.match(path) or _X_SPACE.match(path)
        clean = urlunsplit(("https", "x.com", path.rstrip("/"), "", ""))
        if m:
            return NormalizedUrl(clean, f"x:{m.group(1)}", m.group(1), "x", "video", True)
        return NormalizedUrl(clean, f"url:{clean}", _short_hash(clean), "x", "page", False)
    if bare == "twitch.tv":
        m = _TWITCH_VOD.match(path)
        if m:
            url = f"https://www.twitch.tv/videos/{m.group(1)}"
            return NormalizedUrl(url, f"twitch:{m.group(1)}", m.group(1), "twitch", "video", True)
        return NormalizedUrl(clean, f"url:{clean}", _short_hash(clean), "twitch", "page", False)
    if bare == "kick.com":
        url = urlunsplit(("https", "kick.com", path.rstrip("/"), "", ""))
        return NormalizedUrl(url, f"url:{url}", _short_hash(url), "kick", "video", True)
    if bare.endswith("tiktok.com"):
        m = _TIKTOK_VIDEO.match(path)
        if m:
            url = urlunsplit(("https", "www.tiktok.com", path.rstrip("/"), "", ""))
            return NormalizedUrl(url, f"tiktok:{m.group(1)}", m.group(1), "tiktok", "video", True)
        # Short links (vm./vt.tiktok.com) only work on their own host: yt-dlp resolves them.
        url = urlunsplit(("https", host, path.rstrip("/") or "/", parts.query, ""))
        return NormalizedUrl(url, f"url:{url}", _short_hash(url), "tiktok", "page", False)
    userinfo = parts.netloc.rpartition("@")[0]   # kept as typed: only the host is case-insensitive
    netloc = (f"{userinfo}@" if userinfo else "") + host + (f":{parts.port}" if parts.port is not None else "")
    page = urlunsplit((scheme, netloc, path, parts.query, ""))
    return NormalizedUrl(page, f"url:{page}", _short_hash(page), "other", "page", False)


def _youtube(s: str, path: str, query: dict[str, list[str]]) -> NormalizedUrl:
    if path.rstrip("/") in ("/watch", "/watch_videos") or path == "/":
        vid = (query.get("v") or [""])[0]
        if _YT_ID.match(vid):
            return youtube(vid)
        if not vid and _YT_LIST.match((query.get("list") or [""])[0]):
            return _youtube(s, "/playlist", query)
        if path == "/" and not query:
            raise UrlError("the YouTube home page is not a video, playlist or channel")
        raise UrlError(f"a YouTube watch link without a valid 11-character video id: {s[:80]!r}")
    m = _YT_PATH_ID.match(path)
    if m:
        return youtube(m.group(1))
    if path.rstrip("/") == "/playlist" or (path.rstrip("/") == "/embed/videoseries" and "list" in query):
        lid = (query.get("list") or [""])[0]
        if _YT_LIST.match(lid):
            url = f"https://www.youtube.com/playlist?list={lid}"
            return NormalizedUrl(url, f"youtube-list:{lid}", lid[-11:], "youtube", "playlist", False)
        raise UrlError(f"a YouTube playlist link without a valid list id: {s[:80]!r}")
    m = _YT_CHANNEL.match(path)
    if m:
        handle, tab = m.group(1), m.group(2)
        url = f"https://www.youtube.com/{handle}" + (f"/{tab}" if tab else "")
        key = f"youtube-channel:{handle.lower() if handle.startswith('@') else handle}" + (f"/{tab}" if tab else "")
        return NormalizedUrl(url, key, _short_hash(key), "youtube", "channel", False)
    raise UrlError(f"a YouTube link that is not a video, playlist or channel: {s[:80]!r}")
