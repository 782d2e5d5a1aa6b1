"""Client-side rate limiting shared by every worker: exact over any window, FIFO, cancel-safe.

deAPI counts requests per endpoint over a sliding minute and per UTC day. A token bucket or a
fixed window sized "N per 60 s" lets about 2N through around a refill or window edge, so this
module keeps a log of the last N grant times instead (`SlidingWindow`) and grants only when one
more keeps *every* window of length `60 s + margin` at N or fewer. The margin absorbs network
jitter: the server counts arrivals, not sends.

Structure (one file each):
- `window.py`, `SlidingWindow`: the pure rule, no I/O and no sleeping.
- `bucket.py`, `Bucket`: one minute window with a FIFO queue of waiters, a pause (Retry-After) and one or
  more `Lane`s. A lane is one endpoint's share of the bucket: its own daily allowance and its
  own pause (a daily 429). Per-endpoint mode has one bucket per endpoint, each with one lane;
  shared mode has one "account" bucket with a lane per endpoint, so submits and status calls
  draw on one minute window while their daily counters stay separate.
- `account.py`, `RateLimiter`: builds the buckets from `Settings`, routes endpoints and 429s.

Cancellation safety: capacity is taken synchronously, in the same step that decides a waiter may
go, and never before; a waiter that leaves for any reason takes nothing and wakes the others.
"""

from .account import ENDPOINTS, RateLimiter
from .bucket import Bucket, Lane
from .window import DAILY_PAD, SlidingWindow

__all__ = ["DAILY_PAD", "ENDPOINTS", "Bucket", "Lane", "RateLimiter", "SlidingWindow"]
