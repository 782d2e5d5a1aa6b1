"""How `v1_from_main.tar.gz` was made: `python make_v1_from_main.py OUT` with the Python of a
checkout from before session format 2 (main at ca230a1); OUT/../v1_from_main.tar.gz is the
fixture. It writes a format 1 session with that version's own Session (1,050 videos in every
state, chunks, outputs, captions, rejected lines, limiter and meta state), checkpoints it,
records more changes and then dies with os._exit, so the journal holds changes the TOML does
not: what a crashed run leaves. Beside it, `expected.json` is what that version reads back (its
own Session.open on a copy, journal replayed). Not collected by pytest; kept so the fixture can
be remade and checked."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import anyio

from bulk_transcribe.core.model import Video, VideoState
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.store.format import RejectedLine
from bulk_transcribe.core.store.session import Session

N = 1050


def video(i: int) -> Video:
    v = Video(key=f"youtube:v{i:09d}", url=f"https://www.youtube.com/watch?v=v{i:09d}", vid=f"v{i:09d}",
              line=i + 1, title=f"Título {i} \"quoted\" ✓" if i % 7 == 0 else f"Video {i}",
              duration=None if i % 11 == 0 else 30.0 + i % 90, channel="chan" if i % 3 else "",
              upload_date="20251201" if i % 5 == 0 else "")
    if i % 13 == 0:
        v.captions, v.captions_known, v.language = ["en:manual:vtt", "de:auto:vtt"], True, "en"
    return v


async def first_run(path: Path) -> None:
    settings = Settings(formats=("txt", "srt"), max_per_source=3, max_cost=12.5)
    s = Session.create(path, batch="links.txt", settings=settings, videos=[video(i) for i in range(N)],
                       rejected=[RejectedLine(3, "not a url", "not a link", "input"),
                                 RejectedLine(9, "https://youtu.be/dup", "duplicate of line 2", "duplicate")],
                       meta={"note": "v1 fixture", "spent": 1.25})
    s.limiter = {"submit": [1.0, 2.0], "status": [3.5]}
    async with s:
        for i in range(0, N, 2):   # folded into the TOML by the close
            v = s.by_key(f"youtube:v{i:09d}")
            if i % 4 == 0:
                await s.record(v, state=VideoState.DONE, request_id=f"req-{i}", attempts=1, polls=3,
                               cost=0.0123, outputs=[f"out/{v.vid}.txt", f"out/{v.vid}.srt"], method="deapi-url",
                               submitted_at=1.7e9 + i, finished_at=1.7e9 + i + 40)
            elif i % 6 == 0:
                await s.record(v, state=VideoState.FAILED, category="source", message="Private video",
                               retryable=False, attempts=1)
            else:
                await s.record(v, state=VideoState.SUBMITTED, request_id=f"req-{i}", attempts=1,
                               submitted_at=1.7e9 + i)


async def crashed_run(path: Path) -> None:
    s = Session.open(path)
    async with s:
        for i in range(1, N, 10):   # only in the journal: the process dies before any checkpoint
            v = s.by_key(f"youtube:v{i:09d}")
            if i % 20 == 1:
                await s.record(v, state=VideoState.SUBMITTING, possibly_paid=True, attempts=1)
            else:
                await s.record(v, state=VideoState.DONE, request_id=f"late-{i}", attempts=2,
                               outputs=[f"out/{v.vid}.txt"], method="captions", cost=0.0,
                               chunks=[{"i": 0, "offset": 0.0, "seconds": 30.0, "size": 1000,
                                        "request_id": f"c-{i}", "state": "done", "attempts": 1, "cost": 0.01}])
        await s.flush()
        os._exit(0)


def expected(path: Path) -> dict:
    """What this version reads back, each video's fields at their default left out."""
    defaults = {f.name: f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
                for f in dataclasses.fields(Video)}
    s = Session.open(path)
    try:
        return {"batch": s.batch, "created": s.created, "settings": s.settings.to_dict(), "limiter": s.limiter,
                "meta": s.meta, "rejected": [dataclasses.asdict(r) for r in s.rejected],
                "videos": [{k: x for k, x in {**dataclasses.asdict(v), "state": v.state.value}.items()
                            if k in ("key", "state") or x != defaults[k]} for v in s.videos]}
    finally:
        s.close()


if __name__ == "__main__":
    out = Path(sys.argv[1])
    session = out / "links.toml"
    if len(sys.argv) > 2:
        anyio.run(crashed_run, session)
    out.mkdir(parents=True)
    anyio.run(first_run, session)
    subprocess.run([sys.executable, __file__, str(out), "crash"], check=True)
    copy = out.parent / (out.name + "-copy")
    shutil.copytree(out, copy)
    (out / "expected.json").write_text(json.dumps(expected(copy / "links.toml"), ensure_ascii=False))
    shutil.rmtree(copy)
    (out / "links.toml.lock").unlink(missing_ok=True)
    with tarfile.open(out.parent / "v1_from_main.tar.gz", "w:gz") as tar:
        tar.add(out, arcname="v1_from_main")
