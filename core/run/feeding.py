"""The feeder's side of a run: what expansion and metadata lookups do to the session and queue.

The feeder (core/sources/stream.py) expands the session's sources and looks videos up while
the workers submit. Here its findings are applied: new videos are journalled *before* they are
queued (so a video can never be paid for and then forgotten by a crash), titles and durations
are recorded as they arrive, an expanded source leaves the session's list of pending sources,
and one that produced nothing becomes a rejected line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..model import Video, VideoState
from ..sources.stream import Feeder, Source, SourceProblem
from ..store.format import RejectedLine

if TYPE_CHECKING:
    from .context import RunContext

META_FIELDS = ("title", "duration", "channel", "upload_date")


def pending_sources(ctx: "RunContext") -> list[Source]:
    return [src for d in ctx.session.meta.get("sources", []) if (src := Source.from_dict(d)) is not None]


def drop_source(meta: dict[str, Any], url: str) -> None:
    """Take an expanded source out of ``meta["sources"]``, in place. The expanders take the
    sources in order, so the one done is near the front: the search stops at the first match
    (split_lines never lists a URL twice) instead of rebuilding the whole list for each of a
    batch's 10,000 pages (quadratic)."""
    pending = meta.get("sources")
    if not isinstance(pending, list):
        return
    for i, d in enumerate(pending):
        if isinstance(d, dict) and d.get("url") == url:
            del pending[i]
            return


async def feed(ctx: "RunContext", feeder: Feeder) -> None:
    """Run the feeder to its end; the queue knows more may come until then."""
    session = ctx.session
    sources = pending_sources(ctx)
    lookups = [v for v in session.videos if v.state is not VideoState.DONE]
    if not sources and not any(feeder.wanted(v) for v in lookups):
        return
    ctx.queue.feeding = bool(sources)   # only expansion adds videos; lookups alone never hold the end
    ctx.feeder = feeder

    async def on_videos(src: Source, videos: list[Video]) -> list[Video]:
        added = session.add_videos(videos)   # their positions too (the reporter reads the session's map)
        await session.flush()          # durable before anyone can submit them
        ctx.queue.add(added)
        for v in added:
            ctx.reporter.video_changed(v)
        return added

    def on_meta(v: Video, meta: dict[str, Any]) -> None:
        changes = {}
        if meta.get("title") and not v.title:
            changes["title"] = str(meta["title"])
        if meta.get("duration") is not None and v.duration is None:
            changes["duration"] = float(meta["duration"])
        for name in ("channel", "upload_date"):
            if meta.get(name) and not getattr(v, name):
                changes[name] = str(meta[name])
        if isinstance(meta.get("captions"), list) and not v.captions_known:
            changes.update(captions=list(meta["captions"]), captions_known=True, language=meta.get("language") or "")
        if changes:
            session.record_nowait(v, **changes)

    def on_source_done(src: Source, problem: SourceProblem | None) -> None:
        drop_source(session.meta, src.url)
        if feeder.sources_pending == 0:
            ctx.queue.feeding = False
            ctx.queue.poke()
        if problem is not None:
            ctx.reporter.notice("warning", f"line {problem.line}: {problem.message}")
            if not problem.key and not any(r.line == problem.line and r.raw == problem.url for r in session.rejected):
                session.rejected.append(RejectedLine(problem.line, problem.url, problem.message, problem.category))

    def say(level: str, message: str) -> None:
        ctx.reporter.notice_once(message, level)

    try:
        await feeder.run(sources, lookups, known={v.key for v in session.videos}, on_videos=on_videos,
                         on_meta=on_meta, on_source_done=on_source_done, say=say)
    finally:
        ctx.queue.feeding = False
        ctx.queue.poke()
