"""Scenario 5b: scenario 5 at 100,000 videos (600 in smoke mode), plus the throughput of the last
quarter against the first. `python -m tests.benchmark --only scale100k`; see scale.py."""

from __future__ import annotations

from .scale import run_100k as run

__all__ = ["run"]
