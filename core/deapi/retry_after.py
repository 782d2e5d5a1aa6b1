"""Reading and writing the `Retry-After` header (RFC 9110 §10.2.3).

Shared by the deAPI client, the rate limiter and the simulated service, so that all
three agree on what a header means.
"""

from __future__ import annotations

import math
import time
from datetime import timezone
from email.utils import formatdate, parsedate_to_datetime


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait according to a `Retry-After` value, or None.

    `value` may be delay-seconds ("120"; a decimal is tolerated) or an HTTP date
    ("Wed, 21 Oct 2015 07:28:00 GMT"); a date is taken relative to `now`
    (wall clock seconds, default `time.time()`) and a date in the past means 0.
    Absent, empty, negative, non-finite or otherwise malformed values give None:
    the caller then falls back to its own pause. Never raises.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:  # pragma: no cover - older Pythons returned None on garbage
        return None
    if when.tzinfo is None:
        # RFC 9110 dates are always GMT; email.utils leaves "-0000" naive.
        when = when.replace(tzinfo=timezone.utc)
    reference = time.time() if now is None else now
    return max(0.0, when.timestamp() - reference)


def format_retry_after(seconds: float, *, as_date: bool = False, now: float | None = None) -> str:
    """A `Retry-After` value for a wait of `seconds` (rounded up to whole seconds).

    With `as_date`, an IMF-fixdate (`now` + seconds, wall clock) instead of delay-seconds.
    """
    whole = max(0, math.ceil(seconds))
    if not as_date:
        return str(whole)
    reference = time.time() if now is None else now
    return formatdate(math.ceil(reference) + whole, usegmt=True)
