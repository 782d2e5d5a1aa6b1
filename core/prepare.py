"""From a batch file (or a saved session) to a `Session` ready for the engine.

A batch file maps to one session by default (its path, hashed), so running the same
batch again resumes it and never pays twice for a video already done or in flight.
Lines added to the file since are appended as new videos; removed lines are left alone.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import anyio

from .errors import Category
from .model import Video, VideoState
from .output.adopt import adopt_outputs
from .paths import cache_dir, session_path_for
from .run.queue import CRASHED_SUBMIT
from .settings import Settings
from .sources.batch import BatchInput, read_batch
from .sources.expand import order_videos, resolve
from .store.salvage import salvage
from .store.session import RejectedLine, Session

if TYPE_CHECKING:
    from .plan import Plan

# Plan problems that came from the batch itself; the others (balance, price route) are about deAPI.
_SOURCE_CATEGORIES = frozenset({"input", "source"})


def rejected_lines(batch: BatchInput) -> list[RejectedLine]:
    out = []
    for line in batch.lines:
        if line.error:
            out.append(RejectedLine(line.line, line.raw, line.error, "input"))
        elif line.duplicate_of:
            out.append(RejectedLine(line.line, line.raw, f"duplicate of line {line.duplicate_of}", "duplicate"))
    return out


async def prepare_session(
    batch_path: str | Path,
    settings: Settings,
    *,
    session_path: str | Path | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> tuple[Session, bool]:
    """Open the batch's session (adding new lines) or create it. Returns (session, resumed).

    Raises BatchError for an unreadable batch file, SessionError/SessionLocked for a bad
    or busy session file. Expansion and metadata run here, before anything is paid for."""
    batch = read_batch(batch_path)
    path = Path(session_path) if session_path else session_path_for(batch_path)
    if path.exists():
        session = Session.open(path)
        session.settings = settings
        known = {v.key for v in session.videos}
        expanded = {v.source for v in session.videos if v.source}   # playlists/pages already expanded
        new_lines = [ln for ln in batch.lines if ln.url is not None and not ln.error and not ln.duplicate_of
                     and ln.url.key not in known and ln.url.url not in expanded]
        if new_lines:
            resolved = await resolve(new_lines, metadata=settings.metadata, cookies=settings.cookies,
                                     cache_dir=cache_dir(), done_keys=frozenset(known), on_progress=on_progress)
            session.add_videos(order_videos(resolved.videos, settings.order))
            session.warnings.extend(metadata_warnings(resolved.problems))
            # A line that never became a video is resolved again on every resume: record it once.
            seen = {(r.line, r.raw) for r in session.rejected}
            session.rejected.extend(RejectedLine(p.line, p.url, p.message, p.category)
                                    for p in resolved.problems if not p.key and (p.line, p.url) not in seen)
        return session, True
    resolved = await resolve([ln for ln in batch.lines if ln.url is not None and not ln.error and not ln.duplicate_of],
                             metadata=settings.metadata, cookies=settings.cookies, cache_dir=cache_dir(),
                             on_progress=on_progress)
    rejected = rejected_lines(batch)
    # A problem with a key is a video kept without its metadata: a warning, not a rejected line.
    rejected += [RejectedLine(p.line, p.url, p.message, p.category) for p in resolved.problems if not p.key]
    warnings = metadata_warnings(resolved.problems)
    rejected += [RejectedLine(line, url, f"duplicate of {first}", "duplicate") for line, url, first in resolved.duplicates]
    videos = order_videos(resolved.videos, settings.order)
    session = await anyio.to_thread.run_sync(
        lambda: new_session(path, batch_path, settings, videos, sorted(rejected, key=lambda r: r.line)))
    session.warnings.extend(warnings)
    return session, False


def new_session(path: Path, batch_path: str | Path, settings: Settings, videos: list[Video],
                rejected: list[RejectedLine]) -> Session:
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
                             rejected=rejected)
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


def metadata_warnings(problems) -> list[str]:
    """Videos kept without their metadata (title, duration): worth a warning, never a failure."""
    return [f"line {p.line}: {p.message}" for p in problems if getattr(p, "key", "")]


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
