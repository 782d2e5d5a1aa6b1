"""The deAPI adapter: the only code that speaks deAPI's HTTP.

- `client.py`: `DeapiClient`, one shared httpx client; every failure leaves as a `DeapiError`.
- `payloads.py`: job status and result bodies parsed into plain records (pure functions).
- `retry_after.py`: the `Retry-After` header, read and written (shared with the simulator).
"""

import sys

# httpx's package root imports its command-line tool (`httpx._main`: click, rich, pygments, about
# 6 MB and 50 ms) whenever click is installed, and falls back to a stub when that import fails.
# Nothing here runs httpx's command line, and the engine must not load rich: a None in
# sys.modules makes that import fail at once. This package is the only one that imports httpx.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
