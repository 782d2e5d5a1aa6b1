"""Suite-wide fixtures: nothing here ever touches the developer's real config, data or key."""

from __future__ import annotations

import shutil
import tempfile

import pytest


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("BULK_TRANSCRIBE_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("BULK_TRANSCRIBE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DEAPI_API_KEY", raising=False)
    monkeypatch.delenv("DEAPI_BASE_URL", raising=False)
    # Never the user's own service: each test has its own private runtime folder, and the faces run
    # batches in their own process unless a test asks for the service (tests/core/service/, tests/tui/test_service*).
    runtime = tempfile.mkdtemp(prefix="bt-", dir="/tmp")   # short: a socket path must fit in 107 bytes
    monkeypatch.setenv("BULK_TRANSCRIBE_RUNTIME_DIR", runtime)
    monkeypatch.setenv("BULK_TRANSCRIBE_NO_SERVICE", "1")
    yield
    shutil.rmtree(runtime, ignore_errors=True)
