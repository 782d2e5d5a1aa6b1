"""The simulated service's memory: jobs, limits, balance and the ledger tests read.

HTTP-agnostic: every public method takes plain values and returns (status, body) or
plain data; `server.py` turns them into responses. Thread-safe: one lock guards
everything, and nothing slow (sleeps, I/O) happens while it is held.
Times: `time.monotonic()` for windows and job ages, `time.time()` for UTC days and the
expiry written into result links.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import random
import threading
import time
import uuid
from collections import Counter
from typing import Any

from . import content, jobs, pricing, rules
from .config import TRANSCRIPTION_MODELS, SimConfig, fault_for
from .forms import UploadedFile
from .jobs import Job
from .limits import ACCOUNT, SOURCE_ACCOUNT, SOURCE_ENDPOINT, RateBucket, Verdict
from .wire import PLAIN, WirePlan

LIMITED = ("submit", "status", "price")
ENDPOINTS = ("submit", "status", "price", "balance", "models", "storage", "other")
class SimState:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._rng = random.Random(config.seed)
        self._secret = hashlib.sha256(f"sim-secret-{config.seed}".encode()).digest()
        self._buckets = {name: RateBucket() for name in (*LIMITED, ACCOUNT)}
        self._jobs: dict[str, Job] = {}
        self._arrivals: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
        self._accepted: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
        self._submissions: Counter[str] = Counter()
        self._count_429: Counter[str] = Counter()
        self._count_5xx = 0
        self._count_holds = self._count_trickles = self._count_resets = 0
        self._storage_with_auth = 0
        self._balance = config.balance

    # -- configuration and ledger ------------------------------------------------------
    def set_config(self, **changes: Any) -> None:
        with self._lock:
            new = dataclasses.replace(self.config, **changes)  # runs validate()
            if "balance" in changes:
                self._balance = new.balance
            self.config = new

    def arrive(self, endpoint: str, *, authorized_storage: bool = False) -> float:
        now = time.monotonic()
        with self._lock:
            self._arrivals[endpoint].append(now)
            if endpoint == "storage" and authorized_storage:
                self._storage_with_auth += 1
        return now

    def arrivals(self, endpoint: str) -> list[float]:
        with self._lock:
            if endpoint == "all":
                return sorted(t for times in self._arrivals.values() for t in times)
            return list(self._arrivals.get(endpoint, ()))

    def accepted(self, endpoint: str) -> list[float]:
        with self._lock:
            return list(self._accepted.get(endpoint, ()))

    def submissions(self) -> dict[str, int]:
        with self._lock:
            return dict(self._submissions)

    def jobs_created(self) -> int:
        with self._lock:
            return sum(self._submissions.values())

    def charged(self) -> float:
        with self._lock:
            return round(sum(job.price for job in self._jobs.values() if job.charged), 8)

    def count_429(self) -> dict[str, int]:
        with self._lock:
            return {name: self._count_429.get(name, 0) for name in LIMITED}

    def count_5xx(self) -> int:
        with self._lock:
            return self._count_5xx

    def count_wire(self) -> dict[str, int]:
        with self._lock:
            return {"hold": self._count_holds, "trickle": self._count_trickles, "reset": self._count_resets}

    def storage_with_auth(self) -> int:
        with self._lock:
            return self._storage_with_auth

    # -- chaos and limits ------------------------------------------------------------------
    def chaos(self) -> tuple[int | None, float]:
        """(status of an injected server error or None, seconds to delay the answer)."""
        with self._lock:
            cfg = self.config
            delay = cfg.slow_seconds if cfg.slow_share and self._rng.random() < cfg.slow_share else 0.0
            status = None
            if cfg.server_error_share and self._rng.random() < cfg.server_error_share:
                status = self._rng.choice(cfg.server_error_statuses)
                self._count_5xx += 1
            return status, delay

    def admit(self, endpoint: str, now: float) -> Verdict | None:
        """Apply the limits to an arrival; None for unlimited endpoints. Each limited endpoint
        has its own bucket, or with `shared_limits` all three draw on the account's one."""
        with self._lock:
            cfg = self.config
            if endpoint not in LIMITED:
                self._accepted[endpoint].append(now)
                return None
            if cfg.shared_limits:
                bucket, source = ACCOUNT, SOURCE_ACCOUNT
                per_minute, per_day = cfg.account_rpm, cfg.account_per_day
            else:
                bucket, source = endpoint, SOURCE_ENDPOINT
                per_minute, per_day = {"submit": (cfg.submit_rpm, cfg.submit_per_day),
                                       "status": (cfg.status_rpm, cfg.status_per_day),
                                       "price": (cfg.price_rpm, cfg.price_per_day)}[endpoint]
            verdict = self._buckets[bucket].admit(now, time.time(), per_minute, per_day, cfg.window)
            if verdict.allowed:
                self._accepted[endpoint].append(now)
            else:
                self._count_429[endpoint] += 1
            return dataclasses.replace(verdict, source=source)

    def authorized(self, bearer: str) -> bool:
        keys = self.config.api_keys
        return bool(bearer) and (keys is None or bearer in keys)

    # -- routes ------------------------------------------------------------------------------
    def submit(self, fields: dict[str, str], files: dict[str, UploadedFile] | None = None,
               ) -> tuple[int, dict[str, Any], WirePlan]:
        """Validate and create a job: (200, {"data": {"request_id"}}, how the URL's fault wants
        the answer sent) or (422, errors, PLAIN); an upload over its type's cap gets the config's
        `upload_over_cap_status`. The job exists before any answer leaves. An upload's source is
        "upload://<file name>#<digest of its bytes>" in the ledger, priced by its measured length."""
        upload = (files or {}).get("source_file")
        seconds: float | None = None
        if upload is not None and not fields.get("source_url", "").strip():
            cfg = self.config
            refused = rules.validate_upload(upload.filename, upload.content_type, len(upload.data),
                                            audio_max=cfg.upload_audio_max_bytes, video_max=cfg.upload_video_max_bytes,
                                            over_cap_status=cfg.upload_over_cap_status)
            if refused is not None:
                status, errs = refused
                body = rules.laravel_422(errs) if status == 422 else {"message": errs["source_file"][0]}
                return status, body, PLAIN
            digest = hashlib.sha256(upload.data).hexdigest()[:16]
            fields = {**fields, "source_file": f"file:{upload.filename}#{digest}"}
            seconds = content.media_seconds(upload.data)
        url = _source_of(fields)
        model = fields.get("model", "").strip()
        ts_level = fields.get("ts_level", "").strip()
        errors = rules.validate_submit(fields, url, model, ts_level, strict_booleans=self.config.strict_booleans)
        with self._lock:
            cfg = self.config
            fault = fault_for(url, cfg.faults) if url else None
            if fault and fault.kind == "invalid":
                errors.setdefault("source_url", []).append("The source url format is invalid.")
            if errors:
                return 422, rules.laravel_422(errors), PLAIN
            if self._balance < cfg.min_balance:
                return 422, rules.laravel_422({"balance": ["Insufficient balance to start a job."]}), PLAIN
            attempt = self._submissions[url]
            self._submissions[url] += 1
            low, high = cfg.latency
            latency = low + content.unit(cfg.seed, "latency", url, attempt) * (high - low)
            latency, error, refunded = jobs.outcome(fault, attempt, latency)
            price = pricing.quote(cfg, fields, url=url, seconds=seconds or 0.0)
            if error is None or not refunded:
                self._balance -= price  # a failed job is refunded unless its fault keeps the charge
            request_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            self._jobs[request_id] = Job(
                request_id=request_id, source_url=url, model=model,
                include_ts=rules.as_bool(fields.get("include_ts", "")) is True,
                lang=fields.get("lang", "").strip(), ts_level=ts_level,
                inline=rules.as_bool(fields.get("return_result_in_response", "")) is True,
                submitted=time.monotonic(), submitted_wall=time.time(),
                latency=latency, pending_for=latency * cfg.pending_share, price=price,
                silent=bool(fault and fault.kind == "silent"), error=error, refunded=refunded,
                media_seconds=seconds,
            )
        return 200, {"data": {"request_id": request_id}}, jobs.answer_plan(fault, attempt)

    def wire(self, endpoint: str, plan: WirePlan = PLAIN) -> WirePlan:
        """How this answer of `endpoint` leaves: `plan` (from the URL's fault) plus the config's
        hold, trickle and reset switches; counted in the ledger."""
        with self._lock:
            cfg = self.config
            plan = plan.merged(
                hold=cfg.submit_answer_delay if endpoint == "submit" else 0.0,
                trickle=cfg.trickle_bytes_per_second if endpoint in cfg.trickle_endpoints else 0.0,
                reset=endpoint in cfg.reset_endpoints and cfg.reset_share > 0
                and self._rng.random() < cfg.reset_share)
            self._count_holds += plan.hold > 0
            self._count_resets += plan.reset
            self._count_trickles += plan.trickle > 0 and not plan.reset
            return plan

    def job_view(self, request_id: str, base_url: str) -> dict[str, Any] | None:
        """The status payload of a job as of now, or None for an unknown id."""
        with self._lock:
            job = self._jobs.get(request_id)
            cfg = self.config
        if job is None:
            return None
        return jobs.view(job, cfg, lambda: self._sign(job, base_url, cfg.result_ttl))

    def storage(self, name: str, expires: str, signature: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for a result link; S3-like XML errors."""
        request_id = name.rsplit(".", 1)[0]
        with self._lock:
            job = self._jobs.get(request_id)
        try:
            expiry = float(expires)
        except ValueError:
            expiry = -1.0
        if job is None or not hmac.compare_digest(signature, self._signature(request_id, expires)):
            return 403, "application/xml", _s3_error("SignatureDoesNotMatch", "The request signature does not match.")
        if time.time() > expiry:
            return 403, "application/xml", _s3_error("AccessDenied", "Request has expired")
        if job.error is not None or time.monotonic() - job.submitted < job.latency:
            return 404, "application/xml", _s3_error("NoSuchKey", "The specified key does not exist.")
        result = jobs.result_of(job)
        if isinstance(result, dict):
            return 200, "application/json", json.dumps(result).encode()
        return 200, "text/plain; charset=utf-8", result.encode()

    def price(self, fields: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """A quote: (200, {"data": {"price"}}) or a 422; what a submit of these fields would charge."""
        cfg = self.config
        errors = rules.validate_price(fields, strict_booleans=cfg.strict_booleans, platforms=cfg.price_platforms)
        if errors:
            return 422, rules.laravel_422(errors)
        if fields.get("duration_seconds", "").strip():
            price = pricing.quote(cfg, fields, seconds=float(fields["duration_seconds"]),
                                  platform=fields.get("platform", "").strip())
        else:
            price = pricing.quote(cfg, fields, url=_source_of(fields))
        return 200, {"data": {"price": price}}

    def balance(self) -> dict[str, Any]:
        with self._lock:
            return {"data": {"balance": round(self._balance, 6), "currency": "USD"}}

    def models(self, limit: int, page: int, base_url: str) -> dict[str, Any]:
        """A Laravel-style page of the catalogue (default 25 per page, at most 50)."""
        names = list(self.config.models)
        limit = min(max(limit, 1), 50)
        last = max(1, -(-len(names) // limit))
        page = max(page, 1)
        items = names[(page - 1) * limit: page * limit]
        link = f"{base_url}/api/v2/models?limit={limit}&page="
        return {
            "data": [{"slug": n, "name": n,
                      "inference_types": ["transcription"] if n in TRANSCRIPTION_MODELS else ["other"]}
                     for n in items],
            "links": {"first": link + "1", "last": link + str(last),
                      "prev": link + str(page - 1) if page > 1 else None,
                      "next": link + str(page + 1) if page < last else None},
            "meta": {"current_page": page, "last_page": last, "per_page": limit, "total": len(names)},
        }

    # -- persistence (the demo keeps its jobs across restarts) ----------------------------------
    def export_jobs(self) -> list[dict[str, Any]]:
        """Every job as plain data, with wall-clock times (monotonic clocks do not survive a restart)."""
        with self._lock:
            jobs = list(self._jobs.values())
            submissions = dict(self._submissions)
        out = []
        for job in jobs:
            row = dataclasses.asdict(job)
            row.pop("submitted")
            row["error"] = list(job.error) if job.error else None
            out.append(row)
        return [{"submissions": submissions}, *out]

    def import_jobs(self, rows: list[dict[str, Any]]) -> None:
        """Load what `export_jobs` gave, re-basing each job's age on this process's monotonic clock."""
        now_mono, now_wall = time.monotonic(), time.time()
        with self._lock:
            for row in rows:
                if "submissions" in row:
                    self._submissions.update(row["submissions"])
                    continue
                row = dict(row)
                row["submitted"] = now_mono - max(0.0, now_wall - float(row["submitted_wall"]))
                row["error"] = tuple(row["error"]) if row.get("error") else None
                job = Job(**row)
                self._jobs[job.request_id] = job

    # -- helpers -------------------------------------------------------------------------------
    def _signature(self, request_id: str, expires: str) -> str:
        return hmac.new(self._secret, f"{request_id}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]

    def _sign(self, job: Job, base_url: str, ttl: float) -> str:
        expires = f"{time.time() + ttl:.3f}"
        ext = "json" if job.structured else "txt"
        return (f"{base_url}/storage/results/{job.request_id}.{ext}"
                f"?expires={expires}&signature={self._signature(job.request_id, expires)}")


def _source_of(fields: dict[str, str]) -> str:
    """The source a job is about: its URL, or "upload://<file name>" for an upload (whose
    content, like a URL's, derives from that name); "" when there is none."""
    url = fields.get("source_url", "").strip() or fields.get("video_url", "").strip()
    if not url and fields.get("source_file", "").startswith("file:"):
        url = "upload://" + fields["source_file"][5:]
    return url


def _s3_error(code: str, message: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message></Error>").encode()
