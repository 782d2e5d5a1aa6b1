"""A simulated job: what it is, how the URL's fault shapes it, and how it reads at a given age.

Pure functions over a frozen `Job`; `state.py` holds the jobs (under its lock) and calls these.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from . import content
from .config import Fault, SimConfig
from .rules import CT2
from .wire import PLAIN, WirePlan

Error = tuple[str, str, str, bool]   # (error_code, error_message, error_reason, retryable)
ERRORS: dict[str, Error] = {  # fault kind -> its error
    "private": ("PROCESSING_ERROR", "private-video", "SOURCE_PRIVATE", False),
    "restricted": ("PROCESSING_ERROR", "age-restricted", "SOURCE_RESTRICTED", False),
    "flaky": ("WORKER_ERROR", "download-failed", "SOURCE_DOWNLOAD_FAILED", True),
    "capacity": ("WORKER_ERROR", "no-capacity", "CAPACITY_UNAVAILABLE", True),
    "failed-charged": ("WORKER_ERROR", "worker-error", "PROCESSING_FAILED", False),  # retryable: the fault's
}


@dataclass(frozen=True)
class Job:
    request_id: str
    source_url: str
    model: str
    include_ts: bool
    lang: str
    ts_level: str
    inline: bool               # submitted with return_result_in_response
    submitted: float           # monotonic
    submitted_wall: float
    latency: float
    pending_for: float
    price: float
    silent: bool = False
    error: Error | None = None
    refunded: bool = True      # a failed job gave its charge back (`failed-charged` keeps it)
    media_seconds: float | None = None   # an upload's measured length: its segments fit inside it

    @property
    def charged(self) -> bool:
        return self.error is None or not self.refunded

    @property
    def structured(self) -> bool:
        return self.model == CT2 and self.include_ts


def outcome(fault: Fault | None, attempt: int, latency: float) -> tuple[float, Error | None, bool]:
    """(latency, error, refunded) of a new job under the URL's fault; `attempt` = how many jobs
    that URL had before, `latency` the drawn one."""
    if fault is None:
        return latency, None, True
    if fault.kind == "slow":
        return fault.seconds, None, True
    if fault.kind in ("private", "restricted"):
        return latency, ERRORS[fault.kind], True
    if fault.kind == "flaky" and attempt < fault.count:
        return latency, ERRORS["flaky"], True
    if fault.kind == "capacity" and attempt == 0:
        return latency, ERRORS["capacity"], True
    if fault.kind == "failed-charged":
        return latency, (*ERRORS["failed-charged"][:3], fault.retryable), False
    return latency, None, True


def answer_plan(fault: Fault | None, attempt: int) -> WirePlan:
    """What the URL's fault does to the answer of a submit that created its job (`attempt` = how
    many jobs that URL had before)."""
    if fault is None:
        return PLAIN
    if fault.kind == "hold":
        return WirePlan(hold=fault.seconds)
    if fault.kind == "trickle":
        return WirePlan(trickle=fault.rate)
    if fault.kind == "reset" and attempt < fault.count:
        return WirePlan(reset=True)
    if fault.kind == "garbled" and attempt < fault.count:
        return WirePlan(garbled=True)   # a proxy mangled the answer: the client cannot read the id
    return PLAIN


def view(job: Job, cfg: SimConfig, sign: Callable[[], str]) -> dict[str, Any]:
    """The job's status payload as of now; `sign()` makes a fresh result link (done jobs only)."""
    elapsed = time.monotonic() - job.submitted
    base: dict[str, Any] = {"request_id": job.request_id, "created_at": _iso(job.submitted_wall)}
    if elapsed < job.pending_for:
        return {**base, "status": "pending", "progress": 0.0, "result_url": None, "result": None}
    if elapsed < job.latency:
        share = (elapsed - job.pending_for) / max(job.latency - job.pending_for, 1e-9)
        return {**base, "status": "processing", "progress": round(min(99.0, share * 100.0), 1),
                "result_url": None, "result": None}
    finished = _iso(job.submitted_wall + job.latency)
    if job.error is not None:
        code, message, reason, retryable = job.error
        return {**base, "status": "error", "progress": 0.0, "result_url": None, "result": None,
                "error_code": code, "error_message": message, "error_reason": reason,
                "retryable": retryable, "refunded": job.refunded, "failed_at": finished,
                "price": {"amount": 0.0 if job.refunded else job.price, "is_estimated": False}}
    result = inline_of(job, cfg) if (job.inline and cfg.inline_result) else None
    return {**base, "status": "done", "progress": 100.0, "completed_at": finished,
            "result_url": sign(), "result": result,
            "price": {"amount": job.price, "is_estimated": False},
            "transcription": {"model": job.model, "language": job.lang or "en",
                              "ts_level": job.ts_level or ("segment" if job.include_ts else None),
                              "structured": job.structured}}


def inline_of(job: Job, cfg: SimConfig) -> Any:
    """The inline `result`: the text, which the OpenAPI types as a string, even for a
    structured job (its segments are in the result_url file); `inline_structured` puts
    the structured object there instead, which the docs leave open."""
    result = result_of(job)
    if isinstance(result, dict) and not cfg.inline_structured:
        return result["text"]
    return result


def result_of(job: Job) -> Any:
    """The job's transcript: the Ct2 JSON object for a structured job, else plain text."""
    if job.structured:
        return content.structured(job.source_url, lang=job.lang, words=job.ts_level == "word", silent=job.silent,
                                  seconds=job.media_seconds)
    return content.plain_text(job.source_url, silent=job.silent)


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, timezone.utc).isoformat().replace("+00:00", "Z")
