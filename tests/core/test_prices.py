"""core/prices.py: deAPI's documented price shape, the estimate when deAPI has not quoted."""

from __future__ import annotations

import math

import pytest

from bulk_transcribe.core.prices import JOB_FEE, PER_HOUR, TIKTOK_BANDS, estimate_price, tiktok_band
from bulk_transcribe.core.simulator.config import TIKTOK_BANDS as SIM_BANDS
from bulk_transcribe.core.simulator.config import SimConfig
from bulk_transcribe.core.simulator.pricing import price_of


def test_documented_data_points():
    assert estimate_price(300) == pytest.approx(0.00890625)     # pricing.mdx: 5 minutes ~ $0.0089
    assert estimate_price(600) == pytest.approx(0.0128125)      # measured Ct2 600 s quote
    assert estimate_price(0) == JOB_FEE
    assert estimate_price(3600) == pytest.approx(JOB_FEE + PER_HOUR)
    assert estimate_price(None) is None and estimate_price(-1) is None and estimate_price(math.nan) is None


@pytest.mark.parametrize("seconds, price", [(1, 0.015), (60, 0.015), (60.2, 0.0225), (120, 0.0225), (180, 0.030),
                                            (300, 0.045), (301, 0.0825), (600, 0.0825), (601, 0.105), (7200, 0.105)])
def test_tiktok_is_priced_by_band(seconds, price):
    assert estimate_price(seconds, platform="tiktok") == price
    assert TIKTOK_BANDS[tiktok_band(seconds)][1] == price


def test_the_simulator_prices_as_documented():
    assert SIM_BANDS == TIKTOK_BANDS
    cfg = SimConfig()
    for seconds in (0, 1, 59, 300, 601, 5400):
        assert price_of(cfg, seconds) == pytest.approx(estimate_price(seconds))
        assert price_of(cfg, seconds, tiktok=True) == pytest.approx(estimate_price(seconds, platform="tiktok"))
