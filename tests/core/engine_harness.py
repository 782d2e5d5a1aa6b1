"""Helpers to run the real engine against the real simulated service over loopback."""

from __future__ import annotations

from pathlib import Path

import anyio

from bulk_transcribe.core.model import Video
from bulk_transcribe.core.run.engine import Engine
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.sources.urls import normalize
from bulk_transcribe.core.store.session import Session

KEY = "test-key-0123456789"


def yt(n: int, prefix: str = "vid") -> str:
    """A valid, distinct YouTube watch URL (11-character id)."""
    vid = f"{prefix}{n:0>{11 - len(prefix)}}"[:11]
    return f"https://www.youtube.com/watch?v={vid}"


def videos_for(urls: list[str]) -> list[Video]:
    out = []
    for i, url in enumerate(urls, 1):
        n = normalize(url)
        out.append(Video(key=n.key, url=n.url, vid=n.vid, line=i))
    return out


def make_session(tmp_path: Path, urls: list[str], base_url: str, **settings) -> Session:
    s = Settings(api_base=base_url, output_dir=str(tmp_path / "out"), metadata=False, **settings).validate()
    return Session.create(tmp_path / "session.toml", batch="test", settings=s, videos=videos_for(urls))


def run_engine(session: Session, *, key: str = KEY, controls=None):
    """Run to the end; returns (BatchFinished, events). `controls(engine)` may steer it."""
    events: list = []
    engine = Engine(session, api_key=key, sink=events.append)

    async def main():
        if controls is None:
            return await engine.run()
        async with anyio.create_task_group() as tg:
            tg.start_soon(controls, engine)
            result = await engine.run()
            tg.cancel_scope.cancel()
            return result

    finished = anyio.run(main)
    return finished, events


def max_in_window(times: list[float], window: float = 60.0) -> int:
    """The most arrivals any window of `window` seconds holds."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best
