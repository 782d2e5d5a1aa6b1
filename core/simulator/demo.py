"""The demo: a sample batch against the simulated deAPI, no key needed.

The simulator's jobs are saved beside the demo session, so quitting the demo and
opening it again re-attaches to the jobs it had in flight, exactly as with the real
service. The batch holds a few videos that fail on purpose (private, age-restricted,
a flaky download that succeeds on retry, a busy server) and one title full of markup.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import threading
import tomllib
from pathlib import Path
from typing import Any

from ..paths import data_dir, session_path_for
from ..settings import Settings
from .config import SimConfig
from .server import SimServer

DEMO_KEY = "demo-key"
_PACKAGED_BATCH = Path(__file__).with_name("demo_batch.csv")

# Substrings of the demo batch's URLs -> what the simulator does with them.
DEMO_FAULTS = {
    "Ht61QTC4XAT": "private",
    "WS8PHp9NHfY": "restricted",
    "jFM5DI4pZj5": "flaky:1",
    "9fhZ5R1Py4o": "capacity",
    "7S8sTQCBNR3": "silent",
    "LhuVtcqcYez": "slow:35",
}


def demo_dir() -> Path:
    return data_dir() / "demo"


def demo_batch_path() -> Path:
    """A copy of the packaged sample batch in the data folder (so sessions can point at a real file)."""
    target = demo_dir() / "demo-batch.csv"
    if not target.exists() or target.read_bytes() != _PACKAGED_BATCH.read_bytes():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_PACKAGED_BATCH, target)
    return target


def demo_session_path() -> Path:
    """The demo batch's session, by the same rule as every batch's."""
    return session_path_for(demo_batch_path())


def is_demo_session(path: str | Path) -> bool:
    """True for a session made from the demo batch (its jobs live in the demo simulator)."""
    try:
        with open(path, "rb") as fh:
            batch = tomllib.load(fh).get("batch", "")
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return Path(batch).name == "demo-batch.csv" and Path(batch).parent.name == "demo"


def demo_settings(base_url: str) -> Settings:
    return Settings(api_base=base_url, metadata=False, output_dir=os.path.join("transcripts", "demo"),
                    concurrency=5, rpm=120, formats=("txt", "md"), order="input")


def demo_config(seed: int | None = None) -> SimConfig:
    return SimConfig(latency=(3.0, 12.0), pending_share=0.15, faults=dict(DEMO_FAULTS),
                     server_error_share=0.02, server_error_statuses=(500, 503),   # errors that say nothing was done
                     seed=random.randrange(1 << 30) if seed is None else seed)


class DemoSim:
    """A started simulator that saves its jobs every half second and on stop."""

    def __init__(self, fresh: bool = False) -> None:
        self.jobs_path = demo_dir() / "sim-jobs.json"
        self.server = SimServer(demo_config())
        if fresh:
            self.jobs_path.unlink(missing_ok=True)
        elif self.jobs_path.exists():
            try:
                self.server.import_jobs(json.loads(self.jobs_path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError, KeyError):
                pass   # a damaged demo store only means the demo starts its jobs over
        self.base_url = self.server.start()
        self._stop = threading.Event()
        self._saver = threading.Thread(target=self._save_loop, name="demo-sim-saver", daemon=True)
        self._saver.start()

    def _save(self) -> None:
        rows: list[dict[str, Any]] = self.server.export_jobs()
        self.jobs_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.jobs_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(rows), encoding="utf-8")
        os.replace(tmp, self.jobs_path)

    def _save_loop(self) -> None:
        while not self._stop.wait(0.5):
            try:
                self._save()
            except OSError:
                pass

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._saver.join(timeout=2)
        try:
            self._save()
        except OSError:
            pass
        self.server.stop()


def start_demo_sim(fresh: bool = False) -> DemoSim:
    return DemoSim(fresh=fresh)


def wire_demo(settings: Settings, sim: DemoSim | None = None, *, fresh: bool = False
              ) -> tuple[DemoSim, Settings, str]:
    """Everything a face needs to run the demo (or a demo session it reopens): the simulator
    (`sim`, or one started now), `settings` pointed at it, and the key it accepts.
    The caller stops a simulator it got from here."""
    sim = sim or start_demo_sim(fresh=fresh)
    return sim, settings.with_(api_base=sim.base_url), DEMO_KEY
