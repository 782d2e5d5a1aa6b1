"""Exponential backoff with full jitter (AWS Architecture Blog's "full jitter" variant).

Full jitter spreads retries of many workers that failed together, so a 503 storm
does not come back as a synchronised wave.
"""

from __future__ import annotations

import random


def backoff_delay(attempt: int, *, base: float = 2.0, cap: float = 120.0, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number `attempt` (1 = first retry): uniform in [0, min(cap, base * 2**(attempt-1))].

    A small floor keeps a zero draw from turning into a busy retry."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    r = (rng or random).random()
    return max(0.05 * ceiling, r * ceiling)
