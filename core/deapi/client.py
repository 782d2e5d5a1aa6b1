"""The deAPI client: one shared `httpx.AsyncClient`, every failure mapped to `DeapiError`.

Nothing outside this package sees an httpx exception or a raw status code: transport errors,
HTTP statuses and unreadable bodies all leave as `DeapiError` with a `Category` (answers.py).
Response shapes follow deAPI's documents and accept every variant they allow; `parse_job`
and `parse_result` are pure functions so the shapes can be tested without a transport.

Two things protect the user's money here:
- every request is bounded as a whole (`TOTAL`), not per read: an answer trickled a byte at
  a time cannot hold a worker forever;
- a failed submit says whether it may have created a job (`DeapiError.maybe_created`). That is
  decided from what reached the wire: httpcore's trace tells when the request body was sent in
  full. Before that (connection refused, DNS, TLS, a pool timeout) nothing can have been made;
  after it, a lost answer (timeout, reset, 502/504, an unreadable 200) is in doubt.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from typing import Any, Callable, Mapping
from urllib.parse import quote

import anyio
import httpx

# httpcore runs `import sniffio` on every request and falls back to asyncio when it is missing
# (anyio 4 no longer needs it). A failed import searches every sys.path entry again each time:
# about 12 % of a profiled 4,000-video run (issue 15). A None in sys.modules makes the same
# import fail at once; when sniffio is installed nothing changes.
if importlib.util.find_spec("sniffio") is None:
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

from ..errors import Category, DeapiError
from ..transcript import Transcript
from .answers import RateLimitInfo, error_for_response, rate_limit_info, status_text, transport_error
from .payloads import (
    JobStatus,
    as_number,
    data_of,
    is_empty,
    model_name,
    models_page,
    parse_job,
    parse_result,
    to_job_error,
    unreadable,
)

__all__ = ["DeapiClient", "JobStatus", "RateLimitInfo", "to_job_error", "parse_job", "parse_result", "USER_AGENT"]

USER_AGENT = "bulk-transcribe/0.1"
MODELS_PAGE_SIZE = 50
_MAX_MODEL_PAGES = 100  # a guard against a paginator that never ends

# Seconds a whole request may take, answer included. A submit is given long: once its body is
# on the wire, giving up early only turns a slow answer into one in doubt.
TOTAL = {"submit": 180.0, "upload": 900.0, "status": 60.0, "result": 300.0, "price": 60.0, "balance": 30.0, "models": 60.0}
# Statuses that may come from a gateway after the request reached deAPI: the job may exist.
IN_DOUBT_STATUSES = frozenset({502, 504})

OnLimits = Callable[[str, RateLimitInfo], None]


class DeapiClient:
    """Async deAPI client. Use as `async with DeapiClient(...) as api:` or call `aclose()`.

    Every method raises only `DeapiError` for API, transport and payload failures.
    `transport` is for tests (httpx.MockTransport) and is used for result downloads too.
    `on_limits(endpoint, info)` is called with the `X-RateLimit-*` headers of every answer
    of "submit", "status" and "price" that carries any (successes and errors alike), and with
    how long that answer took (`info.elapsed`).
    `totals` overrides `TOTAL` per endpoint (seconds for the whole request).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 100,
        on_limits: OnLimits | None = None,
        totals: Mapping[str, float] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.on_limits = on_limits
        self.totals = {**TOTAL, **(totals or {})}
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

        Not idempotent: every call that reaches deAPI may be a paid job. A failure whose
        request reached deAPI in full and whose answer was lost or unreadable has
        `maybe_created` set; one that never left (or was refused outright) has not.
        """
        fields = _job_fields(model=model, include_ts=include_ts, lang=lang, ts_level=ts_level)
        fields["source_url"] = source_url
        return await self._submit(_form(fields), total=self.totals["submit"])

    async def submit_file(
        self,
        data: bytes,
        *,
        filename: str,
        content_type: str,
        model: str,
        include_ts: bool,
        lang: str = "",
        ts_level: str | None = None,
    ) -> str:
        """Start one transcription job on uploaded media (`source_file`, multipart); return its
        request id. The same money rules as `submit` (`maybe_created`); the whole request, upload
        included, is bounded by `totals["upload"]`. deAPI refuses a file over its type's cap with
        413 or 422 (VALIDATION, never created): callers keep files under their cap."""
        fields = _form(_job_fields(model=model, include_ts=include_ts, lang=lang, ts_level=ts_level))
        fields["source_file"] = (filename, data, content_type)   # type: ignore[assignment]
        return await self._submit(fields, total=self.totals["upload"])

    async def _submit(self, files: dict[str, Any], *, total: float) -> str:
        body = await self._call("POST", "/api/v2/audio/transcriptions", endpoint="submit", files=files, total=total)
        request_id = data_of(body).get("request_id")
        if not isinstance(request_id, str) or not request_id:
            err = unreadable("submit answered without a request id")
            err.maybe_created = True
            raise err
        return request_id

    async def job(self, request_id: str) -> JobStatus:
        """Read a job (GET /api/v2/jobs/{id}); 404 is NOT_FOUND."""
        body = await self._call("GET", f"/api/v2/jobs/{quote(request_id, safe='')}", endpoint="status",
                                job_id=request_id)
        return parse_job(request_id, body)

    async def fetch_result(self, job: JobStatus, *, need_segments: bool = False) -> Transcript:
        """The transcript of a done job.

        deAPI types the inline `result` as the text only, so a structured job (Ct2 with
        timestamps: `transcription.structured`), or a caller that needs segments, reads the
        `result_url` file (JSON with segments), fetched without the API key; otherwise a
        non-empty inline result is used. An expired link (403/404/410) raises RESULT_EXPIRED
        (retryable: read the job again for a fresh link)."""
        if job.status != "done":
            raise DeapiError(Category.INTERNAL, f"job is {job.status}, not done", request_id=job.request_id)
        inline_has_segments = isinstance(job.result, (Mapping, list)) and parse_result(job.result).segments
        wants_file = (job.structured or need_segments) and not inline_has_segments
        if not is_empty(job.result) and not (wants_file and job.result_url):
            return parse_result(job.result, language=job.language)
        if not job.result_url:
            if job.result is not None:  # done with an empty inline result: a silent video
                return Transcript("", language=job.language, raw=job.result)
            raise DeapiError(Category.SERVER, "job is done but has neither result nor result_url",
                             retryable=True, request_id=job.request_id)
        return parse_result(await self._download(job), language=job.language)

    async def balance(self) -> float:
        """Account balance in USD."""
        body = await self._call("GET", "/api/v2/account/balance", endpoint="balance")
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
            body = await self._call("GET", "/api/v2/models", endpoint="models",
                                    params={"limit": MODELS_PAGE_SIZE, "page": page})
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
        lang: str = "",
        ts_level: str | None = None,
    ) -> float:
        """Price quote in USD for a URL, or for a duration (+ optional platform: one of deAPI's
        names, `youtube`, `twitter`, `twitch`, `kick`, `tiktok`). `lang` and `ts_level` are sent
        as a submit sends them (word timestamps cost more), so the quote is for the same job."""
        if not source_url and duration_seconds is None:
            raise DeapiError(Category.VALIDATION, "a price needs a source URL or a duration")
        fields = {"model": model, "include_ts": _flag(include_ts)}
        if source_url:
            fields["source_url"] = source_url
        if duration_seconds is not None:
            fields["duration_seconds"] = f"{duration_seconds:g}"
        if platform:
            fields["platform"] = platform
        if lang:
            fields["lang"] = lang
        if ts_level:
            fields["ts_level"] = ts_level
        body = await self._call("POST", "/api/v2/audio/transcriptions/price", endpoint="price", files=_form(fields))
        data = data_of(body)
        value = data.get("price", data.get("amount"))
        number = as_number(value.get("amount") if isinstance(value, Mapping) else value)
        if number is None:
            raise unreadable("price answered without a price")
        return number

    # -- transport ---------------------------------------------------------------------
    async def _call(self, method: str, path: str, *, endpoint: str, job_id: str | None = None,
                    total: float | None = None, **kwargs: Any) -> dict[str, Any]:
        """One API request, bounded as a whole; the parsed JSON object of a 2xx answer, else
        DeapiError (with `maybe_created` for a submit whose answer was lost after it was sent)."""
        traced, sent = [False], [False]

        async def trace(name: str, info: Mapping[str, Any]) -> None:
            traced[0] = True
            if name.endswith("send_request_body.complete"):
                sent[0] = True

        def reached(exc: BaseException | None) -> bool:
            """Whether the request may have reached deAPI in full. A transport without httpcore's
            trace (a test's MockTransport) is judged by the failure: only a failed connect is safe."""
            if traced[0]:
                return sent[0]
            return not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))

        total = total or self.totals.get(endpoint, 60.0)
        if endpoint == "submit":
            # A submit's answer may take as long as the whole request may: a per-read timeout
            # shorter than `total` would be an answer deadline below the HTTP bound, turning a
            # slow answer into one in doubt (a paid job left without its transcript).
            kwargs["timeout"] = httpx.Timeout(**(self._http.timeout.as_dict() | {"read": total}))
        try:
            with anyio.fail_after(total):
                try:
                    response = await self._http.request(method, path, extensions={"trace": trace}, **kwargs)
                except httpx.HTTPError as exc:
                    err = transport_error(exc, job_id)
                    err.maybe_created = endpoint == "submit" and err.category is Category.NETWORK and reached(exc)
                    raise err from exc
                except httpx.InvalidURL as exc:
                    raise DeapiError(Category.VALIDATION, f"bad URL: {exc}") from exc
        except TimeoutError:
            err = DeapiError(Category.NETWORK, f"no whole answer within {total:g} s", retryable=True,
                             request_id=job_id)
            err.maybe_created = endpoint == "submit" and reached(None)
            raise err from None
        self._report_limits(endpoint, response)
        if not response.is_success:
            err = error_for_response(response, job_id=job_id)
            err.maybe_created = endpoint == "submit" and response.status_code in IN_DOUBT_STATUSES
            raise err
        try:
            body = response.json()
        except (ValueError, UnicodeDecodeError):
            err = unreadable(f"{response.status_code} with a body that is not JSON", job_id)
            err.maybe_created = endpoint == "submit"
            raise err from None
        if not isinstance(body, dict):
            err = unreadable(f"{response.status_code} with JSON that is not an object", job_id)
            err.maybe_created = endpoint == "submit"
            raise err
        return body

    def _report_limits(self, endpoint: str, response: httpx.Response) -> None:
        if self.on_limits is None or endpoint not in ("submit", "status", "price"):
            return
        info = rate_limit_info(response.headers)
        if not info.empty:
            try:
                info = replace(info, elapsed=max(0.0, response.elapsed.total_seconds()))
            except RuntimeError:   # not closed (cannot happen for a read answer): Remaining's age unknown
                pass
            try:
                self.on_limits(endpoint, info)
            except Exception:   # a listener's bug must not turn an answer into a failure
                pass

    async def _download(self, job: JobStatus) -> str | bytes:
        """GET the pre-signed result link on the shared pool, without the Authorization header."""
        assert job.result_url
        total = self.totals.get("result", 300.0)
        try:
            with anyio.fail_after(total):
                request = self._http.build_request("GET", job.result_url)
                del request.headers["Authorization"]  # never hand the key to the storage host
                request.headers["Accept"] = "application/json, text/plain, */*"
                response = await self._http.send(request, follow_redirects=True)
        except TimeoutError:
            raise DeapiError(Category.NETWORK, f"the result did not arrive within {total:g} s", retryable=True,
                             request_id=job.request_id) from None
        except httpx.HTTPError as exc:
            raise transport_error(exc, job.request_id) from exc
        except httpx.InvalidURL as exc:
            raise DeapiError(Category.SERVER, f"unusable result_url: {exc}", request_id=job.request_id) from exc
        status = response.status_code
        if status in (403, 404, 410):
            raise DeapiError(Category.RESULT_EXPIRED, f"result link answered {status_text(response)}",
                             status=status, retryable=True, request_id=job.request_id)
        if not response.is_success:
            err = error_for_response(response, job_id=None)
            err.request_id = job.request_id
            if status < 500 and status != 429:  # storage 4xx other than expiry: odd, but worth a retry
                err.category, err.retryable = Category.SERVER, True
            raise err
        try:
            return response.text
        except (UnicodeDecodeError, LookupError):
            return response.content.decode("utf-8", errors="replace")


# -- form encoding ------------------------------------------------------------------------
def _form(fields: Mapping[str, str]) -> dict[str, tuple[None, str]]:
    # httpx sends multipart only when `files` is non-empty; (None, value) parts carry no
    # filename, so they arrive as plain form fields.
    return {name: (None, value) for name, value in fields.items()}


def _job_fields(*, model: str, include_ts: bool, lang: str, ts_level: str | None) -> dict[str, str]:
    fields = {"model": model, "include_ts": _flag(include_ts), "return_result_in_response": _flag(True)}
    if lang:
        fields["lang"] = lang
    if ts_level:
        fields["ts_level"] = ts_level
    return fields


def _flag(value: bool) -> str:
    # deAPI validates with Laravel's `boolean` rule, which takes 1/0 but not "true"/"false"
    # in a form; the official SDK sends 1/0 too.
    return "1" if value else "0"


