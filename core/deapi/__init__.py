"""The deAPI adapter: the only code that speaks deAPI's HTTP.

- `client.py`: `DeapiClient`, one shared httpx client; every failure leaves as a `DeapiError`.
- `payloads.py`: job status and result bodies parsed into plain records (pure functions).
- `retry_after.py`: the `Retry-After` header, read and written (shared with the simulator).
"""
