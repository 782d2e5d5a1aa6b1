"""One rate limiter per deAPI account, shared by every batch the service runs on it, fairly.

deAPI counts an account's calls, not a process's: two batches on one key that each kept their
own limiter would together send twice what the account allows, and meet 429s. So the service
keeps one `RateLimiter` per (API host, key) and gives each batch a `Share` of it.

Fairness: the limiter serves its waiters first come, first served, so a batch with 50 workers
waiting would take 50 grants for every one of a batch with 1. A share lets at most one call of
its batch wait in the limiter per endpoint (its other workers queue on the share's own lock),
so the limiter's queue holds at most one call per batch and serves the batches in turn.

The key itself is not kept here: the registry is keyed by a SHA-256 digest of it.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable

import anyio

from ..limiter import RateLimiter
from ..settings import Settings

LimiterFactory = Callable[[Settings], RateLimiter]


def account_id(api_base: str, api_key: str) -> str:
    """Which account a batch draws on: its host and a digest of its key (never the key)."""
    digest = hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:16]
    return f"{api_base.rstrip('/').lower()}#{digest}"


LIMIT_FIELDS = ("plan", "limit_mode", "rpm", "status_rpm", "submit_per_day", "status_per_day")


def limit_settings(settings: Settings) -> dict[str, object]:
    return {name: getattr(settings, name) for name in LIMIT_FIELDS}


class Account:
    """The shared limiter of one account and the shares of the batches running on it."""

    def __init__(self, limiter: RateLimiter, limits: dict[str, object] | None = None) -> None:
        self.limiter = limiter
        self.limits = limits or {}   # the limit settings of the batch it was built for
        self.shares: set[Share] = set()
        self.restored = False   # the first batch's saved grants are loaded; later ones hold the same
        limiter.on_notice = self._notice

    def _notice(self, level: str, message: str) -> None:
        for share in tuple(self.shares):   # what deAPI taught concerns every batch on the account
            if share.on_notice is not None:
                share.on_notice(level, message)


class Share:
    """One batch's view of its account's limiter: what an Engine calls a limiter. Everything but
    `acquire`, `restore` and `on_notice` is the shared limiter's own."""

    def __init__(self, account: Account, mismatch: str = "") -> None:
        self._account = account
        self.mismatch = mismatch   # what of this batch's limit settings the shared limiter does not follow
        self._turns: dict[str, anyio.Lock] = {}
        self.on_notice: Callable[[str, str], None] | None = None
        account.shares.add(self)

    async def acquire(self, endpoint: str, on_wait: Any = None) -> None:
        """Wait for this batch's turn on `endpoint`, then for the account's limiter."""
        turn = self._turns.get(endpoint)
        if turn is None:
            turn = self._turns[endpoint] = anyio.Lock()
        async with turn:
            await self._account.limiter.acquire(endpoint, on_wait)

    def restore(self, state: dict[str, Any]) -> None:
        """Load a session's saved grants into the account's limiter, once: every session on the
        account saved the same shared window, so loading a second would count it twice."""
        if not self._account.restored:
            self._account.restored = True
            self._account.limiter.restore(state)

    def release(self) -> None:
        """The batch ended: it no longer hears the account's notices."""
        self._account.shares.discard(self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._account.limiter, name)


class Accounts:
    """The registry: `share(settings, key)` for each batch. An account's limiter is built from the
    settings of the first batch on it (its plan and caps; a later batch whose caps differ is told
    they do not apply while they run together); it lives while the service does, so a batch
    started later still sees the grants of the last minute (rebuilt with its limits, those grants
    kept, when no batch runs on it)."""

    def __init__(self, factory: LimiterFactory = RateLimiter.from_settings) -> None:
        self._factory = factory
        self._accounts: dict[str, Account] = {}

    def share(self, settings: Settings, api_key: str) -> Share:
        ident = account_id(settings.api_base, api_key)
        account = self._accounts.get(ident)
        wanted = limit_settings(settings)
        if account is None:
            account = self._accounts[ident] = Account(self._factory(settings), wanted)
        elif not account.shares and account.limits != wanted:
            # No batch runs on it: the new one's limits apply, with the grants of the last minute kept.
            limiter = self._factory(settings)
            limiter.restore(account.limiter.snapshot())
            account = self._accounts[ident] = Account(limiter, wanted)
            account.restored = True
        differ = [f"{k.replace('_', '-')} {v}" for k, v in wanted.items() if account.limits.get(k, v) != v]
        mismatch = ""
        if differ:
            mismatch = ("another batch on this key set the account's rate limits first, and the batches share "
                        f"them (the account's limits are one): this batch's {', '.join(differ)} does not apply "
                        "while they run together")
        return Share(account, mismatch)

    def __len__(self) -> int:
        return len(self._accounts)
