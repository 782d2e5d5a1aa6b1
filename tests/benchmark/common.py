"""What every scenario shares: the time scale, the simulator process, and one run of our engine.

Scaling time: with factor F, the simulator's rate windows and job latencies and our
limiter's window and margin are all divided by F. Rates are then reported per *scaled minute*
(one window, 60/F real seconds), so a limit of "30 per minute" reads as 30 in the table.
The poll planner's fixed times (first looks, caps, minimum gap) are scaled too
(`Engine.make_planner(time_scale=F)`). Not scaled: the engine's 0.5 s progress tick, the loopback
round trip (~1-3 ms) and the simulator's 1 s minimum Retry-After; at F > 1 these cost
relatively more than in real use, so scaled figures err on the pessimistic side.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from bulk_transcribe.core.events import VideoChanged, WorkerChanged
from bulk_transcribe.core.limiter import RateLimiter
from bulk_transcribe.core.model import VideoState
from bulk_transcribe.core.run.engine import Engine
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.simulator import content
from bulk_transcribe.core.sources.expand import order_videos
from bulk_transcribe.core.store.session import Session
from tests.core.engine_harness import KEY, videos_for, yt

REPO = Path(__file__).resolve().parents[2]
DAY = 86400.0


@dataclass(frozen=True)
class Scale:
    """Time runs F times faster than real: 60 s windows last 60/F s, latencies 1/F."""

    factor: float

    @property
    def window(self) -> float:
        return 60.0 / self.factor

    def s(self, seconds: float) -> float:
        """Real-world seconds -> seconds in this run."""
        return seconds / self.factor

    def per_min(self, count: float, seconds: float) -> float:
        """`count` events in `seconds` of this run, as a rate per scaled minute."""
        return count / seconds * self.window if seconds > 0 else 0.0


class ScaledLimiter(RateLimiter):
    """The engine's limiter with a scaled window. Its "per minute" answers (used by the poll
    planner and the submit gate, which think in real 60 s minutes) are converted to calls
    per 60 real seconds, so planning stays consistent with the shorter window."""

    factor: float = 1.0

    @classmethod
    def build(cls, settings: Settings, scale: Scale, *, wall0: float | None = None) -> "ScaledLimiter":
        """`wall0`: the scaled wall clock's start (daily limits); default: real time."""
        kw: dict[str, Any] = dict(window=scale.window, margin=settings.limit_margin / scale.factor)
        if wall0 is not None:
            t0 = time.time()
            kw["wall"] = lambda: wall0 + (time.time() - t0) * scale.factor
        limiter = cls.from_settings(settings, **kw)
        limiter.factor = scale.factor
        return limiter

    def submit_per_minute(self) -> int:
        return max(1, round(super().submit_per_minute() * self.factor))

    def status_budget_per_minute(self, submit_demand: float | None = None, *,
                                 horizon: float | None = None) -> float:
        if submit_demand is None and self.shared:
            submit_demand = float(self.bucket("submit").usage().used_60s)   # per window
        scaled = horizon * self.factor if horizon else None                # real -> scaled minutes
        return super().status_budget_per_minute(submit_demand, horizon=scaled) * self.factor


class SimProcess:
    """`python -m tests.benchmark.simproc` as a context manager; `.base_url`, `.ledger()`."""

    def __init__(self, **config: Any) -> None:
        self.config = config
        self.proc: subprocess.Popen | None = None
        self.base_url = ""

    def __enter__(self) -> "SimProcess":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.benchmark.simproc", json.dumps(self.config)],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url.startswith("http"):
            raise RuntimeError("the simulator did not start")
        return self

    def ledger(self, since: float = 0.0) -> dict[str, Any]:
        assert self.proc and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(f"ledger {since}\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def money(self) -> dict[str, Any]:
        """Jobs created per source URL, USD charged and the faults answered (simproc's `money`)."""
        assert self.proc and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write("money\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def set(self, **changes: Any) -> None:
        """Change the simulator's settings while it runs (simproc's `set`)."""
        assert self.proc and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(f"set {json.dumps(changes)}\n")
        self.proc.stdin.flush()
        self.proc.stdout.readline()

    def __exit__(self, *exc: object) -> None:
        if self.proc:
            assert self.proc.stdin
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def sim_config(scale: Scale, *, latency=(20.0, 80.0), seed: int = 0, **limits: Any) -> dict[str, Any]:
    """Simulator settings with the window and latencies scaled."""
    return dict(window=scale.window, latency=[scale.s(latency[0]), scale.s(latency[1])], seed=seed, **limits)


def drawn_latency(url: str, cfg: dict[str, Any]) -> float:
    """The latency the simulator draws for a first submit of `url` (it is deterministic)."""
    low, high = cfg["latency"]
    return low + content.unit(cfg.get("seed", 0), "latency", url, 0) * (high - low)


@dataclass
class RunStats:
    """One engine run, in monotonic seconds: when each video was submitted and done."""

    started: float
    ended: float
    picked: dict[str, float] = field(default_factory=dict)      # url -> a worker took it
    submitted: dict[str, float] = field(default_factory=dict)   # url -> first SUBMITTED
    done: dict[str, float] = field(default_factory=dict)        # url -> DONE
    failed: int = 0
    polls: int = 0
    polls_by_url: dict[str, int] = field(default_factory=dict)


def urls(n: int, prefix: str) -> list[str]:
    return [yt(i, prefix) for i in range(n)]


async def run_ours(tmp: Path, base_url: str, batch: list[str], scale: Scale, *,
                   wall0: float | None = None, durations: dict[str, float] | None = None,
                   **settings: Any) -> RunStats:
    """Run our engine on `batch` against `base_url` with scaled limits; returns its timings.
    `durations` (url -> seconds of audio) are what metadata lookups would have told."""
    s = Settings(api_base=base_url, output_dir=str(tmp / "out"), metadata=False, **settings).validate()
    tmp.mkdir(parents=True, exist_ok=True)
    videos = videos_for(batch)
    for v in videos:
        if durations and v.url in durations:
            v.duration = durations[v.url]
    if durations:   # ordered as a planned session is (prepare.py orders by the settings' order)
        videos = order_videos(videos, s.order)
    session = Session.create(tmp / "session.toml", batch="bench", settings=s, videos=videos)
    url_of = {v.key: v.url for v in session.videos}
    stats = RunStats(started=time.monotonic(), ended=0.0)

    def sink(event: object) -> None:
        if isinstance(event, WorkerChanged) and event.video_key:
            stats.picked.setdefault(url_of[event.video_key], time.monotonic())
        elif isinstance(event, VideoChanged):
            now = time.monotonic()
            url = url_of[event.key]
            if event.state is VideoState.SUBMITTED:
                stats.submitted.setdefault(url, now)
            elif event.state is VideoState.DONE:
                stats.done[url] = now
            elif event.state is VideoState.FAILED:
                stats.failed += 1

    engine = Engine(session, api_key=KEY, sink=sink, limiter=ScaledLimiter.build(s, scale, wall0=wall0))
    engine.planner = engine.make_planner(time_scale=scale.factor)
    await engine.run()
    stats.ended = time.monotonic()
    stats.polls = sum(v.polls for v in session.videos)
    stats.polls_by_url = {v.url: v.polls for v in session.videos}
    session.close()
    return stats


def steady_state(stats: RunStats, n: int) -> list[str]:
    """The videos of the steady state: taken by a worker after the first wave (the first `n`
    taken) and while the queue still held work (so all `n` slots were busy)."""
    order = sorted(stats.picked, key=stats.picked.get)
    return [u for u in order[n:] if u in stats.done]


def slot_rate(stats: RunStats, videos: list[str], n: int, scale: Scale) -> float:
    """Videos per scaled minute that `n` always-busy slots sustain: n / mean slot time, a slot
    being held from the moment a worker takes a video to the moment it is done."""
    held = [stats.done[u] - stats.picked[u] for u in videos]
    return scale.per_min(n, sum(held) / len(held))


def count_rate(stats: RunStats, n: int, scale: Scale) -> float:
    """Plain count: videos done from the n-th completion to the last take, per scaled minute
    (noisier: sensitive to where the window's edges fall between bursts)."""
    done = sorted(stats.done.values())
    t_a, t_b = done[n - 1], max(stats.picked.values())
    return scale.per_min(sum(1 for t in done if t_a < t <= t_b), t_b - t_a)


def median(xs: list[float]) -> float:
    xs = sorted(xs)
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


def env_isolated(tmp: Path) -> dict[str, str]:
    """Environment for a child `bulk-transcribe`: its own config and data dirs, a test key, and
    the batch run in the child itself (not the service), so its memory and lag are the engine's."""
    env = dict(os.environ)
    env.update(BULK_TRANSCRIBE_CONFIG_DIR=str(tmp / "config"), BULK_TRANSCRIBE_DATA_DIR=str(tmp / "data"),
               DEAPI_API_KEY=KEY, PYTHONPATH=str(REPO), BULK_TRANSCRIBE_NO_SERVICE="1")
    env.pop("DEAPI_BASE_URL", None)
    # Python caches compiled modules (__pycache__) unless told not to, as these machines' own
    # environment does: without the cache each child would compile the project's ~80 modules
    # (0.14 s) at every start, a cost no installed copy pays after its first.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_async(fn, *args: Any, **kw: Any) -> Any:
    return anyio.run(lambda: fn(*args, **kw))
