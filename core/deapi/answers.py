"""What deAPI's answers mean: HTTP statuses and transport failures as `DeapiError`s, and the
rate-limit headers every answer may carry.

Pure functions over httpx responses and exceptions, so the client's transport code stays
short and every mapping can be tested without a server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import httpx

from ..errors import Category, DeapiError
from .payloads import as_text
from .retry_after import parse_retry_after


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """The `X-RateLimit-*` headers of one answer; a field is None when its header was absent or
    unreadable. `source` is the bucket the service says applied (its own word, lower case)."""

    limit: int | None = None
    remaining: int | None = None
    source: str = ""
    kind: str = ""                  # X-RateLimit-Type: "minute" | "daily" (429s)
    daily_limit: int | None = None
    daily_remaining: int | None = None
    elapsed: float = 0.0            # seconds from sending the request to its answer (how old Remaining is)

    @property
    def empty(self) -> bool:
        return self.limit is None and self.remaining is None and self.daily_limit is None


def _count(value: str | None) -> int | None:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return n if n >= 0 else None


def rate_limit_info(headers: Mapping[str, str]) -> RateLimitInfo:
    """Read every `X-RateLimit-*` header that is there; need none. Never raises."""
    return RateLimitInfo(
        limit=_count(headers.get("X-RateLimit-Limit")),
        remaining=_count(headers.get("X-RateLimit-Remaining")),
        source=(headers.get("X-RateLimit-Source") or "").strip().lower()[:40],
        kind=(headers.get("X-RateLimit-Type") or "").strip().lower()[:20],
        daily_limit=_count(headers.get("X-RateLimit-Daily-Limit")),
        daily_remaining=_count(headers.get("X-RateLimit-Daily-Remaining")),
    )


def transport_error(exc: httpx.HTTPError, request_id: str | None) -> DeapiError:
    if isinstance(exc, httpx.UnsupportedProtocol):
        return DeapiError(Category.VALIDATION, f"unsupported URL: {exc}", request_id=request_id)
    if isinstance(exc, httpx.TimeoutException):
        kind = type(exc).__name__.replace("Timeout", "").lower() or "request"
        return DeapiError(Category.NETWORK, f"timed out ({kind})", retryable=True, request_id=request_id)
    detail = str(exc) or type(exc).__name__
    return DeapiError(Category.NETWORK, f"network error: {detail}"[:300], retryable=True, request_id=request_id)


def error_for_response(response: httpx.Response, *, job_id: str | None) -> DeapiError:
    """Map a non-2xx API response to a DeapiError (see the module docstring)."""
    status = response.status_code
    body = _json_or_none(response)
    api_message = as_text(body.get("message")) if isinstance(body, Mapping) else ""
    errors = body.get("errors") if isinstance(body, Mapping) and isinstance(body.get("errors"), Mapping) else {}
    head = status_text(response)

    def err(category: Category, message: str, *, retryable: bool = False, **kw: Any) -> DeapiError:
        return DeapiError(category, message[:500], status=status, retryable=retryable, request_id=job_id, **kw)

    if status in (401, 403):
        return err(Category.AUTH, api_message or head)
    if status == 402 or (status == 422 and "balance" in errors):
        return err(Category.BALANCE, _field_message(api_message or head, errors))
    if status in (400, 413, 422):
        return err(Category.VALIDATION, _field_message(api_message or head, errors))
    if status == 404 and job_id is not None:
        return err(Category.NOT_FOUND, f"unknown request id {job_id}" + (f" ({api_message})" if api_message else ""))
    if status == 429:
        kind = response.headers.get("X-RateLimit-Type", "").strip().lower() or None
        if kind is None and response.headers.get("X-RateLimit-Daily-Remaining", "").strip() == "0":
            kind = "daily"
        return err(Category.RATE_LIMITED, api_message or head, retryable=True,
                   retry_after=parse_retry_after(response.headers.get("Retry-After")), rate_limit_type=kind)
    if status >= 500:
        message = head if not api_message or api_message.lower() in head.lower() else f"{head}: {api_message}"
        return err(Category.SERVER, message, retryable=True,
                   retry_after=parse_retry_after(response.headers.get("Retry-After")))
    if status == 408:
        return err(Category.NETWORK, head, retryable=True)
    if status == 404:
        return err(Category.SERVER, f"{head}: no such route (is the API base URL right?)")
    return err(Category.VALIDATION if 400 <= status < 500 else Category.SERVER,
               f"{head}: {api_message}" if api_message else head)


def _field_message(message: str, errors: Mapping[str, Any]) -> str:
    """The API's message plus every field error: "msg [source_url: a; b | model: c]"."""
    parts = []
    for field, msgs in errors.items():
        texts = [str(m) for m in msgs] if isinstance(msgs, list) else [str(msgs)]
        parts.append(f"{field}: {'; '.join(texts)}")
    return f"{message} [{' | '.join(parts)}]" if parts else message


def status_text(response: httpx.Response) -> str:
    return f"{response.status_code} {response.reason_phrase}".strip()


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None
