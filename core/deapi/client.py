"""The deAPI client: one shared `httpx.AsyncClient`, every failure mapped to `DeapiError`.

Nothing outside this module sees an httpx exception or a raw status code: transport
errors, HTTP statuses and unreadable bodies all leave as `DeapiError` with a `Category`
(see `_error_for_response`). Response shapes follow the deAPI spec (docs/deapi-api.md in
the shared notes) and accept every variant it lists; `parse_job` and `parse_result` are
pure functions so the shapes can be tested without a transport.
"""

from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import quote

import httpx

from ..errors import Category, DeapiError
from ..transcript import Transcript
from .payloads import (
    JobStatus,
    as_number,
    as_text,
    data_of,
    is_empty,
    model_name,
    models_page,
    parse_job,
    parse_result,
    to_job_error,
    unreadable,
)
from .retry_after import parse_retry_after

__all__ = ["DeapiClient", "JobStatus", "to_job_error", "parse_job", "parse_result", "USER_AGENT"]

USER_AGENT = "bulk-transcribe/0.1"
MODELS_PAGE_SIZE = 50
_MAX_MODEL_PAGES = 100  # a guard against a paginator that never ends


class DeapiClient:
    """Async deAPI client. Use as `async with DeapiClient(...) as api:` or call `aclose()`.

    Every method raises only `DeapiError` for API, transport and payload failures.
    `transport` is for tests (httpx.MockTransport) and is used for result downloads too.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 100,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max(1, min(max_connections, 50)),
                keepalive_expiry=30.0,
            ),
            transport=transport,
            follow_redirects=False,
        )

    async def __aenter__(self) -> "DeapiClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- API calls ---------------------------------------------------------------------
    async def submit(
        self,
        source_url: str,
        *,
        model: str,
        include_ts: bool,
        lang: str = "",
        ts_level: str | None = None,
    ) -> str:
        """Start one transcription job; return its request id.

        Not idempotent: every call that reaches deAPI may be a paid job, including one
        whose answer is lost (NETWORK, or SERVER for a 200 without a request id).
        """
        fields = {
            "source_url": source_url,
            "model": model,
            "include_ts": _flag(include_ts),
            "return_result_in_response": "true",
        }
        if lang:
            fields["lang"] = lang
        if ts_level:
            fields["ts_level"] = ts_level
        try:
            body = await self._call("POST", "/api/v2/audio/transcriptions", files=_form(fields))
        except DeapiError as err:
            # A timeout after sending, or a 2xx we cannot read: deAPI may have created the job.
            err.maybe_created = err.category is Category.NETWORK or (err.category is Category.SERVER
                                                                    and err.status is None)
            raise
        request_id = data_of(body).get("request_id")
        if not isinstance(request_id, str) or not request_id:
            err = unreadable("submit answered without a request id")
            err.maybe_created = True
            raise err
        return request_id

    async def job(self, request_id: str) -> JobStatus:
        """Read a job (GET /api/v2/jobs/{id}); 404 is NOT_FOUND."""
        body = await self._call("GET", f"/api/v2/jobs/{quote(request_id, safe='')}", job_id=request_id)
        return parse_job(request_id, body)

    async def fetch_result(self, job: JobStatus) -> Transcript:
        """The transcript of a done job: the inline `result` when non-empty, else the
        `result_url` download (sent without the API key). An expired link (403/404/410)
        raises RESULT_EXPIRED (retryable: read the job again for a fresh link)."""
        if job.status != "done":
            raise DeapiError(Category.INTERNAL, f"job is {job.status}, not done", request_id=job.request_id)
        if not is_empty(job.result):
            return parse_result(job.result, language=job.language)
        if not job.result_url:
            if job.result is not None:  # done with an empty inline result: a silent video
                return Transcript("", language=job.language, raw=job.result)
            raise DeapiError(Category.SERVER, "job is done but has neither result nor result_url",
                             retryable=True, request_id=job.request_id)
        return parse_result(await self._download(job), language=job.language)

    async def balance(self) -> float:
        """Account balance in USD."""
        body = await self._call("GET", "/api/v2/account/balance")
        data = data_of(body)
        for value in (data.get("balance"), data.get("amount"), body.get("balance"), body.get("data")):
            number = as_number(value)
            if number is not None:
                return number
        raise unreadable("balance answered without a balance")

    async def models(self) -> list[str]:
        """Every model name in the catalogue, following the pagination to its end."""
        names: list[str] = []
        for page in range(1, _MAX_MODEL_PAGES + 1):
            body = await self._call("GET", "/api/v2/models", params={"limit": MODELS_PAGE_SIZE, "page": page})
            items, more = models_page(body, page)
            for item in items:
                name = model_name(item)
                if name and name not in names:
                    names.append(name)
            if not more or not items:
                break
        return names

    async def price(
        self,
        *,
        model: str,
        include_ts: bool,
        source_url: str | None = None,
        duration_seconds: float | None = None,
        platform: str | None = None,
    ) -> float:
        """Price quote in USD for a URL, or for a duration (+ optional platform)."""
        if not source_url and duration_seconds is None:
            raise DeapiError(Category.VALIDATION, "a price needs a source URL or a duration")
        fields = {"model": model, "include_ts": _flag(include_ts)}
        if source_url:
            fields["source_url"] = source_url
        if duration_seconds is not None:
            fields["duration_seconds"] = f"{duration_seconds:g}"
        if platform:
            fields["platform"] = platform
        body = await self._call("POST", "/api/v2/audio/transcriptions/price", files=_form(fields))
        data = data_of(body)
        value = data.get("price", data.get("amount"))
        number = as_number(value.get("amount") if isinstance(value, Mapping) else value)
        if number is None:
            raise unreadable("price answered without a price")
        return number

    # -- transport ---------------------------------------------------------------------
    async def _call(self, method: str, path: str, *, job_id: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """One API request; the parsed JSON object of a 2xx answer, else DeapiError."""
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, job_id) from exc
        except httpx.InvalidURL as exc:
            raise DeapiError(Category.VALIDATION, f"bad URL: {exc}") from exc
        if not response.is_success:
            raise _error_for_response(response, job_id=job_id)
        try:
            body = response.json()
        except (ValueError, UnicodeDecodeError):
            raise unreadable(f"{response.status_code} with a body that is not JSON", job_id) from None
        if not isinstance(body, dict):
            raise unreadable(f"{response.status_code} with JSON that is not an object", job_id)
        return body

    async def _download(self, job: JobStatus) -> str | bytes:
        """GET the pre-signed result link on the shared pool, without the Authorization header."""
        assert job.result_url
        try:
            request = self._http.build_request("GET", job.result_url)
            del request.headers["Authorization"]  # never hand the key to the storage host
            request.headers["Accept"] = "application/json, text/plain, */*"
            response = await self._http.send(request, follow_redirects=True)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, job.request_id) from exc
        except httpx.InvalidURL as exc:
            raise DeapiError(Category.SERVER, f"unusable result_url: {exc}", request_id=job.request_id) from exc
        status = response.status_code
        if status in (403, 404, 410):
            raise DeapiError(Category.RESULT_EXPIRED, f"result link answered {_status_text(response)}",
                             status=status, retryable=True, request_id=job.request_id)
        if not response.is_success:
            err = _error_for_response(response, job_id=None)
            err.request_id = job.request_id
            if status < 500 and status != 429:  # storage 4xx other than expiry: odd, but worth a retry
                err.category, err.retryable = Category.SERVER, True
            raise err
        try:
            return response.text
        except (UnicodeDecodeError, LookupError):
            return response.content.decode("utf-8", errors="replace")


# -- error mapping -------------------------------------------------------------------------
def _transport_error(exc: httpx.HTTPError, request_id: str | None) -> DeapiError:
    if isinstance(exc, httpx.UnsupportedProtocol):
        return DeapiError(Category.VALIDATION, f"unsupported URL: {exc}", request_id=request_id)
    if isinstance(exc, httpx.TimeoutException):
        kind = type(exc).__name__.replace("Timeout", "").lower() or "request"
        return DeapiError(Category.NETWORK, f"timed out ({kind})", retryable=True, request_id=request_id)
    detail = str(exc) or type(exc).__name__
    return DeapiError(Category.NETWORK, f"network error: {detail}"[:300], retryable=True, request_id=request_id)


def _error_for_response(response: httpx.Response, *, job_id: str | None) -> DeapiError:
    """Map a non-2xx API response to a DeapiError (see the module docstring)."""
    status = response.status_code
    body = _json_or_none(response)
    api_message = as_text(body.get("message")) if isinstance(body, Mapping) else ""
    errors = body.get("errors") if isinstance(body, Mapping) and isinstance(body.get("errors"), Mapping) else {}
    head = _status_text(response)

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


def _status_text(response: httpx.Response) -> str:
    return f"{response.status_code} {response.reason_phrase}".strip()


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


# -- form encoding ------------------------------------------------------------------------
def _form(fields: Mapping[str, str]) -> dict[str, tuple[None, str]]:
    # httpx sends multipart only when `files` is non-empty; (None, value) parts carry no
    # filename, so they arrive as plain form fields.
    return {name: (None, value) for name, value in fields.items()}


def _flag(value: bool) -> str:
    return "true" if value else "false"
