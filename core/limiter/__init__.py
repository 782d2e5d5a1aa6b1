"""Client-side rate limiting shared by every worker: exact over any window, FIFO, cancel-safe.

deAPI counts requests per endpoint over a sliding minute and per UTC day. A token bucket or a
fixed window sized "N per 60 s" lets about 2N through around a refill or window edge, so this
module keeps a log of the grant times of the last window instead (`SlidingWindow`) and grants
only when one more keeps *every* window of length `60 s + margin` at N or fewer. The margin absorbs network
jitter: the server counts arrivals, not sends.

Structure (one file each):
- `window.py`, `SlidingWindow`: the pure rule, no I/O and no sleeping.
- `bucket.py`, `Bucket`: a minute window over one or more `Lane`s, with a FIFO queue of waiters,
  a pause (Retry-After) and a daily limit. A lane is one endpoint's share of the bucket: its own
  minute window, daily allowance and pause. A grant needs room in both windows, taken in one
  step (the exact rule is in bucket.py's docstring).
- `policy.py`, `AccountLimits`: where every limit starts (plan preset, flag, or Basic's under
  `--plan auto`), what caps it, and what deAPI's X-RateLimit-* headers teach.
- `account.py`, `RateLimiter`: one "account" bucket with a lane per endpoint. Per-endpoint
  pacing leaves the account window unlimited and limits the lanes; shared pacing limits the
  account window too; either can become the other while the run goes on (`observe`).

Cancellation safety: capacity is taken synchronously, in the same step that decides a waiter may
go, and never before; a waiter that leaves for any reason takes nothing and wakes the others.
"""

from .account import ENDPOINTS, RateLimiter
from .bucket import Bucket, Lane
from .policy import AccountLimits
from .window import DAILY_PAD, SlidingWindow

__all__ = ["DAILY_PAD", "ENDPOINTS", "AccountLimits", "Bucket", "Lane", "RateLimiter", "SlidingWindow"]
