"""Each test gets a short private runtime folder (a Unix socket path must fit in 107 bytes,
which pytest's tmp_path does not promise) and must leave no socket behind in it."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from bulk_transcribe.core.service.paths import ENV_RUNTIME_DIR, ServicePaths


@pytest.fixture
def runtime_dir(monkeypatch) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="bt-", dir="/tmp"))   # 0700, ours
    monkeypatch.setenv(ENV_RUNTIME_DIR, str(folder))
    yield folder
    leftovers = sorted(p.name for p in folder.iterdir() if p.is_socket())
    shutil.rmtree(folder, ignore_errors=True)
    assert not leftovers, f"a test left sockets behind: {leftovers}"


@pytest.fixture
def paths(runtime_dir) -> ServicePaths:
    return ServicePaths.in_dir(runtime_dir)

