"""X-RateLimit-* headers on every answer of the limited endpoints (submit, status, price), over real
loopback HTTP (raw httpx): the account's limits can be learned from the first answers, as deAPI's
errors page says. Per-endpoint buckets by default; one account bucket with `shared_limits`.
"""

from __future__ import annotations

from typing import Iterator

import httpx
import pytest

from bulk_transcribe.core.simulator import SimConfig, SimServer
from bulk_transcribe.core.simulator.__main__ import build_parser, config_from_args
from bulk_transcribe.core.simulator.config import plan_limits

URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
SUBMIT = "/api/v2/audio/transcriptions"
PRICE = "/api/v2/audio/transcriptions/price"
UNKNOWN = "/api/v2/jobs/00000000-0000-4000-8000-000000000000"
BODY = {"source_url": (None, URL), "model": (None, "WhisperLargeV3"), "include_ts": (None, "0")}
QUOTE = {"duration_seconds": (None, "300"), "model": (None, "WhisperLargeV3"), "include_ts": (None, "0")}


@pytest.fixture
def sim() -> Iterator[SimServer]:
    with SimServer(SimConfig(latency=(0.05, 0.15))) as server:
        yield server


@pytest.fixture
def api(sim: SimServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, headers={"Authorization": "Bearer key"}) as client:
        yield client


def limits(answer: httpx.Response) -> tuple[str, str, str]:
    h = answer.headers
    return h["X-RateLimit-Limit"], h["X-RateLimit-Remaining"], h["X-RateLimit-Source"]


def test_basic_account_limits_show_in_the_headers(sim, api):
    sim.set_config(**plan_limits("basic"))
    first = api.post(SUBMIT, files=BODY)
    assert first.status_code == 200 and limits(first) == ("1", "0", "endpoint")
    assert first.headers["X-RateLimit-Daily-Limit"] == "10" and first.headers["X-RateLimit-Daily-Remaining"] == "9"
    assert "X-RateLimit-Type" not in first.headers   # only on 429s
    rid = first.json()["data"]["request_id"]
    status = api.get(f"/api/v2/jobs/{rid}")
    assert status.status_code == 200 and limits(status) == ("50", "49", "endpoint")
    assert status.headers["X-RateLimit-Daily-Limit"] == "200"
    price = api.post(PRICE, files=QUOTE)
    assert price.status_code == 200 and limits(price) == ("50", "49", "endpoint")
    assert price.headers["X-RateLimit-Daily-Remaining"] == "199"
    refused = api.post(SUBMIT, files=BODY)
    assert refused.status_code == 429 and limits(refused) == ("1", "0", "endpoint")
    assert refused.headers["X-RateLimit-Type"] == "minute" and refused.headers["Retry-After"]
    assert sim.count_429 == {"submit": 1, "status": 0, "price": 0}


def test_every_answer_of_a_limited_endpoint_carries_them(sim, api):
    sim.set_config(submit_rpm=7, status_rpm=9)
    not_found = api.get(UNKNOWN)
    assert not_found.status_code == 404 and limits(not_found) == ("9", "8", "endpoint")
    invalid = api.post(SUBMIT, files={"model": (None, "WhisperLargeV3")})
    assert invalid.status_code == 422 and limits(invalid) == ("7", "6", "endpoint")
    unreadable = api.post(SUBMIT, content=b"{not json", headers={"Content-Type": "application/json"})
    assert unreadable.status_code == 400 and limits(unreadable) == ("7", "5", "endpoint")


def test_daily_refusal_says_daily(sim, api):
    sim.set_config(status_per_day=2)
    for remaining in ("1", "0"):
        assert api.get(UNKNOWN).headers["X-RateLimit-Daily-Remaining"] == remaining
    refused = api.get(UNKNOWN)
    assert refused.status_code == 429 and refused.headers["X-RateLimit-Type"] == "daily"
    assert refused.headers["X-RateLimit-Daily-Limit"] == "2" and refused.headers["X-RateLimit-Source"] == "endpoint"


def test_shared_bucket_is_drawn_on_by_submit_status_and_price(sim, api):
    sim.set_config(shared_limits=True, account_rpm=4, submit_rpm=1)   # the per-endpoint limit is not used
    submit = api.post(SUBMIT, files=BODY)
    assert limits(submit) == ("4", "3", "account")
    rid = submit.json()["data"]["request_id"]
    assert limits(api.get(f"/api/v2/jobs/{rid}")) == ("4", "2", "account")
    assert limits(api.post(PRICE, files=QUOTE)) == ("4", "1", "account")
    assert limits(api.post(SUBMIT, files=BODY)) == ("4", "0", "account")
    refused = api.get(f"/api/v2/jobs/{rid}")
    assert refused.status_code == 429 and limits(refused) == ("4", "0", "account")
    assert sim.count_429 == {"submit": 0, "status": 1, "price": 0}
    assert sim.submissions() == {URL: 2}


def test_shared_bucket_daily_limit(sim, api):
    sim.set_config(shared_limits=True, account_per_day=1)
    assert api.post(PRICE, files=QUOTE).headers["X-RateLimit-Daily-Remaining"] == "0"
    refused = api.post(SUBMIT, files=BODY)
    assert refused.status_code == 429 and refused.headers["X-RateLimit-Type"] == "daily"
    assert sim.submissions() == {}


def test_unlimited_routes_carry_no_limit_headers(api):
    assert "X-RateLimit-Limit" not in api.get("/api/v2/account/balance").headers
    assert "X-RateLimit-Limit" not in api.get("/api/v2/models").headers


def test_plans_and_cli():
    assert plan_limits("basic")["price_per_day"] == 200
    with pytest.raises(ValueError):
        plan_limits("gold")
    config = config_from_args(build_parser().parse_args(["--plan", "basic"]))
    assert (config.submit_rpm, config.status_rpm, config.price_rpm, config.price_per_day) == (1, 50, 50, 200)
    with pytest.raises(ValueError):
        SimConfig(account_rpm=0)
