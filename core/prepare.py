"""From a batch file (or a saved session) to a `Session` ready for the engine.

A batch file maps to one session by default (its path, hashed), so running the same
batch again resumes it and never pays twice for a video already done or in flight.
Lines added to the file since are appended as new videos or sources; removed lines are left
alone. Nothing here waits for yt-dlp: the engine's feeder expands and looks up while it runs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Container, Iterable

import anyio

from .errors import Category
from .model import Video, VideoState
from .output.adopt import adopt_outputs
from .paths import cache_dir, session_path_for
from .run.queue import CRASHED_SUBMIT
from .settings import Settings
from .sources.batch import BatchLine, batch_lines
from .sources.expand import apply_meta, order_videos
from .sources.metadata_cache import read_cached
from .sources.stream import Source, is_source
from .store.salvage import salvage
from .store.session import RejectedLine, Session

if TYPE_CHECKING:
    from .plan import Plan

# Plan problems that came from the batch itself; the others (balance, price route) are about deAPI.
_SOURCE_CATEGORIES = frozenset({"input", "source"})


def rejected_line(line: BatchLine) -> RejectedLine | None:
    """The rejected line a bad or duplicate batch line is recorded as (None for a usable one)."""
    if line.error:
        return RejectedLine(line.line, line.raw, line.error, "input")
    if line.duplicate_of:
        return RejectedLine(line.line, line.raw, f"duplicate of line {line.duplicate_of}", "duplicate")
    return None


async def prepare_session(
    batch_path: str | Path,
    settings: Settings,
    *,
    session_path: str | Path | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> tuple[Session, bool]:
    """Open the batch's session (adding new lines) or create it, at once. Returns (session, resumed).

    Nothing waits for yt-dlp here: single video lines become videos (with what the metadata
    cache knows of them), playlists, channels and pages are recorded as sources still to
    expand, and the engine's feeder expands them and looks the videos up while it already
    submits (core/sources/stream.py). So the session exists from the first second and a kill
    at any moment resumes where it was.

    Raises BatchError for an unreadable batch file, SessionError/SessionLocked for a bad or
    busy session file."""
    # The batch's lines are read one at a time into videos (never all held as lines beside them);
    # an unreadable batch raises here, before the session is touched.
    lines = await anyio.to_thread.run_sync(batch_lines, batch_path)
    path = Path(session_path) if session_path else session_path_for(batch_path)
    say = on_progress or (lambda _message: None)
    if path.exists():
        session = await anyio.to_thread.run_sync(Session.open, path)
        session.settings = settings
        videos, sources, _ = await anyio.to_thread.run_sync(lambda: split_lines(
            lines, known=session.positions,
            expanded={v.source for v in session.videos if v.source} | pending_urls(session)))
        await _from_cache(videos)
        added = session.add_videos(order_videos(videos, settings.order))
        session.meta["sources"] = session.meta.get("sources", []) + [src.to_dict() for src in sources]
        if added or sources:
            say(f"{len(added)} new video(s) and {len(sources)} new source(s) in the batch file")
        return session, True
    videos, sources, rejected = await anyio.to_thread.run_sync(split_lines, lines)
    await _from_cache(videos)
    videos = order_videos(videos, settings.order)
    session = await anyio.to_thread.run_sync(
        lambda: new_session(path, batch_path, settings, videos, rejected,
                            meta={"sources": [src.to_dict() for src in sources]}))
    return session, False


def split_lines(lines: Iterable[BatchLine], *, known: Container[str] = frozenset(),
                expanded: set[str] = frozenset()) -> tuple[list[Video], list[Source], list[RejectedLine]]:
    """The batch's usable lines as videos (single video URLs) and sources still to expand
    (playlists, channels, pages), leaving out keys already `known` and sources already expanded;
    and its bad and duplicate lines as rejected lines. Raises what iterating `lines` raises."""
    videos: list[Video] = []
    sources: list[Source] = []
    rejected: list[RejectedLine] = []
    for ln in lines:
        if (bad := rejected_line(ln)) is not None:
            rejected.append(bad)
            continue
        if ln.url is None or ln.url.key in known:
            continue
        if is_source(ln.url.kind):
            if ln.url.url not in expanded:
                sources.append(Source(ln.line, ln.url.url, ln.title))
        else:
            videos.append(Video(key=ln.url.key, url=ln.url.url, vid=ln.url.vid, line=ln.line, title=ln.title))
    return videos, sources, rejected


def pending_urls(session: Session) -> set[str]:
    return {src.url for d in session.meta.get("sources", []) if (src := Source.from_dict(d)) is not None}


async def _from_cache(videos: list[Video]) -> None:
    """Fill in what the metadata cache already knows (a file read each, no network)."""
    folder = cache_dir() / "metadata"
    cached = await anyio.to_thread.run_sync(read_cached, folder, [v.key for v in videos])
    for v in videos:
        if v.key in cached:
            apply_meta(v, cached[v.key])


def new_session(path: Path, batch_path: str | Path, settings: Settings, videos: list[Video],
                rejected: list[RejectedLine], meta: dict | None = None) -> Session:
    """Create a batch's session, first recovering what an earlier, lost session of the same path
    knew (request ids of paid jobs: re-attached, never submitted again) and adopting the
    transcripts already in the output folder (never paid for again). Sync: call it in a thread.
    Raises as `Session.create`."""
    notes = recover(path, videos)
    adopted = adopt_outputs(videos, settings.output_dir, tuple(settings.formats), settings.template)
    if adopted:
        missing = sum(1 for a in adopted if a.missing)
        notes.append(f"{len(adopted)} video(s) already transcribed in {settings.output_dir}: adopted, not paid for "
                     "again" + (f" ({missing} without the formats that need deAPI's segments)" if missing else ""))
    # Session.create makes the sessions folder (durably: each new folder synced in its parent).
    session = Session.create(path, batch=str(Path(batch_path).resolve()), settings=settings, videos=videos,
                             rejected=rejected, meta=meta)
    session.warnings.extend(notes)
    return session


def recover(path: Path, videos: list[Video]) -> list[str]:
    """Re-attach `videos` (not yet in any session) to what the files an earlier session left
    beside `path` know: a request id means a paid job to poll, a submit left on the wire means
    a video in doubt. Returns what to tell the user."""
    known = salvage(path)
    attached = doubtful = 0
    for v in videos:
        item = known.get(v.key)
        if item is None or v.state is not VideoState.QUEUED:
            continue
        if item.request_id:
            v.request_id, v.state, v.submitted_at = item.request_id, VideoState.SUBMITTED, item.submitted_at
            attached += 1
        elif item.state == VideoState.SUBMITTING.value:
            v.state, v.category, v.possibly_paid, v.message = (VideoState.FAILED, Category.IN_DOUBT.value, True,
                                                               CRASHED_SUBMIT)
            doubtful += 1
    notes = []
    if attached:
        notes.append(f"{attached} video(s) re-attached to the jobs an earlier session of this batch paid for "
                     "(their request ids were kept beside the session): polled, not submitted again")
    if doubtful:
        notes.append(f"{doubtful} video(s) in doubt from an earlier session (a submit was on the wire when it "
                     "ended): not sent again unless you ask (--resubmit-in-doubt)")
    return notes


def plan_rejected(plan: "Plan") -> list[RejectedLine]:
    """The plan's input and source problems and its duplicates as the session's rejected lines,
    by line number (the same reasons `prepare_session` records)."""
    first_line = {r.key: r.line for r in plan.rows if r.line}
    out = [RejectedLine(p.line, p.url, p.message, p.category) for p in plan.problems
           if p.category in _SOURCE_CATEGORIES and not getattr(p, "key", "")]
    for line, url, key in plan.duplicates:
        first = f"line {first_line[key]}" if key in first_line else key
        out.append(RejectedLine(line, url, f"duplicate of {first}", "duplicate"))
    return sorted(out, key=lambda r: r.line)


def create_session_from_plan(
    plan: "Plan", batch_path: str | Path, settings: Settings, *, session_path: str | Path | None = None,
) -> Session:
    """A new session holding exactly the plan's videos (the ones the user was shown), without
    expanding or reading metadata again. Sync (it writes the session file): call it in a thread.

    Raises SessionError if a session already exists at the path (resume it instead: see
    `prepare_session`) or cannot be written, SessionLocked if another process holds it."""
    path = Path(session_path) if session_path else session_path_for(batch_path)
    return new_session(path, batch_path, settings, [dataclasses.replace(v) for v in plan.videos],
                       plan_rejected(plan))
