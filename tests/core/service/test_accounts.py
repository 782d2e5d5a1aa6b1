"""One limiter per account, shared by the service's batches, with turns between them."""

from __future__ import annotations

import anyio

from bulk_transcribe.core.service.accounts import Accounts, account_id
from bulk_transcribe.core.settings import Settings
from tests.benchmark.common import Scale, ScaledLimiter

SCALE = Scale(300.0)   # a "minute" lasts 0.2 s


def settings(**kw) -> Settings:
    return Settings(plan="premium", limit_mode="per-endpoint", rpm=2, status_rpm=50, limit_margin=0.0, **kw).validate()


def test_batches_on_one_key_share_one_limiter_and_other_keys_do_not():
    accounts = Accounts(lambda s: ScaledLimiter.build(s, SCALE))
    a, b = accounts.share(settings(), "key-1"), accounts.share(settings(), "key-1")
    other = accounts.share(settings(), "key-2")
    elsewhere = accounts.share(settings(api_base="http://127.0.0.1:9"), "key-1")
    assert a._account is b._account
    assert other._account is not a._account and elsewhere._account is not a._account
    assert len(accounts) == 3
    assert "key-1" not in account_id("https://api.deapi.ai", "key-1"), "the registry keeps a digest, not the key"


def test_a_batch_with_many_workers_does_not_crowd_out_one_with_few():
    """10 workers of one batch and 2 of another all want submits, 2 a window: the grants
    alternate between the batches instead of going 10 to 2 (first come, first served)."""
    accounts = Accounts(lambda s: ScaledLimiter.build(s, SCALE))
    many, few = accounts.share(settings(), "k"), accounts.share(settings(), "k")
    order: list[str] = []

    async def worker(share, name: str) -> None:
        while len(order) < 16:
            await share.acquire("submit")
            order.append(name)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(worker, many, "many")
            for _ in range(2):
                tg.start_soon(worker, few, "few")
            while len(order) < 16:
                await anyio.sleep(0.01)
            tg.cancel_scope.cancel()

    anyio.run(main)
    first = order[:16]
    assert first.count("few") >= 7, f"turns between batches: {first}"


def test_notices_of_the_account_reach_every_batch_on_it_and_a_saved_window_loads_once():
    accounts = Accounts(lambda s: ScaledLimiter.build(s, SCALE))
    a, b = accounts.share(settings(), "k"), accounts.share(settings(), "k")
    heard: list[tuple[str, str]] = []
    a.on_notice = lambda level, m: heard.append(("a", m))
    b.on_notice = lambda level, m: heard.append(("b", m))
    a._account.limiter.on_notice("info", "learned")
    assert sorted(heard) == [("a", "learned"), ("b", "learned")]
    b.release()
    a._account.limiter.on_notice("info", "again")
    assert heard[-1] == ("a", "again") and len(heard) == 3
    snap = a.snapshot()
    calls: list = []
    real = a._account.limiter.restore
    a._account.limiter.restore = lambda state: calls.append(state) or real(state)
    a.restore(snap)
    b.restore(snap)
    assert len(calls) == 1, "the second batch's copy of the same shared window is not counted twice"


def test_a_batch_whose_limit_settings_differ_is_told_the_shared_ones_apply():
    accounts = Accounts(lambda s: ScaledLimiter.build(s, SCALE))
    first = accounts.share(settings(), "k")
    same = accounts.share(settings(), "k")
    other = accounts.share(settings().with_(rpm=1), "k")
    assert first.mismatch == "" and same.mismatch == ""
    assert "rpm 1 does not apply" in other.mismatch


def test_once_its_batches_have_ended_a_new_batch_s_limits_apply_and_the_last_minute_is_kept():
    accounts = Accounts(lambda s: ScaledLimiter.build(s, SCALE))
    first = accounts.share(settings(), "k")

    async def one() -> None:
        await first.acquire("submit")

    anyio.run(one)
    first.release()
    later = accounts.share(settings().with_(rpm=1), "k")
    assert later.mismatch == ""
    submit = next(b for b in later.usage() if b.name == "submit")
    assert submit.per_minute == 1, "the new batch's --rpm applies"
    assert submit.used_60s == 1, "the earlier grant still counts"
