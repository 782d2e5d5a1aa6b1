"""The benchmark's output: one row per figure, printed as a markdown table and saved as JSON."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Row:
    """One figure. `passed` is None when the figure has no target (reported only).
    `ratio` is measured/bound where a bound exists. `note` says how it was measured."""

    scenario: str
    parameters: str
    measured: float
    unit: str
    bound: float | None = None
    target: str = ""
    passed: bool | None = None
    note: str = ""
    runs: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        if self.bound in (None, 0):
            return None
        return self.measured / self.bound

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def _num(x: float | None) -> str:
    if x is None:
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}" if x else "0"


def markdown(rows: list[Row]) -> str:
    """The table: scenario, parameters, measured, bound, ratio, target, pass/fail."""
    out = ["| scenario | parameters | measured | bound | ratio | target | result |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        verdict = {True: "pass", False: "**MISS**", None: "-"}[r.passed]
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "-"
        bound = f"{_num(r.bound)} {r.unit}" if r.bound is not None else "-"
        out.append(f"| {r.scenario} | {r.parameters} | {_num(r.measured)} {r.unit} | {bound} | {ratio} "
                   f"| {r.target or '-'} | {verdict} |")
    return "\n".join(out)


def write_json(path: Path, rows: list[Row], meta: dict[str, Any]) -> None:
    """Write every row and the run's metadata (scale factor, mode, machine) to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "machine": {"python": platform.python_version(), "platform": platform.platform()},
           **meta, "rows": [r.to_dict() for r in rows]}
    path.write_text(json.dumps(doc, indent=2) + "\n")
