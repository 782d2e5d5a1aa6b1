"""A loopback HTTP server with tiny media files, pages that embed several of them, and HLS.

Everything yt-dlp's generic extractor needs to expand and read metadata offline. The server
counts requests per path so tests can prove that a cached video is never fetched again, and
keeps the Cookie headers it receives.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def wav_bytes(seconds: float = 0.5, rate: int = 8000) -> bytes:
    """A valid 8-bit mono PCM WAV file of silence."""
    data = b"\x80" * int(rate * seconds)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate, 1, 8)
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", len(data)) + data)


def hls_playlist(segments: list[float]) -> bytes:
    """A finished (VOD) HLS media playlist whose #EXTINF durations add up to the total."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{int(max(segments)) + 1}"]
    for i, seconds in enumerate(segments):
        lines += [f"#EXTINF:{seconds:.3f},", f"seg{i}.ts"]
    lines.append("#EXT-X-ENDLIST")
    return ("\n".join(lines) + "\n").encode()


def html_page(title: str, media: list[str], captions: dict[str, str] | None = None) -> bytes:
    """A page embedding `media`; `captions` (language -> .vtt path) become ``<track kind="captions">``
    elements of its videos, which yt-dlp's generic extractor lists as subtitles."""
    tracks = "".join(f'<track kind="captions" src="{src}" srclang="{lang}" label="{lang}">'
                     for lang, src in (captions or {}).items())
    tags = []
    for src in media:
        if src.endswith((".wav", ".mp3")):
            tags.append(f'<audio controls src="{src}"></audio>')
        else:
            tags.append(f'<video controls><source src="{src}" type="video/mp4">{tracks}</video>')
    return f"<!doctype html><html><head><title>{title}</title></head><body>{''.join(tags)}</body></html>".encode()


def default_files() -> dict[str, tuple[str, bytes]]:
    return {
        "/media/a.wav": ("audio/wav", wav_bytes()),
        "/media/b.wav": ("audio/wav", wav_bytes(0.25)),
        "/media/v1.mp4": ("video/mp4", b"\x00" * 64),
        "/media/v2.mp4": ("video/mp4", b"\x00" * 64),
        "/media/talk.m3u8": ("application/vnd.apple.mpegurl", hls_playlist([10.0, 10.0, 5.5])),
        "/pages/three.html": ("text/html", html_page("Three clips", ["/media/v1.mp4", "/media/a.wav", "/media/v2.mp4"])),
        "/pages/two.html": ("text/html", html_page("Two clips", ["/media/a.wav", "/media/b.wav"])),
    }


class MediaServer:
    """Serves `files` (path -> (content type, body)); unknown paths answer 404.

    `refuse[path]` lists statuses to answer first, one per request (e.g. ``[429]``: one 429
    with ``Retry-After: 0``, then the file), as a site that pushes back does.

    `/slow/...` paths block until `release()` (or the server stops): a source that never answers.
    Paths in `hold` are answered as usual, but only once `unhold()` is called: a slow listing."""

    def __init__(self, files: dict[str, tuple[str, bytes]] | None = None) -> None:
        self.files = default_files() if files is None else files
        self.hits: Counter[str] = Counter()
        self.cookie_headers: list[str] = []     # every Cookie header received
        self.refuse: dict[str, list[int]] = {}
        self.hold: set[str] = set()
        self._unhold = threading.Event()
        self.active = self.peak = 0                 # requests being answered now, and the most at once
        self._count = threading.Lock()
        self._release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                self._answer(body=True)

            def do_HEAD(self) -> None:  # noqa: N802
                self._answer(body=False)

            def _answer(self, *, body: bool) -> None:
                with server._count:
                    server.active += 1
                    server.peak = max(server.peak, server.active)
                try:
                    self._reply(body=body)
                finally:
                    with server._count:
                        server.active -= 1

            def _reply(self, *, body: bool) -> None:
                path = self.path.split("?", 1)[0]
                server.hits[path] += 1
                if self.headers.get("Cookie"):
                    server.cookie_headers.append(self.headers["Cookie"])
                if path.startswith("/slow/"):
                    server._release.wait(30)
                    return
                if path in server.hold:
                    server._unhold.wait(60)
                if server.refuse.get(path):
                    status = server.refuse[path].pop(0)
                    self.send_response(status)
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                found = server.files.get(path)
                if found is None:
                    self.send_error(404, "Not Found")
                    return
                ctype, data = found
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def release(self) -> None:
        self._release.set()

    def unhold(self) -> None:
        self.hold.clear()
        self._unhold.set()

    def start(self) -> "MediaServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self._unhold.set()
        self._httpd.shutdown()
        self._httpd.server_close()


@contextmanager
def media_server(files: dict[str, tuple[str, bytes]] | None = None) -> Iterator[MediaServer]:
    server = MediaServer(files).start()
    try:
        yield server
    finally:
        server.stop()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released): connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
