"""The benchmark's smoke run: every scenario reports a figure, in the right shape.

Asserts structure only, never timing: the figures themselves are judged by the benchmark.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from .common import REPO

pytestmark = pytest.mark.slow
SCENARIOS = ("1 latency-bound", "2 rate-bound", "3 status budget", "4 vs naive", "5 scale", "6 TUI", "7 streaming")
KEYS = {"scenario", "parameters", "measured", "unit", "bound", "ratio", "target", "passed", "note", "runs"}


def test_smoke_run_reports_every_scenario(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "tests.benchmark", "--smoke", "--json", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=1500)   # a hang guard only: loaded machines are slow
    assert done.returncode == 0, done.stderr
    assert "| scenario | parameters | measured | bound | ratio | target | result |" in done.stdout
    doc = json.loads(out.read_text())
    assert doc["mode"] == "smoke" and doc["scale_factor"] > 1
    rows = doc["rows"]
    assert {r["scenario"] for r in rows} == set(SCENARIOS)
    for r in rows:
        assert set(r) >= KEYS
        assert isinstance(r["measured"], (int, float)) and math.isfinite(r["measured"]), r
        assert r["passed"] in (True, False, None)
        if r["bound"]:
            assert r["ratio"] == pytest.approx(r["measured"] / r["bound"])
