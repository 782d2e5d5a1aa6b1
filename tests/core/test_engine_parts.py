"""Small engine parts: adaptive concurrency, backoff and throughput/ETA."""

from __future__ import annotations

import random

import pytest

from bulk_transcribe.core.run.backoff import backoff_delay
from bulk_transcribe.core.run.pacing import AdaptiveLevel
from bulk_transcribe.core.run.stats import Throughput


def test_adaptive_level_halves_on_trouble_and_climbs_back():
    now = [0.0]
    level = AdaptiveLevel(8, clock=lambda: now[0], cooldown=5.0)
    assert level.lower_after("a 429") and level.current == 4
    assert level.lower_after("a 429") is None and level.current == 4, "one cut per burst"
    now[0] = 6.0
    level.lower_after("a 503")
    now[0] = 12.0
    level.lower_after("a 503")
    assert level.current == 1, "down to one at a time, the sequential fallback"
    level.lower_after("x")
    assert level.current == 1
    now[0] = 20.0
    for _ in range(200):
        level.raise_after_success()
    assert level.current == 8


def test_adaptive_off_keeps_the_level():
    level = AdaptiveLevel(5, enabled=False, clock=lambda: 0.0)
    level.lower_after("a 429")
    assert level.current == 5


def test_backoff_is_full_jitter_within_an_exponential_ceiling():
    rng = random.Random(1)
    for attempt in range(1, 8):
        ceiling = min(120.0, 2.0 * 2 ** (attempt - 1))
        draws = [backoff_delay(attempt, rng=rng) for _ in range(300)]
        assert all(0 < d <= ceiling for d in draws)
        assert max(draws) > 0.8 * ceiling and min(draws) < 0.3 * ceiling, "spread over the whole range"


def test_throughput_and_eta():
    t = Throughput(window=60.0)
    t.start(0.0)
    assert t.eta(0.0, 10, model_rate_per_min=5.0) == pytest.approx(120.0), "the model until videos finish"
    for s in range(1, 31):
        t.completed(float(s))            # one a second
    assert t.per_minute(30.0) == pytest.approx(60.0)
    assert t.eta(30.0, 60, model_rate_per_min=5.0) == pytest.approx(60.0)
    assert t.eta(30.0, 0, model_rate_per_min=5.0) == 0.0


def test_auto_mode_is_per_endpoint_on_basic_and_shared_on_premium():
    from bulk_transcribe.core.limiter import RateLimiter
    from bulk_transcribe.core.settings import Settings

    lim = RateLimiter.from_settings(Settings(plan="basic"))
    assert not lim.shared, "one shared bucket would hold status checks to Basic's 1 submit a minute"
    assert lim.bucket("status").per_minute == 50 and lim.bucket("submit").per_minute == 1
    assert RateLimiter.from_settings(Settings(plan="premium")).shared
    assert RateLimiter.from_settings(Settings(plan="basic", limit_mode="shared")).shared, "explicit wins"
