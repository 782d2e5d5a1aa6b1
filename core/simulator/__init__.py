"""A simulated deAPI service: a real HTTP server on 127.0.0.1 for tests, benchmarks and the demo.

    from bulk_transcribe.core.simulator import SimConfig, SimServer
    with SimServer(SimConfig(latency=(0.1, 0.3), faults={"private": "private"})) as sim:
        ...  # point a DeapiClient at sim.base_url with any non-empty key

Names are loaded on first use so importing the package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import SimConfig
    from .server import SimServer

__all__ = ["SimConfig", "SimServer"]


def __getattr__(name: str) -> Any:
    if name == "SimConfig":
        from .config import SimConfig

        return SimConfig
    if name == "SimServer":
        from .server import SimServer

        return SimServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
