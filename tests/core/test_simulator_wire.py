"""Answers the wire mangles after the route ran, over real loopback HTTP: held, trickled and reset
submits whose job exists (and is billed) all the same. Timing asserts are lower bounds only.
"""

from __future__ import annotations

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import anyio
import httpx
import pytest

from bulk_transcribe.core.deapi.client import DeapiClient
from bulk_transcribe.core.errors import Category, DeapiError
from bulk_transcribe.core.simulator import SimConfig, SimServer
from bulk_transcribe.core.simulator.config import parse_fault

URL = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
SUBMIT = "/api/v2/audio/transcriptions"
AUTH = {"Authorization": "Bearer key"}


def body(url: str = URL) -> dict[str, tuple[None, str]]:
    return {"source_url": (None, url), "model": (None, "WhisperLargeV3"), "include_ts": (None, "0")}


@pytest.fixture
def sim() -> Iterator[SimServer]:
    with SimServer(SimConfig(latency=(0.05, 0.15))) as server:
        yield server


@pytest.fixture
def api(sim: SimServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=60) as client:
        yield client


def wait_for(predicate, what: str, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def balance(api: httpx.Client) -> float:
    return api.get("/api/v2/account/balance").json()["data"]["balance"]


# -- held answers -----------------------------------------------------------------------------
def test_held_submit_exists_before_its_answer(sim, api):
    sim.set_config(faults={"dQw4": "hold:60"})
    with ThreadPoolExecutor(max_workers=1) as pool:
        answer = pool.submit(api.post, SUBMIT, files=body())
        wait_for(lambda: sim.jobs_created() == 1, "the held job to exist")
        assert not answer.done()               # a minute's hold: the answer is still to come
        with httpx.Client(base_url=sim.base_url, headers=AUTH) as other:
            assert balance(other) < 100.0      # and it is billed
        sim.stop()                             # stopping releases held answers
        assert answer.result().status_code == 200
    assert sim.count_holds == 1 and sim.submissions() == {URL: 1}


@pytest.mark.parametrize("knob", [{"faults": {"dQw4": "hold:0.4"}}, {"submit_answer_delay": 0.4}])
def test_hold_delays_the_answer_by_at_least_its_seconds(sim, api, knob):
    sim.set_config(**knob)
    started = time.monotonic()
    answer = api.post(SUBMIT, files=body())
    assert answer.status_code == 200 and time.monotonic() - started >= 0.4
    assert sim.count_holds == 1 and sim.jobs_created() == 1
    assert api.get(f"/api/v2/jobs/{answer.json()['data']['request_id']}").status_code == 200
    assert sim.count_holds == 1   # status answers are never held


# -- trickled answers -------------------------------------------------------------------------
def test_trickled_submit_sends_headers_first_and_the_job_exists(sim, api):
    sim.set_config(faults={"dQw4": "trickle:1"})   # one byte a second: the body takes about a minute
    with api.stream("POST", SUBMIT, files=body()) as answer:
        assert answer.status_code == 200
        length = int(answer.headers["Content-Length"])
        assert sim.jobs_created() == 1 and sim.count_trickles == 1
        first = next(answer.iter_raw())
        assert 0 < len(first) < length          # part of the body, the rest still trickling
    # The client hung up mid-body; the server notices on its next write and carries on serving.
    assert balance(api) < 100.0


def test_trickled_body_takes_at_least_its_length_over_the_rate(sim, api):
    sim.set_config(faults={"dQw4": "trickle:200"})
    started = time.monotonic()
    answer = api.post(SUBMIT, files=body())
    elapsed = time.monotonic() - started
    assert answer.status_code == 200 and answer.json()["data"]["request_id"]
    assert elapsed >= len(answer.content) / 200
    assert sim.count_trickles == 1


def test_trickle_switch_picks_endpoints(sim, api):
    sim.set_config(trickle_bytes_per_second=400.0, trickle_endpoints=frozenset({"status"}))
    rid = api.post(SUBMIT, files=body()).json()["data"]["request_id"]
    assert sim.count_trickles == 0             # submits are not in the filter
    started = time.monotonic()
    status = api.get(f"/api/v2/jobs/{rid}")
    assert status.status_code == 200 and time.monotonic() - started >= len(status.content) / 400
    assert sim.count_trickles == 1
    with pytest.raises(ValueError):
        sim.set_config(trickle_endpoints=frozenset({"nowhere"}))


# -- reset connections ------------------------------------------------------------------------
def test_reset_submit_creates_and_bills_its_job(sim, api):
    sim.set_config(faults={"dQw4": "reset:1"})
    price = api.post("/api/v2/audio/transcriptions/price", files=body()).json()["data"]["price"]
    with pytest.raises(httpx.TransportError):
        api.post(SUBMIT, files=body())
    assert sim.count_resets == 1 and sim.jobs_created() == 1
    assert balance(api) == pytest.approx(100.0 - price) and sim.charged() == pytest.approx(price)
    assert api.post(SUBMIT, files=body()).status_code == 200   # reset:1 resets only the first
    assert sim.submissions() == {URL: 2} and sim.count_resets == 1


def test_reset_is_a_tcp_rst_after_the_whole_request_was_read(sim):
    sim.set_config(faults={"dQw4": "reset:1"})
    payload = json.dumps({"source_url": URL, "model": "WhisperLargeV3", "include_ts": False}).encode()
    request = (f"POST {SUBMIT} HTTP/1.1\r\nHost: sim\r\nAuthorization: Bearer key\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n").encode() + payload
    host, port = sim.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as raw:
        raw.sendall(request)
        with pytest.raises(ConnectionResetError):   # RST, not an orderly close (which reads b"")
            while raw.recv(4096):
                pass
    assert sim.jobs_created() == 1 and sim.count_resets == 1


def test_reset_share_picks_endpoints(sim, api):
    sim.set_config(reset_share=1.0, reset_endpoints=frozenset({"status"}))
    rid = api.post(SUBMIT, files=body()).json()["data"]["request_id"]
    with pytest.raises(httpx.TransportError):
        api.get(f"/api/v2/jobs/{rid}")
    assert sim.count_resets == 1 and sim.jobs_created() == 1
    sim.set_config(reset_share=0.0)
    assert api.get(f"/api/v2/jobs/{rid}").status_code == 200


def test_wire_fault_specs():
    assert parse_fault("hold:2.5").seconds == 2.5 and parse_fault("trickle:50").rate == 50.0
    assert parse_fault("reset").count == 1 and parse_fault("reset:3").count == 3
    for bad in ("hold", "trickle", "trickle:0", "reset:0", "hold:-1"):
        with pytest.raises(ValueError):
            parse_fault(bad)
    with pytest.raises(ValueError):
        SimConfig(reset_share=1.5)


# -- what the client makes of them ------------------------------------------------------------
@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_client_sees_a_reset_submit_as_maybe_created(sim):
    sim.set_config(faults={"dQw4": "reset:1"})
    async with DeapiClient(sim.base_url, "key") as client:
        with pytest.raises(DeapiError) as info:
            await client.submit(URL, model="WhisperLargeV3", include_ts=False)
    assert info.value.category is Category.NETWORK and info.value.maybe_created
    assert sim.jobs_created() == 1


@pytest.mark.anyio
async def test_client_timeout_on_a_held_submit_is_maybe_created(sim):
    sim.set_config(faults={"dQw4": "hold:30"})
    async with DeapiClient(sim.base_url, "key", totals={"submit": 0.3}) as client:
        with pytest.raises(DeapiError) as info:
            await client.submit(URL, model="WhisperLargeV3", include_ts=False)
    assert info.value.category is Category.NETWORK and info.value.maybe_created
    with anyio.fail_after(20):
        while sim.jobs_created() != 1:
            await anyio.sleep(0.01)
