"""The service running real batches over its socket, in this process: the real server, client,
engines and limiter against the simulated deAPI over loopback.

Time runs 20x faster on both sides, as in tests/core/test_engine_limits.py: the simulator's
"minute" is 3 s and our limiter's window and margin are scaled the same way; the only timing
checks are the simulator's counts of what arrived in a window, which load can only lower.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from bulk_transcribe.core.events import BatchFinished, Notice
from bulk_transcribe.core.run.polling import PollPlanner
from bulk_transcribe.core.service import RequestFailed, connect
from bulk_transcribe.core.service.accounts import Accounts
from bulk_transcribe.core.service.daemon import serve
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.simulator import SimConfig, SimServer
from tests.benchmark.common import Scale, ScaledLimiter

from ..engine_harness import KEY, max_in_window, yt

SCALE = Scale(20.0)
WINDOW = SCALE.window
MARGIN = 0.3 * SCALE.factor
SUBMIT_RPM, STATUS_RPM = 6, 30     # the account's true limits, per (scaled) minute


def scaled_service(paths, idle_exit: float = 60.0):
    def hook(engine) -> None:
        engine.planner = PollPlanner(economy=lambda: engine.limiter.daily_limited("status"),
                                     time_scale=SCALE.factor)

    accounts = Accounts(lambda settings: ScaledLimiter.build(settings, SCALE))
    return lambda **more: serve(paths, idle_exit=idle_exit, accounts=accounts, engine_hook=hook, signals=False,
                                **more)


def settings_for(sim: SimServer, out: Path, concurrency: int) -> dict:
    return Settings(api_base=sim.base_url, output_dir=str(out), metadata=False, plan="premium",
                    limit_mode="per-endpoint", rpm=SUBMIT_RPM, status_rpm=STATUS_RPM, limit_margin=MARGIN,
                    concurrency=concurrency).validate().to_dict()


def write_batch(tmp_path: Path, name: str, urls: list[str]) -> Path:
    path = tmp_path / f"{name}.txt"
    path.write_text("\n".join(urls) + "\n", encoding="utf-8")
    return path


async def start_and_follow(batch: Path, session: Path, settings: dict, key: str = KEY) -> tuple[list, BatchFinished]:
    """One face: hand the batch to the service and follow it to its end."""
    events: list = []
    async with connect(client="headless") as service:
        started = await service.request("start", batch=str(batch), session=str(session), resume=False,
                                        settings=settings, api_key=key, follow=True)
        async for name, event in service.events():
            assert name == started["name"]
            events.append(event)
            if isinstance(event, BatchFinished):
                return events, event
    raise AssertionError("the stream ended before the batch did")


@pytest.mark.slow
def test_two_batches_on_one_key_share_the_account_limit(tmp_path, paths):
    """Each batch alone would pace itself at the account's 6 submits a minute; run at once with
    a limiter each, they would send 12 and meet 429s. The service's one limiter per key holds
    both to 6 together (the turns between them: test_accounts.py)."""
    cfg = SimConfig(submit_rpm=SUBMIT_RPM, status_rpm=STATUS_RPM, price_rpm=STATUS_RPM,
                    latency=(0.2, 0.5), pending_share=0.2, window=WINDOW)
    big = [yt(i, "big") for i in range(9)]
    small = [yt(i, "sml") for i in range(9)]
    with SimServer(cfg) as sim:
        results: dict[str, BatchFinished] = {}

        async def main() -> None:
            async with anyio.create_task_group() as tg:
                await tg.start(scaled_service(paths))

                async def one(name: str, urls: list[str], concurrency: int) -> None:
                    _, results[name] = await start_and_follow(
                        write_batch(tmp_path, name, urls), tmp_path / f"{name}.toml",
                        settings_for(sim, tmp_path / "out", concurrency))

                async with anyio.create_task_group() as faces:
                    faces.start_soon(one, "big", big, 8)
                    faces.start_soon(one, "small", small, 2)
                async with connect() as service:
                    await service.request("shutdown")

        anyio.run(main)
        submits, status = sim.accepted("submit"), sim.accepted("status")
        rejected = sim.count_429
        paid = sim.submissions()
    assert results["big"].done == 9 and results["small"].done == 9
    assert sum(rejected.values()) == 0, f"no 429: {rejected}"
    assert max_in_window(submits, WINDOW) <= SUBMIT_RPM, "no window of the account holds more submits than it allows"
    assert max_in_window(status, WINDOW) <= STATUS_RPM
    assert sorted(paid) == sorted(big + small) and set(paid.values()) == {1}, f"each video paid once: {paid}"


@pytest.mark.parametrize("handed", [False, True], ids=["batch file", "app's new session"])
def test_a_refused_key_is_a_usage_error_and_the_batch_is_not_kept(tmp_path, paths, handed):
    """`handed`: the app created the session and hands it over (`resume` + `fresh`): still a new
    batch, so a refused key leaves no session behind either."""
    with SimServer(SimConfig(latency=(0.1, 0.2), api_keys=frozenset({KEY}))) as sim:
        async def main() -> None:
            async with anyio.create_task_group() as tg:
                await tg.start(scaled_service(paths))
                async with connect() as service:
                    batch = write_batch(tmp_path, "k", [yt(1)])
                    settings = settings_for(sim, tmp_path / "out", 1)
                    if handed:
                        from bulk_transcribe.core.prepare import prepare_session
                        session, _ = await prepare_session(batch, Settings.from_dict(settings).validate(),
                                                           session_path=tmp_path / "k.toml")
                        session.close()
                        assert (tmp_path / "k.toml").exists()
                    how = dict(batch=None, resume=True, fresh=True) if handed else dict(batch=str(batch), resume=False)
                    with pytest.raises(RequestFailed) as refused:
                        await service.request("start", session=str(tmp_path / "k.toml"), settings=settings,
                                              api_key="not-the-key", follow=True, **how)
                    assert refused.value.code == "usage" and "refused the key" in refused.value.message
                    assert await service.request("list") == []
                    await service.request("shutdown")
                tg.cancel_scope.cancel()

        anyio.run(main)
        assert sim.jobs_created() == 0
    assert not (tmp_path / "k.toml").exists(), "a refused key leaves no session behind"


@pytest.mark.slow
def test_a_face_attaching_late_sees_the_batch_so_far_and_its_end(tmp_path, paths):
    with SimServer(SimConfig(latency=(0.5, 1.0), window=WINDOW)) as sim:
        seen: dict[str, list] = {}

        async def main() -> None:
            async with anyio.create_task_group() as tg:
                await tg.start(scaled_service(paths))
                async with connect() as first:
                    started = await first.request(
                        "start", batch=str(write_batch(tmp_path, "late", [yt(i, "lat") for i in range(4)])),
                        session=str(tmp_path / "late.toml"), resume=False,
                        settings=settings_for(sim, tmp_path / "out", 2), api_key=KEY, follow=False)
                # the first face is gone; the batch goes on
                rows = None
                async with connect() as second:
                    while True:
                        rows = await second.request("list")
                        if rows[0]["state"] != "running":
                            break
                        await anyio.sleep(0.1)
                    info = await second.request("attach", name="lat")   # a prefix of the name will do
                    assert info["name"] == started["name"] == "late"
                    seen["events"] = []
                    async for _, event in second.events():
                        seen["events"].append(event)
                        if isinstance(event, BatchFinished):
                            break
                    await second.request("shutdown")
                seen["rows"] = rows

        anyio.run(main)
    events = seen["events"]
    assert any(isinstance(e, Notice) and "starting" in e.message for e in events), "the opening notices are replayed"
    assert isinstance(events[-1], BatchFinished) and events[-1].done == 4
    assert seen["rows"][0]["state"] == "finished" and seen["rows"][0]["done"] == 4


def test_the_service_leaves_on_its_own_when_it_has_no_batch_and_no_face(paths):
    async def main() -> bool:
        with anyio.move_on_after(20) as waited:
            async with anyio.create_task_group() as tg:
                await tg.start(scaled_service(paths, idle_exit=1.0))
                async with connect() as face:   # a face attached keeps it, past its idle time
                    await anyio.sleep(2.0)
                    assert await face.request("list") == []
        return not waited.cancelled_caught

    assert anyio.run(main), "it left within its idle time once the face had gone"
    assert not paths.socket.exists(), "and removed its socket"
