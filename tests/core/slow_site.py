"""A loopback HTTPS proxy that stands in for a slow site: yt-dlp's own lookups, held at will.

yt-dlp honours the `https_proxy` environment variable, so pointing it here makes every real
lookup of a YouTube URL (what the feeder sends yt-dlp, untouched) open a CONNECT to this
server. Each CONNECT is held until `release_when()` is true (or `hold_max` seconds pass, which
a test counts as a failure), then refused with a 502: no internet is ever reached, and the
lookup fails the way a site that does not answer fails. `held` records, for each CONNECT,
whether it was let go by `release_when` (True) or by the time limit (False).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class SlowSite:
    def __init__(self, release_when: Callable[[], bool], hold_max: float = 30.0) -> None:
        self.release_when, self.hold_max = release_when, hold_max
        self.held: list[bool] = []
        self.targets: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5.0)
            try:
                head = b""
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    head += chunk
            except OSError:
                return
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            deadline = time.monotonic() + self.hold_max
            released = False
            while not self._stop.is_set() and time.monotonic() < deadline:
                if self.release_when():
                    released = True
                    break
                time.sleep(0.02)
            with self._lock:
                self.targets.append(line)
                self.held.append(released)
            try:
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass


@contextmanager
def slow_site(release_when: Callable[[], bool], hold_max: float = 30.0) -> Iterator[SlowSite]:
    site = SlowSite(release_when, hold_max)
    site._thread.start()
    try:
        yield site
    finally:
        site._stop.set()
        site._sock.close()
        site._thread.join(timeout=2)


def proxy_env(site: SlowSite) -> dict[str, str]:
    """Environment that sends yt-dlp's HTTPS through `site` and leaves loopback HTTP (the simulator) direct."""
    return {"https_proxy": site.url, "HTTPS_PROXY": site.url, "no_proxy": "127.0.0.1,localhost",
            "NO_PROXY": "127.0.0.1,localhost"}
