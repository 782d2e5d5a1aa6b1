"""The command line: exit codes, clear messages, and nothing written on a usage error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(tmp_path: Path, *args: str, key: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("DEAPI_API_KEY", None)
    env.update(BULK_TRANSCRIBE_DATA_DIR=str(tmp_path / "data"), BULK_TRANSCRIBE_CONFIG_DIR=str(tmp_path / "config"))
    if key:
        env["DEAPI_API_KEY"] = key
    return subprocess.run([sys.executable, "-m", "bulk_transcribe.tui", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=timeout)


def test_missing_key_says_how_to_set_it_and_writes_nothing(tmp_path):
    batch = tmp_path / "b.txt"
    batch.write_text("https://youtu.be/dQw4w9WgXcQ\n")
    r = run_cli(tmp_path, "run", str(batch))
    assert r.returncode == 2
    assert "DEAPI_API_KEY" in r.stderr and "bulk-transcribe demo" in r.stderr
    assert not (tmp_path / "data").exists() and not (tmp_path / "transcripts").exists()


@pytest.mark.parametrize("args, words", [
    (["run", "nope.txt"], "no batch file"),
    (["run", "b.txt", "--concurrency", "99"], "--concurrency must be 1 to 50"),
    (["run", "b.txt", "--format", "srt"], "srt and vtt need segment timestamps"),
])
def test_usage_errors_exit_2_with_a_clear_message(tmp_path, args, words):
    (tmp_path / "b.txt").write_text("https://youtu.be/dQw4w9WgXcQ\n")
    r = run_cli(tmp_path, *args, key="k-123456789")
    assert r.returncode == 2, r.stderr
    assert words in r.stderr
    assert not (tmp_path / "data").exists()


def test_help_documents_every_run_option(tmp_path):
    r = run_cli(tmp_path, "run", "--help")
    for opt in ("--output", "--session", "--concurrency", "--plan", "--limit-mode", "--rpm", "--status-rpm",
                "--api-base", "--model", "--format", "--max-attempts", "--retry-failed", "--json"):
        assert opt in r.stdout


@pytest.mark.slow
def test_demo_headless_runs_without_a_key(tmp_path):
    r = run_cli(tmp_path, "demo", "--headless", "--output", str(tmp_path / "demo-out"), timeout=300)
    assert r.returncode == 1, r.stderr          # the demo batch has deliberate permanent failures
    assert "Finished:" in r.stderr
    txts = list((tmp_path / "demo-out").glob("*.txt"))
    assert len(txts) >= 20
    assert "demo-key" not in "".join(p.read_text() for p in (tmp_path / "data").rglob("*.toml"))
