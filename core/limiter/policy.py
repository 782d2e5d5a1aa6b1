"""What the account's limits are: where each one starts, what caps it, what deAPI's answers teach.

Every limit (submit, status and price per minute and per day; the account's when one bucket is
shared) is a `Limit`: a starting value, a cap and the origin of both, plus the latest value the
X-RateLimit-* headers gave. The settings decide start and cap:
- a flag (`--rpm 100`): starts at 100 and never goes above it ("flag");
- an explicit plan (`--plan basic|premium`): starts at the preset and never goes above it ("preset");
- `--plan auto`: starts at Basic's documented limits (every new account is Basic, so the first
  minute can never exceed one) with no cap: deAPI's headers may raise it ("header").
Learning may lower any limit below its cap but never raise one above it.

Under `--plan auto` Basic's daily limits stay while the account looks Basic (a learned submit
limit of at most 1 a minute, or nothing learned above Basic's), unless a Daily-Limit header
says otherwise; once the headers show a bigger account they are dropped.

Shared or per endpoint: with `--limit-mode auto` the account window is learned too. A header whose
X-RateLimit-Source names an account-wide bucket (it contains one of `SHARED_WORDS`), or answers
of two endpoints whose Remaining counts calls made on the other one (`lane < consumed <= all`,
the same limit, within one window), turn on shared pacing at the reported limit.

`submit_rate()` is what a plan counts on for submits before any submit answer: an account bucket
a header named is the submits' bucket too; another endpoint's own bucket says nothing of them.

Pure bookkeeping: no clock of its own, no waiting; `account.RateLimiter` applies the values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..settings import PLANS, Settings

ENDPOINTS = ("submit", "status", "price")
BASIC_MINUTE = {"submit": PLANS["basic"][0], "status": PLANS["basic"][2], "price": PLANS["basic"][2]}
BASIC_DAY = {"submit": PLANS["basic"][1], "status": PLANS["basic"][3], "price": PLANS["basic"][3]}
# X-RateLimit-Source values that name one bucket for the whole account (deAPI documents the
# header, "which limit bucket was applied", but no value: these are guesses, matched as parts).
SHARED_WORDS = ("account", "unified", "global", "user", "shared")
# Values that say the bucket is the endpoint's own: the Remaining heuristic then stays off.
PER_ENDPOINT_WORDS = ("endpoint", "route", "path")
NOUNS = {"submit": ("submit", "submits"), "status": ("status check", "status checks"),
         "price": ("price quote", "price quotes")}


class HeaderInfo(Protocol):
    """The X-RateLimit-* headers of one answer (core.deapi.answers.RateLimitInfo is one)."""

    limit: int | None
    remaining: int | None
    source: str
    kind: str
    daily_limit: int | None
    daily_remaining: int | None
    elapsed: float          # seconds the answer took (how old Remaining is)


@dataclass
class Limit:
    """One limit: where it starts, what caps it (None: nothing), the origin of both, and the
    latest value deAPI's headers gave (None: none yet)."""

    start: int | None
    cap: int | None
    origin: str                 # "flag" | "preset"
    learned: int | None = None

    def value(self) -> tuple[int | None, str]:
        """(the limit in force, where it came from)."""
        if self.learned is None:
            return self.start, self.origin
        if self.cap is not None and self.learned >= self.cap:
            return self.cap, self.origin
        return self.learned, "header"


def _limit(flagged: bool, flag: int | None, preset: int | None, explicit_plan: bool) -> Limit:
    if flagged:
        return Limit(flag, flag, "flag")
    return Limit(preset, preset if explicit_plan else None, "preset")


@dataclass(frozen=True)
class Values:
    """Every limit in force and its origin; None = no limit."""

    minute: dict[str, tuple[int | None, str]]
    daily: dict[str, tuple[int | None, str]]
    account: tuple[int | None, str]
    account_daily: int | None


class AccountLimits:
    """The account's limits as the settings start them and deAPI's answers teach them."""

    def __init__(self, settings: Settings, *, window: float = 60.0) -> None:
        s = settings
        self.plan = s.plan
        self.auto_plan = s.learns_limits
        explicit = not self.auto_plan
        preset = s.preset
        self.minute = {
            "submit": _limit(s.rpm > 0, s.rpm, preset[0], explicit),
            "status": _limit(s.status_rpm > 0, s.status_rpm, preset[2], explicit),
            "price": _limit(s.status_rpm > 0, s.status_rpm, preset[2], explicit),
        }
        submit_day = s.submit_per_day or None
        status_day = s.status_per_day or None
        self.daily = {
            "submit": _limit(s.submit_per_day != -1, submit_day, preset[1], explicit),
            "status": _limit(s.status_per_day != -1, status_day, preset[3], explicit),
            "price": _limit(s.status_per_day != -1, status_day, preset[3], explicit),
        }
        # Basic's daily limits, kept under auto only while the account looks Basic.
        self.basic_daily = {"submit": self.auto_plan and s.submit_per_day == -1,
                            "status": self.auto_plan and s.status_per_day == -1,
                            "price": self.auto_plan and s.status_per_day == -1}
        self.fixed_mode = s.limit_mode != "auto"
        self.shared_from_start = s.effective_limit_mode == "shared"
        self.shared = self.shared_from_start
        self.shared_learned = False
        if self.shared:
            self.account = _limit(s.rpm > 0, s.rpm, s.submit_rpm, explicit)
        else:
            self.account = Limit(None, s.rpm or None, "flag" if s.rpm else "preset")
        self.account_daily: int | None = None
        self.window = window
        self._account_seen: dict[str, int] = {}
        self._evidence: dict[str, tuple[int, float]] = {}

    @property
    def can_learn_shared(self) -> bool:
        return not self.fixed_mode and not self.shared

    # -- learning ----------------------------------------------------------------------
    def observe(self, endpoint: str, info: HeaderInfo, *, lane_used: int, all_used: int, now: float,
                fresh: bool = True) -> str:
        """Learn from one answer of `endpoint`; `lane_used`/`all_used` are our own grants that the
        server may have counted in it (this endpoint's, every endpoint's); `fresh`: its Remaining
        is recent enough to compare them with. Returns which of our windows the headers
        describe: "account" or "lane"."""
        src = (info.source or "").lower()
        says_shared = any(w in src for w in SHARED_WORDS)
        says_endpoint = not says_shared and any(w in src for w in PER_ENDPOINT_WORDS)
        n = info.limit if info.limit is not None and info.limit >= 1 else None
        if n is not None:
            self.minute[endpoint].learned = n   # an endpoint never exceeds the bucket it drew on
        if self.can_learn_shared and says_shared:
            self._turn_shared()
        elif (self.can_learn_shared and not says_endpoint and n is not None and info.remaining is not None
              and not info.kind and fresh):
            consumed = n - info.remaining
            if lane_used < consumed <= all_used:   # our calls elsewhere show in this Remaining
                self._evidence[endpoint] = (n, now)
                others = [e for e, (m, t) in self._evidence.items()
                          if e != endpoint and m == n and now - t <= self.window]
                if others:
                    for e in (endpoint, *others):
                        self._account_seen[e] = n
                    self._turn_shared()
        if says_shared:
            scope = "account" if self.shared else "lane"
        elif says_endpoint:
            scope = "lane"
        else:
            scope = "account" if self.shared else "lane"
        if self.shared and n is not None and (scope == "account" or self.shared_from_start):
            self._account_seen[endpoint] = n
            self.account.learned = max(self._account_seen.values())
        d = info.daily_limit if info.daily_limit is not None and info.daily_limit >= 1 else None
        if d is not None:
            if scope == "account" and says_shared:
                self.account_daily = d
            else:
                self.daily[endpoint].learned = d
        return scope

    def _turn_shared(self) -> None:
        self.shared = self.shared_learned = True
        if self._account_seen:
            self.account.learned = max(self._account_seen.values())

    def basic_like(self) -> bool:
        """Whether the account may be on Basic, as far as the headers tell: a learned submit limit
        of at most Basic's 1 a minute, or (none yet) nothing learned above Basic's."""
        submit = self.minute["submit"].learned
        if submit is not None:
            return submit <= BASIC_MINUTE["submit"]
        if any(lim.learned is not None and lim.learned > BASIC_MINUTE[e] for e, lim in self.minute.items()):
            return False
        return not (self.account.learned is not None and self.account.learned > BASIC_MINUTE["status"])

    # -- the result ------------------------------------------------------------------------
    def values(self) -> Values:
        basic = self.basic_like()
        daily: dict[str, tuple[int | None, str]] = {}
        for e, lim in self.daily.items():
            if lim.learned is None and self.basic_daily[e] and not basic:
                daily[e] = (None, "header")        # not a Basic account: Basic's days do not apply
            else:
                daily[e] = lim.value()
        minute = {e: lim.value() for e, lim in self.minute.items()}
        submit = self.minute["submit"].learned
        for e in ("status", "price"):
            lim = self.minute[e]
            if lim.learned is None and self.auto_plan and lim.origin == "preset" and not basic and submit:
                # Not a Basic account, and nothing heard from this endpoint yet: Basic's 50 is no
                # longer known to apply; the submits' figure is the best guess until its own answer
                # (before which no more calls can be out than videos in flight, at most 50).
                minute[e] = (max(lim.start or 1, submit), "header")
        account = self.account.value() if self.shared else (None, "")
        return Values(minute, daily, account, self.account_daily if self.shared else None)

    def submit_rate(self) -> tuple[int | None, str, int | None]:
        """(submits a minute a run can count on, where that came from, the figure deAPI's headers
        gave for submits: None when none yet). The submit lane's value, and in shared pacing at
        most the account's. Before any submit answer, the account bucket's learned figure stands
        in for an uncapped start (Basic's 1 under `--plan auto`): submits draw on that bucket, so
        the first submit's answer says the same. Another endpoint's own bucket (per-endpoint
        pacing) never says anything about submits."""
        v = self.values()
        value, origin = v.minute["submit"]
        lim = self.minute["submit"]
        if not self.shared or self.account.learned is None:
            return value, origin, lim.learned
        acc, acc_origin = v.account
        if lim.learned is None and lim.cap is None:
            return acc, acc_origin, self.account.learned
        if acc is not None and (value is None or acc < value):
            return acc, acc_origin, lim.learned or self.account.learned
        return value, origin, lim.learned or self.account.learned

    def messages(self) -> list[str]:
        """What the headers taught, one sentence per endpoint followed (and the shared bucket)."""
        out = []
        v = self.values()
        if self.shared and self.account.learned is not None:
            n = self.account.learned
            value, origin = v.account
            text = f"deAPI says submits and status checks share one account limit of {n}/min"
            out.append(f"{text}: pacing at that" if value == n else
                       f"{text}; {self._by(origin, 'submit')} keeps it at {value}")
        for e in ("submit", "status"):
            n = self.minute[e].learned
            if n is None:
                continue
            value, origin = v.minute[e]
            one, many = NOUNS[e]
            text = f"deAPI says this account allows {n} {one if n == 1 else many}/min"
            if self.daily[e].learned is not None:
                text += f" and {self.daily[e].learned} a day"
            if value == n:
                text += ": pacing at that"
                day, _ = v.daily[e]
                if self.daily[e].learned is None and self.basic_daily[e] and day:
                    text += f" (with Basic's {day} a day)"
            else:
                text += f"; {self._by(origin, e)} keeps it at {value}"
            out.append(text)
        dropped = [e for e in ("submit", "status") if self.basic_daily[e] and self.daily[e].learned is None
                   and v.daily[e][0] is None]
        if dropped:
            days = " and ".join(f"{BASIC_DAY[e]} {NOUNS[e][1]}" for e in dropped)
            out.append(f"deAPI's answers show more than a Basic account: Basic's daily limits ({days}) do not apply")
        return out

    def _by(self, origin: str, endpoint: str) -> str:
        if origin == "flag":
            return "--rpm" if endpoint == "submit" else "--status-rpm"
        return f"the {self.plan} plan"

    # -- persistence -------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """What the headers taught (TOML-safe: absent values are left out)."""
        data: dict[str, Any] = {
            "minute": {e: lim.learned for e, lim in self.minute.items() if lim.learned is not None},
            "daily": {e: lim.learned for e, lim in self.daily.items() if lim.learned is not None},
            "account": dict(self._account_seen),
            "shared": self.shared_learned,
        }
        if self.account_daily is not None:
            data["account_daily"] = self.account_daily
        return data

    def restore(self, data: Any) -> None:
        """Take up what an earlier run learned (the next answers correct it); malformed parts
        are skipped. The caps of this run's settings still apply."""
        if not isinstance(data, dict):
            return

        def counts(key: str) -> dict[str, int]:
            table = data.get(key)
            return {e: n for e, n in (table.items() if isinstance(table, dict) else ())
                    if e in ENDPOINTS and isinstance(n, int) and not isinstance(n, bool) and n >= 1}

        for e, n in counts("minute").items():
            self.minute[e].learned = n
        for e, n in counts("daily").items():
            self.daily[e].learned = n
        if data.get("shared") is True and self.can_learn_shared:
            self.shared = self.shared_learned = True
        if self.shared:
            self._account_seen.update(counts("account"))
            if self._account_seen:
                self.account.learned = max(self._account_seen.values())
            d = data.get("account_daily")
            if isinstance(d, int) and not isinstance(d, bool) and d >= 1:
                self.account_daily = d
