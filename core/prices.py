"""What a job costs when deAPI has not said: its documented price shape, a fee per job plus a
rate per second of audio.

deAPI's pricing page prices 5 minutes at $0.0089 and a measured 600 s quote was $0.0128125:
both fit $0.005 per job plus $0.046875 per hour exactly. A flat per-hour rate alone would
underestimate short videos by an order of magnitude. deAPI's own price route and the price a
finished job reports always win over this estimate.
"""

from __future__ import annotations

JOB_FEE = 0.005              # USD per job
PER_HOUR = 0.046875          # USD per hour of audio
PER_SECOND = PER_HOUR / 3600.0


def estimate_price(seconds: float | None) -> float | None:
    """USD for one job of `seconds` of audio; None when the length is unknown."""
    if seconds is None or seconds < 0:
        return None
    return JOB_FEE + PER_SECOND * seconds
