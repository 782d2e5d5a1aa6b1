"""deAPI payloads as plain data: job status records and transcript results.

Pure functions, no I/O: `parse_job` reads a status response body, `parse_result` a result
in any of the shapes the spec allows (Ct2 JSON object, JSON string, plain text). Both are
used by `core/client.py`, which owns the transport and the error mapping.
Raises only `DeapiError` (SERVER, retryable) for a body that is not a job at all.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import Category, DeapiError
from ..transcript import Segment, Transcript

# Every spelling of a status the spec mentions, normalised; anything else is "processing".
_STATUS = {
    "pending": "pending", "queued": "pending", "in_queue": "pending", "waiting": "pending",
    "processing": "processing", "running": "processing", "in_progress": "processing",
    "done": "done", "completed": "done", "complete": "done", "succeeded": "done", "success": "done",
    "error": "error", "failed": "error", "failure": "error", "cancelled": "error", "canceled": "error",
}
# When a failed job lacks the `retryable` field, these reasons are the "often transient" ones.
_TRANSIENT_REASONS = frozenset({"SOURCE_DOWNLOAD_FAILED", "CAPACITY_UNAVAILABLE", "TIMEOUT"})
_REASON_TEXT = {
    "SOURCE_PRIVATE": "the video is private",
    "SOURCE_RESTRICTED": "the video is restricted (age, region or login)",
    "SOURCE_UNPROCESSABLE": "deAPI could not process the source",
    "SOURCE_DOWNLOAD_FAILED": "deAPI could not download the source",
    "INPUT_TOO_LARGE": "the source is too large",
    "TIMEOUT": "the job timed out on deAPI",
    "CAPACITY_UNAVAILABLE": "deAPI had no capacity for the job",
    "PROCESSING_FAILED": "transcription failed on deAPI",
}


@dataclass(frozen=True)
class JobStatus:
    """One reading of a job, normalised.

    `status` is one of "pending", "processing", "done", "error" (`raw_status` keeps the
    API's word). `progress` is 0-100 or None. `retryable` is deAPI's own field for failed
    jobs (inferred from `error_reason` only when the field is missing).
    """

    request_id: str
    status: str
    raw_status: str = ""
    progress: float | None = None
    result: Any = None
    result_url: str | None = None
    error_code: str = ""
    error_message: str = ""
    error_reason: str = ""
    retryable: bool = False
    refunded: bool | None = None     # None: deAPI did not say (failed jobs are documented as not charged)
    price: float | None = None
    structured: bool = False
    language: str = ""

    @property
    def terminal(self) -> bool:
        return self.status in ("done", "error")


def to_job_error(job: JobStatus) -> DeapiError:
    """The `DeapiError` (JOB_FAILED) describing a job that ended in `error`."""
    reason = job.error_reason or job.error_code
    human = _REASON_TEXT.get(job.error_reason, "")
    detail = ": ".join(x for x in (reason, job.error_message) if x)
    if human:
        message = f"{human} ({detail})"
    else:
        message = detail or "the job failed on deAPI"
    return DeapiError(
        Category.JOB_FAILED, message, retryable=job.retryable,
        request_id=job.request_id, error_reason=job.error_reason or None,
    )


def parse_job(request_id: str, body: Mapping[str, Any]) -> JobStatus:
    """A `JobStatus` from a status response body (`{"data": {...}}` or the bare object)."""
    data = data_of(body)
    raw = data.get("status")
    if not isinstance(raw, str) or not raw.strip():
        raise unreadable("job status answered without a status", request_id)
    status = _STATUS.get(raw.strip().lower(), "processing")
    transcription = data.get("transcription") if isinstance(data.get("transcription"), Mapping) else {}
    result = data.get("result")
    reason = as_text(data.get("error_reason"))
    code = as_text(data.get("error_code"))
    if "retryable" in data:
        retryable = as_bool(data.get("retryable"))
    else:
        retryable = reason in _TRANSIENT_REASONS or code == "WORKER_TIMEOUT"
    price = data.get("price")
    structured = as_bool(transcription.get("structured")) or (
        isinstance(result, Mapping) and "segments" in result)
    language = as_text(transcription.get("language")) or (
        as_text(result.get("language")) if isinstance(result, Mapping) else "")
    return JobStatus(
        request_id=as_text(data.get("request_id")) or request_id,
        status=status,
        raw_status=raw,
        progress=as_number(data.get("progress")),
        result=result,
        result_url=as_text(data.get("result_url")) or None,
        error_code=code,
        error_message=as_text(data.get("error_message")),
        error_reason=reason,
        retryable=retryable if status == "error" else False,
        refunded=as_bool(data["refunded"]) if data.get("refunded") is not None else None,
        price=as_number(price.get("amount") if isinstance(price, Mapping) else price),
        structured=structured,
        language=language,
    )


def parse_result(value: Any, *, language: str = "") -> Transcript:
    """A `Transcript` from a result given as a dict (Ct2 JSON), a list of segments,
    a JSON string or plain text. Malformed segments are skipped, never fatal."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "["):
            try:
                decoded = json.loads(stripped)
            except ValueError:
                decoded = None
            if isinstance(decoded, (dict, list)):
                return parse_result(decoded, language=language)
        return Transcript(stripped, language=language, raw=value)
    if isinstance(value, Mapping):
        if "text" not in value and "segments" not in value:
            for key in ("result", "transcription", "data"):
                if isinstance(value.get(key), (Mapping, str, list)):
                    return parse_result(value[key], language=language)
        segments = _segments(value.get("segments"))
        text = value.get("text")
        if not isinstance(text, str):
            text = " ".join(s.text for s in segments)
        return Transcript(text.strip(), language=as_text(value.get("language")) or language,
                          segments=segments, raw=value)
    if isinstance(value, list):
        segments = _segments(value)
        return Transcript(" ".join(s.text for s in segments), language=language, segments=segments, raw=value)
    if value is None:
        return Transcript("", language=language)
    return Transcript(str(value), language=language, raw=value)


def _segments(items: Any) -> tuple[Segment, ...]:
    if not isinstance(items, list):
        return ()
    out = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        start, end = as_number(item.get("start")), as_number(item.get("end"))
        if start is None or end is None:
            continue
        speaker = item.get("speaker")
        out.append(Segment(start, end, as_text(item.get("text")).strip(),
                           "" if speaker is None else str(speaker)))
    return tuple(out)


def models_page(body: Mapping[str, Any], page: int) -> tuple[list[Any], bool]:
    """(items, more pages?) for the paginator shapes seen: Laravel's `data` + `meta`/`links`,
    a nested `data: {data: [...], last_page, next_page_url}`, or a bare `models` list."""
    meta: Mapping[str, Any] = body.get("meta") if isinstance(body.get("meta"), Mapping) else {}
    links: Mapping[str, Any] = body.get("links") if isinstance(body.get("links"), Mapping) else {}
    data = body.get("data")
    if isinstance(data, Mapping):
        meta, links = data, data
        data = data.get("data", data.get("models"))
    if data is None:
        data = body.get("models")
    if not isinstance(data, list):
        raise unreadable("models answered without a list")
    last = as_number(meta.get("last_page"))
    if last is not None:
        return data, page < last
    return data, bool(links.get("next") or meta.get("next_page_url") or body.get("next_page_url"))


def model_name(item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, Mapping):
        for key in ("slug", "name", "model", "id"):
            if isinstance(item.get(key), str) and item[key]:
                return item[key]
    return ""


def unreadable(what: str, request_id: str | None = None) -> DeapiError:
    """A 2xx answer whose body is not what the route promises: SERVER, retryable."""
    return DeapiError(Category.SERVER, f"unexpected answer: {what}", retryable=True, request_id=request_id)


# -- small coercions ----------------------------------------------------------------------
def data_of(body: Mapping[str, Any]) -> Mapping[str, Any]:
    data = body.get("data")
    return data if isinstance(data, Mapping) else body


def is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (Mapping, list)):
        return not value
    return False


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def as_number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
