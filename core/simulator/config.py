"""What the simulated deAPI does: limits, timing, prices, validation, faults. Changeable while it runs.

Faults are keyed by a substring of the submitted `source_url`; the first key (in dict
order) found in the URL decides the fault. Job faults shape the job; wire faults shape the
answer of a submit whose job was already created (and billed):

==========================  =============================================================
``private``                 job ends `error`, SOURCE_PRIVATE, retryable false, refunded
``restricted``              job ends `error`, SOURCE_RESTRICTED, retryable false, refunded
``flaky:N``                 the first N jobs for that URL end SOURCE_DOWNLOAD_FAILED
                            (retryable true); later ones succeed
``capacity``                the first job for that URL ends CAPACITY_UNAVAILABLE (retryable true)
``failed-charged``          job ends `error`, PROCESSING_FAILED, retryable false, **refunded
                            false**: the charge is kept (balance and `charged()` show it)
``failed-charged:retryable``  the same with retryable true
``invalid``                 the submit is refused: 422 with ``errors.source_url`` (not billed)
``silent``                  job ends `done` with an empty transcript
``slow:X``                  the job takes X seconds instead of its drawn latency
``garbled:N``               the first N submits create their job but answer 200 with an HTML body
``hold:X``                  every submit creates its job at once, its answer waits X seconds
``trickle:N``               every submit creates its job; the answer's headers leave at once,
                            its body at about N bytes/s
``reset:N``                 the first N submits are read in full and create their job, then the
                            connection is reset (SO_LINGER 0, a TCP RST) with no answer
==========================  =============================================================

The SimConfig fields, by group (defaults follow deAPI's docs where they say anything):

- limits: ``submit_rpm``, ``status_rpm``, ``price_rpm`` and ``*_per_day`` (None = no daily
  limit) per endpoint bucket, or with ``shared_limits`` one account bucket (``account_rpm``,
  ``account_per_day``) for all three; ``window`` is the "minute" in seconds. Every answer of a
  limited endpoint past auth carries X-RateLimit-Limit/-Remaining/-Source (Source "endpoint" or
  "account"; deAPI names no values) and Daily-* when a daily limit is set; 429s add
  X-RateLimit-Type and, with ``retry_after_header``, Retry-After (``retry_after_as_date``: an
  HTTP date). ``plan_limits("basic")`` gives deAPI's published Basic limits.
- jobs: ``latency`` (seconds, drawn per URL and attempt from ``seed``), ``pending_share`` (the
  part of it spent `pending`), ``result_ttl`` (seconds a result link is valid), ``inline_result``
  (honour return_result_in_response), ``inline_structured`` (a Ct2 job's inline result is its
  JSON object instead of its text, which the docs leave open), ``faults``.
- money: ``balance``, ``min_balance`` (submits refused below it, 422 errors.balance), prices
  (see pricing.py): ``price_per_job`` + ``price_per_second``, or the old flat ``price_per_hour``;
  ``word_multiplier``, ``metadata_fee``, ``tiktok_bands``.
- validation: ``strict_booleans`` (Laravel's boolean rule: "1"/"0" and JSON true/false, not
  the strings "true"/"false"), ``max_body_bytes`` (413 above it), ``upload_audio_max_bytes`` and
  ``upload_video_max_bytes`` (a ``source_file`` over its type's cap is refused with
  ``upload_over_cap_status``: 413 as the limits page says, or 422 naming ``source_file`` as deAPI
  was measured to answer), ``models``, ``api_keys``
  (None = any non-empty key), ``price_platforms`` (the price route's platform enum).
- chaos before the route: ``server_error_share`` (5xx drawn from ``server_error_statuses``; gateway
  HTML for 502/503; no job is made, though a client cannot tell a 502 from one after arrival),
  ``slow_share`` of requests delayed ``slow_seconds`` (before any job is created).
- the wire after the route (wire.py): ``submit_answer_delay`` (every submit answer held),
  ``trickle_bytes_per_second`` for answers of ``trickle_endpoints``, ``reset_share`` of answers
  of ``reset_endpoints`` reset. Endpoint names: submit, status, price, balance, models, storage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .wire import WIRE_ENDPOINTS

DEFAULT_MODELS: tuple[str, ...] = (
    "WhisperLargeV3", "WhisperLargeV3Ct2", "Flux1schnell", "ZImageTurbo_INT8", "Ltxv_13B_0_9_8_Distilled_FP8",
    "Kokoro", "Chatterbox", "Bge_M3_FP16", "Nanonets_Ocr_S_F16", "QwenImageEdit_Plus_NF4",
)
TRANSCRIPTION_MODELS = frozenset({"WhisperLargeV3", "WhisperLargeV3Ct2"})
PRICE_PLATFORMS = ("youtube", "twitter", "twitch", "kick", "tiktok")   # the price route's `platform` enum
# deAPI's published limits per plan (limits-and-quotas.mdx; Premium's status and price rows are
# not stated: 300/min assumed). An account knows its plan only from the X-RateLimit-* headers.
PLANS: dict[str, dict[str, int | None]] = {
    "basic": dict(submit_rpm=1, submit_per_day=10, status_rpm=50, status_per_day=200,
                  price_rpm=50, price_per_day=200),
    "premium": dict(submit_rpm=300, submit_per_day=None, status_rpm=300, status_per_day=None,
                    price_rpm=300, price_per_day=None),
}
# TikTok is priced by length band: (up to this many seconds, USD), the last one open-ended.
TIKTOK_BANDS: tuple[tuple[float, float], ...] = (
    (60, 0.015), (120, 0.0225), (180, 0.030), (300, 0.045), (600, 0.0825), (math.inf, 0.105),
)
FAULT_KINDS = frozenset({"private", "restricted", "flaky", "capacity", "invalid", "silent", "slow", "garbled",
                         "failed-charged", "hold", "trickle", "reset"})


@dataclass
class SimConfig:
    """Knobs of the simulated service (grouped in the module docstring). Rates are per endpoint
    bucket ("submit" covers v1 and v2 submits, "status" both status routes, "price" the price
    route) unless `shared_limits`; `None` per day = no daily limit. `latency` bounds are seconds
    per job, drawn per (URL, attempt) from `seed`. `window` is the length in seconds of the "per
    minute" windows (60; a benchmark that scales time shortens it together with the latencies and
    the client's own window). Raises ValueError on construction for values it cannot honour.
    """

    submit_rpm: int = 300
    status_rpm: int = 300
    submit_per_day: int | None = None
    status_per_day: int | None = None
    price_rpm: int = 300
    price_per_day: int | None = None
    # One account bucket for submit, status and price instead of one each (the docs call
    # Premium's 300 RPM both "unified" and per endpoint); its headers say X-RateLimit-Source: account.
    shared_limits: bool = False
    account_rpm: int = 300
    account_per_day: int | None = None
    window: float = 60.0
    latency: tuple[float, float] = (20.0, 80.0)
    pending_share: float = 0.2
    result_ttl: float = 5 * 3600.0
    inline_result: bool = True
    inline_structured: bool = False    # a structured job's inline `result` is its JSON object, not its text
    server_error_share: float = 0.0
    server_error_statuses: tuple[int, ...] = (500, 502, 503)   # drawn from for each injected error
    slow_share: float = 0.0
    slow_seconds: float = 0.0
    faults: dict[str, str] = field(default_factory=dict)
    balance: float = 100.0
    # Prices (pricing.py): a per-job part plus a per-second part, used for quotes and charges alike.
    price_per_job: float = 0.005
    price_per_second: float = 0.046875 / 3600.0     # 5 min = $0.00890625 with the fee (docs: $0.0089)
    price_per_hour: float | None = None             # set: the old flat rate, no per-job part
    word_multiplier: float = 1.5                    # ts_level=word, or diarize at any level
    metadata_fee: float = 0.005                     # include_metadata on a source that has metadata
    tiktok_bands: tuple[tuple[float, float], ...] = TIKTOK_BANDS
    api_keys: frozenset[str] | None = None
    seed: int = 0
    retry_after_header: bool = True
    retry_after_as_date: bool = False
    # Beyond the original contract, with defaults that match the spec:
    min_balance: float = 0.49            # submits refused below this balance (422 errors.balance)
    max_body_bytes: int = 75 * 1024 * 1024
    # source_file uploads (limits-and-quotas.mdx: audio 20 MB, video 50 MB; these have changed).
    upload_audio_max_bytes: int = 20 * 1024 * 1024
    upload_video_max_bytes: int = 50 * 1024 * 1024
    upload_over_cap_status: int = 413
    # Laravel's boolean rule: "1"/"0" (and JSON true/false) only; the strings "true"/"false" get a 422.
    strict_booleans: bool = True
    models: tuple[str, ...] = DEFAULT_MODELS
    # The price route's `platform` enum; a platform left out is refused (422 errors.platform), as
    # deAPI would if it dropped one: a quote that fails for one platform only.
    price_platforms: tuple[str, ...] = PRICE_PLATFORMS
    # The wire (wire.py), after the route has run, so a submit's job exists and is billed first:
    submit_answer_delay: float = 0.0                 # every submit answer is held this many seconds
    trickle_bytes_per_second: float = 0.0            # > 0: answers of trickle_endpoints trickle out
    trickle_endpoints: frozenset[str] = frozenset({"submit"})
    reset_share: float = 0.0                         # share of answers of reset_endpoints reset (RST)
    reset_endpoints: frozenset[str] = frozenset({"submit"})

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError for settings the simulator cannot honour."""
        low, high = self.latency
        if not 0 <= low <= high:
            raise ValueError(f"latency must be 0 <= low <= high (got {self.latency})")
        if not self.window > 0:
            raise ValueError(f"window must be positive seconds (got {self.window})")
        for name in ("submit_rpm", "status_rpm", "price_rpm", "account_rpm"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.upload_over_cap_status not in (413, 422):
            raise ValueError("upload_over_cap_status must be 413 or 422")
        if min(self.upload_audio_max_bytes, self.upload_video_max_bytes) < 1:
            raise ValueError("upload caps must be at least 1 byte")
        if self.submit_answer_delay < 0 or self.trickle_bytes_per_second < 0:
            raise ValueError("submit_answer_delay and trickle_bytes_per_second must not be negative")
        for name in ("trickle_endpoints", "reset_endpoints"):
            unknown = set(getattr(self, name)) - WIRE_ENDPOINTS
            if unknown:
                raise ValueError(f"{name}: unknown endpoint(s) {', '.join(sorted(unknown))}")
        for name in ("pending_share", "server_error_share", "slow_share", "reset_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        prices = (self.price_per_job, self.price_per_second, self.metadata_fee, self.word_multiplier,
                  self.price_per_hour or 0.0, *(price for _, price in self.tiktok_bands))
        if min(prices) < 0 or not self.tiktok_bands:
            raise ValueError("prices must be non-negative and tiktok_bands non-empty")
        for key, spec in self.faults.items():
            parse_fault(spec)  # raises on a bad spec
            if not key:
                raise ValueError("a fault key must be a non-empty substring of the URL")


def plan_limits(plan: str) -> dict[str, int | None]:
    """SimConfig limit fields of a deAPI plan ("basic" | "premium"): `SimConfig(**plan_limits("basic"))`.
    Raises ValueError for another name."""
    try:
        return dict(PLANS[plan])
    except KeyError:
        raise ValueError(f"unknown plan {plan!r} (one of {', '.join(PLANS)})") from None


@dataclass(frozen=True)
class Fault:
    kind: str
    count: int = 1         # flaky:N
    seconds: float = 0.0   # slow:X
    retryable: bool = False  # failed-charged:retryable
    rate: float = 0.0        # trickle:N (bytes per second)


def parse_fault(spec: str) -> Fault:
    """`"flaky:3"` -> Fault("flaky", count=3); raise ValueError for an unknown kind."""
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault {spec!r} (one of {', '.join(sorted(FAULT_KINDS))})")
    if kind in ("flaky", "garbled", "reset"):
        count = int(arg or 1)
        if count < 1:
            raise ValueError(f"{kind} takes a count of at least 1 (got {arg!r})")
        return Fault(kind, count=count)
    if kind in ("slow", "hold"):
        if not arg or float(arg) < 0:
            raise ValueError(f"{kind} needs seconds, e.g. {kind}:5")
        return Fault(kind, seconds=float(arg))
    if kind == "trickle":
        if not arg or not float(arg) > 0:
            raise ValueError("trickle needs bytes per second, e.g. trickle:50")
        return Fault(kind, rate=float(arg))
    if kind == "failed-charged":
        if arg not in ("", "final", "retryable"):
            raise ValueError(f"failed-charged takes 'retryable' or 'final' (got {arg!r})")
        return Fault(kind, retryable=arg == "retryable")
    return Fault(kind)


def fault_for(source_url: str, faults: dict[str, str]) -> Fault | None:
    """The fault of the first key that occurs in `source_url`, or None."""
    for key, spec in faults.items():
        if key in source_url:
            return parse_fault(spec)
    return None
