"""What a transcription costs on the simulated deAPI. The price route's quote and the charge at
submit are the same function, as deAPI says its native quotes are exact.

deAPI's pricing, as documented (pricing.mdx, transcriptions-price.mdx): a base amount (a length
band for TikTok, otherwise a duration rate), times 1.5 for word timestamps or diarization, plus a
flat fee for `include_metadata` on sources that have metadata (never uploads). The duration rate
has a per-job part: 5 minutes is priced at $0.0089, far above a flat $0.05/hour; the defaults
(0.005 + 0.046875 $/h) fit that and a measured 600 s quote of $0.0128125 exactly.
"""

from __future__ import annotations

import math

from . import content
from .config import SimConfig
from .rules import as_bool


def price_of(cfg: SimConfig, seconds: float, *, tiktok: bool = False, detailed: bool = False,
             metadata: bool = False) -> float:
    """USD for `seconds` of media: TikTok's length band (length rounded up, bounds inclusive) or
    `price_per_job` + `price_per_second` per second (or the old flat `price_per_hour`, no fee,
    when that is set); times `word_multiplier` when `detailed`; plus `metadata_fee` when `metadata`."""
    seconds = max(0.0, seconds)
    if tiktok:
        whole = math.ceil(seconds)
        base = next((price for bound, price in cfg.tiktok_bands if whole <= bound), cfg.tiktok_bands[-1][1])
    elif cfg.price_per_hour is not None:
        base = seconds * cfg.price_per_hour / 3600.0
    else:
        base = cfg.price_per_job + seconds * cfg.price_per_second
    if detailed:
        base *= cfg.word_multiplier
    if metadata:
        base += cfg.metadata_fee
    return round(base, 8)


def quote(cfg: SimConfig, fields: dict[str, str], *, url: str = "", seconds: float = 0.0,
          platform: str = "") -> float:
    """The price of a job with these (validated) fields: for the source `url` (duration and
    platform derived from it, as for a job; "upload://..." for a file, whose measured length
    `seconds` is used when given) or, without a URL, for
    `seconds` on `platform` (a duration-only quote, which can only know of metadata from a platform)."""
    has_metadata = bool(platform)
    if url:
        # An upload's measured length, when known; otherwise the length derived from the source.
        seconds = seconds if url.startswith("upload://") and seconds > 0 else content.duration_for(url)
        platform = content.platform_for(url)
        has_metadata = not url.startswith("upload://")
    include_ts = as_bool(fields.get("include_ts", "")) is True
    detailed = (include_ts and fields.get("ts_level", "").strip() == "word") or \
        as_bool(fields.get("diarize", "")) is True
    metadata = has_metadata and as_bool(fields.get("include_metadata", "")) is True
    return price_of(cfg, seconds, tiktok=platform == "tiktok", detailed=detailed, metadata=metadata)
