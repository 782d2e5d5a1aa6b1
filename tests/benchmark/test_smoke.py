"""The benchmark's smoke run: every scenario reports a figure, in the right shape.

Asserts structure only, never timing: the figures themselves are judged by the benchmark. The
exception is the soak's counts (lost, paid twice, hung, crashed), which are not timings but
the verdict on money and data: they must be zero.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from .common import REPO

pytestmark = pytest.mark.slow
SCENARIOS = ("1 latency-bound", "2 rate-bound", "3 status budget", "4 vs naive", "5 scale", "5b scale 100k", "6 TUI",
             "7 streaming", "8 SSH", "9a premium auto", "9b order", "9c latency-bound, durations known", "10 soak",
             "11 metadata scale")
KEYS = {"scenario", "parameters", "measured", "unit", "bound", "ratio", "target", "passed", "note", "runs"}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """One smoke run for the module: (its stdout, its JSON)."""
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    done = subprocess.run([sys.executable, "-m", "tests.benchmark", "--smoke", "--json", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=1500)   # a hang guard only: loaded machines are slow
    assert done.returncode == 0, done.stderr
    return done.stdout, json.loads(out.read_text())


def test_smoke_run_reports_every_scenario(smoke):
    stdout, doc = smoke
    assert "| scenario | parameters | measured | bound | ratio | target | result |" in stdout
    assert doc["mode"] == "smoke" and doc["scale_factor"] > 1
    rows = doc["rows"]
    assert {r["scenario"] for r in rows} == set(SCENARIOS)
    for r in rows:
        assert set(r) >= KEYS
        assert isinstance(r["measured"], (int, float)) and math.isfinite(r["measured"]), r
        assert r["passed"] in (True, False, None)
        if r["bound"]:
            assert r["ratio"] == pytest.approx(r["measured"] / r["bound"])


def test_short_soak_loses_nothing_pays_nothing_twice_and_never_crashes(smoke):
    """The soak's short variant (40 videos, 3 kill -9 + resume cycles, every fault the simulator
    has, a 429 storm): its counts are the verdict, so this test asserts them, not only their shape."""
    _, doc = smoke
    soak = {r["parameters"].split(": ")[-1].split(" (")[0]: r for r in doc["rows"] if r["scenario"] == "10 soak"}
    assert set(soak) == {"lost", "paid twice", "hung", "crashed"}, soak
    for name in ("lost", "paid twice", "crashed", "hung"):
        assert soak[name]["measured"] == 0, soak[name]
