"""App tests: times render in UTC so snapshots match on every machine.

The config/data directory isolation is the suite-wide autouse fixture in tests/conftest.py.
"""

from __future__ import annotations

import time

import pytest


@pytest.fixture(autouse=True)
def _utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def anyio_backend():
    return "asyncio"
