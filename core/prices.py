"""What a job costs when deAPI has not said: its documented price shape, a fee per job plus a
rate per second of audio (TikTok: a price per length band).

deAPI's pricing page prices 5 minutes at $0.0089 and a measured 600 s quote was $0.0128125:
both fit $0.005 per job plus $0.046875 per hour exactly. A flat per-hour rate alone would
underestimate short videos by an order of magnitude. TikTok is priced by length band instead
(pricing.mdx: the length rounded up to whole seconds, bounds inclusive). deAPI's own price
route and the price a finished job reports always win over this estimate.
"""

from __future__ import annotations

import math

JOB_FEE = 0.005              # USD per job
PER_HOUR = 0.046875          # USD per hour of audio
PER_SECOND = PER_HOUR / 3600.0
# TikTok (only on WhisperLargeV3Ct2): (up to this many seconds, USD), the last band open-ended.
TIKTOK_BANDS: tuple[tuple[float, float], ...] = (
    (60, 0.015), (120, 0.0225), (180, 0.030), (300, 0.045), (600, 0.0825), (math.inf, 0.105),
)


def tiktok_band(seconds: float) -> int:
    """The index in TIKTOK_BANDS of a TikTok video of `seconds` (rounded up, bounds inclusive)."""
    whole = math.ceil(max(0.0, seconds))
    return next(i for i, (bound, _) in enumerate(TIKTOK_BANDS) if whole <= bound)


def estimate_price(seconds: float | None, *, platform: str | None = None) -> float | None:
    """USD for one job of `seconds` of audio; None when the length is unknown. `platform` is
    deAPI's name (`tiktok` prices by band; any other, or None, by fee + per second)."""
    if seconds is None or seconds < 0 or math.isnan(seconds):
        return None
    if platform == "tiktok":
        return TIKTOK_BANDS[tiktok_band(seconds)][1]
    return JOB_FEE + PER_SECOND * seconds
