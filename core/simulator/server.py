"""The simulated deAPI over real HTTP: a ThreadingHTTPServer on 127.0.0.1 in a background thread.

Every API route of the spec is served (v2 and the older v1 pair, sharing ids), plus a
storage route for the pre-signed result links, which needs and ignores no auth. The order
of checks per API request mirrors a gateway in front of a Laravel app: injected delay and
5xx first, then the bearer (401), then the endpoint's rate limit (429), then the route, whose
answer (with X-RateLimit-* headers on limited endpoints) may then be held, trickled, garbled or
replaced by a TCP reset (wire.py): by then a submit's job exists and is billed.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..deapi.retry_after import format_retry_after
from . import wire
from .config import SimConfig
from .forms import FormError, UploadedFile, parse_fields
from .limits import Verdict, limit_headers
from .state import SimState
from .wire import PLAIN, WirePlan

_GATEWAY_PAGE = (
    "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1>"
    "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def classify(method: str, path: str) -> tuple[str, str, str]:
    """(ledger endpoint, route name, path argument) for a request line."""
    parts = [p for p in path.split("/") if p]
    if method == "POST":
        if parts == ["api", "v2", "audio", "transcriptions"]:
            return "submit", "submit", ""
        if parts == ["api", "v1", "client", "vid2txt"]:
            return "submit", "submit", ""
        if parts == ["api", "v2", "audio", "transcriptions", "price"]:
            return "price", "price", ""
    elif method == "GET":
        if len(parts) == 4 and parts[:3] == ["api", "v2", "jobs"]:
            return "status", "status", parts[3]
        if len(parts) == 5 and parts[:4] == ["api", "v1", "client", "request-status"]:
            return "status", "status", parts[4]
        if parts == ["api", "v2", "account", "balance"]:
            return "balance", "balance", ""
        if parts == ["api", "v2", "models"]:
            return "models", "models", ""
        if len(parts) == 3 and parts[:2] == ["storage", "results"]:
            return "storage", "storage", parts[2]
    return "other", "missing", ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, like the real API behind its gateway
    server_version = "deapi-sim/0.1"
    sys_version = ""
    timeout = 120                   # idle keep-alive connections are dropped after this
    # Headers and body leave in one segment (flushed by handle_one_request): separate small
    # writes meet delayed ACKs and cost ~40 ms per request on loopback.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: "_HTTPServer"
    _plan: WirePlan = PLAIN

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # tests and the demo want a quiet server

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        state = self.server.state
        self._plan = PLAIN   # how the answer leaves; only answers of a route that ran are wire-faulted
        url = urlsplit(self.path)
        endpoint, route, arg = classify(method, url.path)
        now = state.arrive(endpoint, authorized_storage=bool(self.headers.get("Authorization")))
        body = self._read_body(state.config.max_body_bytes)
        if body is None:
            return
        if route == "storage":
            query = parse_qs(url.query)
            status, ctype, data = state.storage(arg, query.get("expires", [""])[0], query.get("signature", [""])[0])
            self._plan = state.wire(endpoint)
            self._send(status, data, ctype)
            return
        fault, delay = state.chaos()
        if delay:
            time.sleep(delay)
        if fault is not None:
            self._server_error(fault)
            return
        auth = self.headers.get("Authorization", "")
        bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not state.authorized(bearer):
            self._json(401, {"message": "Unauthenticated."})
            return
        if route == "missing":
            self._json(404, {"message": f"The route {url.path.lstrip('/')} could not be found."})
            return
        verdict = state.admit(endpoint, now)
        if verdict is not None and not verdict.allowed:
            self._too_many(verdict)
            return
        headers = limit_headers(verdict) if verdict is not None else {}
        if route in ("submit", "price"):
            self._form_route(route, body, headers)
            return
        self._plan = state.wire(endpoint)
        if route == "status":
            view = state.job_view(arg, self.server.base_url)
            if view is None:
                self._json(404, {"message": "No query results for the requested resource."}, headers)
            else:
                self._json(200, {"data": view}, headers)
        elif route == "balance":
            self._json(200, state.balance(), headers)
        elif route == "models":
            query = parse_qs(url.query)
            self._json(200, state.models(_int(query.get("limit"), 25), _int(query.get("page"), 1),
                                         self.server.base_url), headers)

    def _form_route(self, route: str, body: bytes, headers: dict[str, str]) -> None:
        """Submit or price: the route runs (a submit's job is created) before the wire plan applies."""
        state = self.server.state
        files: dict[str, UploadedFile] = {}
        try:
            fields = parse_fields(self.headers.get("Content-Type", ""), body, files)
        except FormError as exc:
            self._plan = state.wire(route)
            self._json(400, {"message": str(exc)}, headers)
            return
        if route == "submit":
            status, payload, plan = state.submit(fields, files)
        else:
            (status, payload), plan = state.price(fields), PLAIN
        self._plan = state.wire(route, plan)
        if self._plan.garbled:   # the job exists; a proxy mangled its answer
            self._send(status, b"<html><body>upstream answered</body></html>", "text/html", headers)
        else:
            self._json(status, payload, headers)

    # -- bodies -------------------------------------------------------------------------
    def _read_body(self, limit: int) -> bytes | None:
        """The request body; None after answering 413 (connection closed, body unread)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > limit:
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            if length <= limit:
                return self.rfile.read(length) if length else b""
            self._discard(length)
        self.close_connection = True
        self._json(413, {"message": "The request entity is too large."}, {"Connection": "close"})
        return None

    def _discard(self, length: int) -> None:
        """Read and drop an oversized body, like a gateway's lingering close: closing with
        unread bytes makes the kernel reset the connection before the client sees the 413."""
        self.connection.settimeout(2.0)
        try:
            while length > 0:
                chunk = self.rfile.read(min(length, 1 << 16))
                if not chunk:
                    break
                length -= len(chunk)
        except OSError:
            pass

    def _too_many(self, verdict: Verdict) -> None:
        cfg = self.server.state.config
        headers = {**limit_headers(verdict), "X-RateLimit-Type": verdict.kind}
        if cfg.retry_after_header:
            headers["Retry-After"] = format_retry_after(verdict.retry_after, as_date=cfg.retry_after_as_date)
        self._json(429, {"message": "Too Many Attempts."}, headers)

    def _server_error(self, status: int) -> None:
        if status == 500:
            self._json(500, {"message": "Server Error"})
            return
        reason = self.responses[status][0]
        page = _GATEWAY_PAGE.format(code=status, reason=reason).encode()
        self._send(status, page, "text/html", {"Retry-After": "5"} if status == 503 else None)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _send(self, status: int, data: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        """Answer, as `self._plan` says: held, reset instead, or the body trickled after the headers."""
        plan, stopping = self._plan, self.server.stopping
        if plan.hold:
            stopping.wait(plan.hold)
        if plan.reset:
            self.close_connection = True
            wire.reset(self.connection)
            return
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if plan.trickle and data:
                self.wfile.flush()   # the headers leave now; the body follows slowly
                if not wire.trickle(self.wfile, data, plan.trickle, stopping):
                    self.close_connection = True
            else:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout): nothing to do


def _int(values: list[str] | None, default: int) -> int:
    try:
        return int(values[0]) if values else default
    except ValueError:
        return default


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256   # benchmarks open many connections at once
    state: SimState
    base_url: str
    stopping: threading.Event   # set by SimServer.stop: held and trickled answers stop waiting

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that gave up (its timeout) is routine, not a server bug
        super().handle_error(request, client_address)


class SimServer:
    """The simulated deAPI, started on 127.0.0.1 (port 0 = any free port).

    `start()` returns the base URL; `stop()` shuts it down (idempotent). Also a context
    manager. The ledger methods are thread-safe and may be read while it serves.
    """

    def __init__(self, config: SimConfig | None = None, port: int = 0) -> None:
        self._state = SimState(config or SimConfig())
        self._port = port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    def start(self) -> str:
        if self._httpd is not None:
            return self.base_url
        httpd = _HTTPServer(("127.0.0.1", self._port), _Handler)
        httpd.state = self._state
        httpd.stopping = threading.Event()
        httpd.base_url = self.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="deapi-sim", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def export_jobs(self) -> list[dict[str, Any]]:
        return self._state.export_jobs()

    def import_jobs(self, rows: list[dict[str, Any]]) -> None:
        self._state.import_jobs(rows)

    def __enter__(self) -> "SimServer":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- configuration and ledger -----------------------------------------------------------
    @property
    def config(self) -> SimConfig:
        return self._state.config

    def set_config(self, **changes: Any) -> None:
        """Change any SimConfig field while serving (faults, limits, latency...).
        Raises TypeError for an unknown field, ValueError for a bad value."""
        self._state.set_config(**changes)

    def arrivals(self, endpoint: str) -> list[float]:
        """Monotonic arrival times of every request to `endpoint` ("submit", "status",
        "price", "balance", "models", "storage", "other"; "all" merges them), refused ones included."""
        return self._state.arrivals(endpoint)

    def accepted(self, endpoint: str) -> list[float]:
        """Arrival times of the requests that passed auth and the rate limit."""
        return self._state.accepted(endpoint)

    def submissions(self) -> dict[str, int]:
        """source_url (an upload: "upload://<file name>#<digest of its bytes>") -> number of jobs
        created for it (accepted, billable submits, including those whose answer was held,
        trickled, garbled or reset)."""
        return self._state.submissions()

    def jobs_created(self) -> int:
        """Jobs created in all (the sum of `submissions()`)."""
        return self._state.jobs_created()

    def charged(self) -> float:
        """USD charged and not refunded: every job's price except failed jobs that were refunded."""
        return self._state.charged()

    @property
    def count_429(self) -> dict[str, int]:
        """429 answers per limited endpoint ("submit", "status", "price")."""
        return self._state.count_429()

    @property
    def count_5xx(self) -> int:
        """Injected server errors answered so far."""
        return self._state.count_5xx()

    @property
    def count_holds(self) -> int:
        """Answers held back after their route ran (`hold` fault, submit_answer_delay)."""
        return self._state.count_wire()["hold"]

    @property
    def count_trickles(self) -> int:
        """Answers whose body was trickled (`trickle` fault, trickle_bytes_per_second)."""
        return self._state.count_wire()["trickle"]

    @property
    def count_resets(self) -> int:
        """Connections reset instead of answered (`reset` fault, reset_share); a reset submit
        still created its job."""
        return self._state.count_wire()["reset"]

    @property
    def storage_requests_with_auth(self) -> int:
        """Result downloads that carried an Authorization header (a client leaking its key)."""
        return self._state.storage_with_auth()
