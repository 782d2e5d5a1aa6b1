"""The README's commands, run as written (only the port and the venv's path substituted)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def readme_block(marker: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(re.escape(marker) + r"[^\n]*\n```sh\n(.*?)```", text, re.S)
    assert m, f"no block after {marker!r} in README.md"
    return m.group(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_try_run_and_plan_without_a_key_works_as_written(tmp_path):
    script = readme_block("<!-- try-without-a-key")
    port = str(free_port())
    script = script.replace("8765", port).replace(".venv/bin/", f"{Path(sys.executable).parent}/")
    (tmp_path / "sample_batches").symlink_to(ROOT / "sample_batches")
    r = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    assert "balance: $100.00" in r.stdout and "videos: 4 (4 to run)" in r.stdout, r.stdout
    assert "Finished: 4 done, 0 failed, 0 not finished (of 4)" in r.stderr, r.stderr
    assert len(list((tmp_path / "try-out").glob("*.txt"))) == 4
    assert "any-key" not in "".join(p.read_text() for p in (tmp_path / "data").rglob("*.toml"))
