"""The benchmark of issue 5: `python -m tests.benchmark` (full) or `--smoke` (seconds).

Every scenario runs the real engine against the project's simulated deAPI over loopback and
returns `report.Row`s: a measured figure beside its theoretical bound and its target. Timing
targets are judged here, never in tests; `test_smoke.py` only checks that every scenario
reports a figure.
"""
