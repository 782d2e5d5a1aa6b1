"""A batch's progress on disk: crash-safe, single-writer, cheap at 10,000 videos.

Durability comes from the snapshot (a small TOML head and pages of videos, see format.py and
pages.py), written only at checkpoints and then only the pages that changed, and a JSON-lines
journal beside it that every `record` appends to and fsyncs before returning. Concurrent
`record` calls share one append + fsync (group commit). On `open` the journal's records newer
than the snapshot's ``seq`` are replayed; records are
absolute values, so a crash at any point of a checkpoint leaves a state that replays to the
same result. A sidecar ``.lock`` (flock) keeps a second process out.

Only changes made through `record` / `record_nowait` are persisted: a checkpoint rewrites only
the pages of the videos those calls touched. Never assign to a Video's fields directly.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import time
from collections import Counter
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Iterable, Mapping

import anyio

from ..errors import SessionError
from ..model import Video, VideoState
from ..settings import Settings
from .access import damaged_error, discard_session, disk_error, keep_copy, sweep_debris, take_lock
from .atomic import PRIVATE, atomic_write_bytes, ensure_dir
from .format import (
    CHANGEABLE,
    VERSION,
    NewerVersion,
    RejectedLine,
    SessionInfo,
    apply_set,
    clean_settings,
    decode_value,
    dump_head,
    encode_value,
    journal_path,
    limiter_path,
    list_sessions,
    load,
    parse_cache_path,
    read_settings,
    row_to_video,
    video_to_row,
)
from .groupcommit import GroupCommit
from .journal import Journal, JournalRead, read_journal
from .limiter_state import limiter_state_problem
from .lockfile import FileLock
from .pages import PAGE_SIZE, PageRef, orphan_pages_name, page_name, pages_dir, rejected_name, remove_unlisted, write_page
from .salvage import orphan_journal_name

# The store's public face: what callers outside store/ use. Errors live in core/errors.py.
__all__ = ["RejectedLine", "Session", "SessionInfo", "discard_session", "list_sessions"]


@dataclasses.dataclass
class _Snapshot:
    """What a checkpoint writes, taken on the event loop: only the pages that changed."""

    seq: int
    gen: int
    header: dict[str, Any]
    counts: dict[str, int]
    # page index -> its rows; None: the writer makes them (only where nothing can change the videos
    # meanwhile: a session being created or migrated, not yet anyone's), one page at a time
    pages: dict[int, list[dict[str, Any]] | None]
    rejected: list[dict[str, Any]] | None       # None: unchanged since the last checkpoint
    rejected_count: int


class Session:
    """One batch's persistent state. Build it with `create` or `open`, never directly.

    Tunables: `close_timeout` (limit for the final save, 30 s); `commits.commit_delay` (how
    long the writer waits to gather a group, 2 ms) and `commits.idle_flush` (how soon
    `record_nowait` changes reach the journal when nothing else commits, 1 s).
    `warnings` lists problems found and worked around while opening (not persisted).
    """

    close_timeout = 30.0

    def __init__(self, path: Path, *, batch: str, created: float, settings: Settings, videos: list[Video],
                 rejected: list[RejectedLine], limiter: dict, meta: dict, seq: int, lock: FileLock,
                 gen: int = 0, pages: list[PageRef] | None = None, rejected_page: PageRef | None = None) -> None:
        self.path = path
        self.batch = batch
        self.created = created
        self.settings = settings
        self.videos = videos
        self.rejected = rejected
        self.limiter = limiter
        self.meta = meta
        self.warnings: list[str] = []
        self._index = {v.key: i for i, v in enumerate(videos)}   # key -> position (its page is position // PAGE_SIZE)
        if len(self._index) != len(videos):
            raise ValueError("two videos share a key; dedupe before creating the session")
        self._pages: list[PageRef] = list(pages or [])
        self._rejected_page = rejected_page
        self._rejected_count = len(rejected) if rejected_page is not None else -1   # -1: never written
        self._gen = gen
        self._dirty: set[int] = set(range(len(self._pages), self._page_count()))   # pages to rewrite
        self._seq = self._folded = seq
        self._lock = lock
        self._journal = Journal(journal_path(path))
        self._need_fold = False      # a journal append failed: the next commit rewrites the TOML instead
        self._closed = False
        self.commits = GroupCommit(self._write_records)

    # -- creating and opening -----------------------------------------------------------
    @classmethod
    def create(cls, path: Path | str, *, batch: str, settings: Settings, videos: list[Video],
               rejected: Iterable[RejectedLine] = (), meta: dict | None = None) -> "Session":
        """Write a new session atomically and hold its lock. `meta` is opaque extra state (TOML-safe).

        Raises SessionLocked if someone holds the lock, SessionError if a session already
        exists at `path` (it is never overwritten) or the file cannot be written, ValueError
        if two videos share a key.
        """
        path = Path(path)
        try:
            ensure_dir(path.parent)
        except OSError as exc:
            raise disk_error("create the folder for", path, exc) from exc
        lock = take_lock(path)
        try:
            sweep_debris(path)
            if path.exists():
                raise SessionError(f"A session already exists at {path}. Resume it, or move it away to start over.")
            session = cls(path, batch=batch, created=time.time(), settings=settings, videos=list(videos),
                          rejected=list(rejected), limiter={}, meta=dict(meta or {}), seq=0, lock=lock)
            try:
                # A journal left by a lost or damaged session must never replay into this one, and
                # must never be emptied either: it may hold the only copy of paid jobs' request ids.
                old = journal_path(path)
                if old.exists() and old.stat().st_size:
                    os.replace(old, orphan_journal_name(path))
                if pages_dir(path).exists():   # the pages of a session moved away: salvage reads them
                    os.replace(pages_dir(path), orphan_pages_name(path))
                session._journal.open(keep_bytes=0)
                session._write_snapshot(session._snapshot(rows_now=False))
            except OSError as exc:
                session._journal.close()
                raise disk_error("write the session", path, exc) from exc
        except BaseException:
            lock.release()
            raise
        return session

    @classmethod
    def open(cls, path: Path | str) -> "Session":
        """Load a session, replay its journal and hold its lock.

        Raises SessionLocked if another process holds it, SessionError if it is missing,
        unreadable or damaged (a damaged file is left in place and also copied aside as
        ``<name>.corrupt-<timestamp>``; nothing is ever written over it).
        """
        path = Path(path)
        lock = take_lock(path)
        try:
            sweep_debris(path)
            try:
                parsed = load(path)
            except FileNotFoundError:
                raise SessionError(f"There is no session at {path}.") from None
            except OSError as exc:
                raise disk_error("read", path, exc) from exc
            except NewerVersion as exc:
                raise SessionError(f"The session {path} cannot be resumed: {exc}.") from None
            except ValueError as exc:
                raise damaged_error(path, str(exc)) from None
            try:
                journal = read_journal(journal_path(path))
            except OSError as exc:
                raise disk_error("read", journal_path(path), exc) from exc
            session = cls(path, batch=parsed.batch, created=parsed.created,
                          settings=Settings.from_dict(parsed.settings), videos=parsed.videos,
                          rejected=parsed.rejected, limiter=parsed.limiter, meta=parsed.meta,
                          seq=parsed.seq, lock=lock, gen=parsed.gen, pages=parsed.pages,
                          rejected_page=parsed.rejected_page)
            session._replay(journal)
            session._check_limiter_sidecar()
            try:
                session._journal.open(keep_bytes=journal.good_size)
            except OSError as exc:
                raise disk_error("open", journal_path(path), exc) from exc
            if parsed.version < VERSION:
                session._migrate()
            else:
                remove_unlisted(pages_dir(path), session._listed())   # a crashed checkpoint's pages
        except BaseException:
            lock.release()
            raise
        return session

    def _migrate(self) -> None:
        """Rewrite a version 1 session (one TOML holding every video) as a head and pages, then drop
        its parse cache. Until the new head's rename the old file is the session, so a crash here
        only means migrating again. Raises SessionError."""
        self._dirty = set(range(self._page_count()))
        self._rejected_count = -1
        try:
            self._write_snapshot(self._snapshot(rows_now=False))
        except OSError as exc:
            self._journal.close()
            raise disk_error("rewrite (format version 2)", self.path, exc) from exc
        except SessionError as exc:   # state TOML cannot hold (a forged parse cache): the old file and journal stay
            self.warnings.append(f"the session could not be rewritten in the new format ({exc}); "
                                 "its old file and journal stay as they are")
            return
        try:
            parse_cache_path(self.path).unlink(missing_ok=True)
        except OSError:
            pass

    def _page_count(self) -> int:
        return -(-len(self.videos) // PAGE_SIZE)

    def _listed(self) -> list[str]:
        return [p.file for p in self._pages] + ([self._rejected_page.file] if self._rejected_page else [])

    def _replay(self, journal: JournalRead) -> None:
        problems = journal.problems()
        if problems:   # said once, whatever was skipped; a copy kept unless it was only a crash's tail
            kept = f"; {keep_copy(self._journal.path)}" if journal.damaged else ""
            self.warnings.append(f"the journal {self._journal.path} had {problems}: skipped{kept}")
        for rec in journal.records:
            self._seq = max(self._seq, rec["seq"])
            if rec["seq"] <= self._folded:
                continue  # already in the TOML: a crash hit between the rename and the truncation
            at = self._index.get(rec["key"])
            if at is None and rec.get("add"):
                try:
                    video = row_to_video({**rec["set"], "key": rec["key"]})
                except (ValueError, TypeError) as exc:
                    self.warnings.append(f"journal record {rec['seq']} adds a bad video ({exc}) (skipped)")
                    continue
                self._append(video)
                continue
            video = self.videos[at] if at is not None else None
            if video is None:
                self.warnings.append(f"journal record {rec['seq']} names an unknown video {rec['key']!r} (skipped)")
                continue
            try:
                apply_set(video, rec["set"])
            except ValueError as exc:
                self.warnings.append(f"journal record {rec['seq']} has a bad value ({exc}) (skipped)")
                continue
            self._dirty.add(at // PAGE_SIZE)

    def _append(self, video: Video) -> None:
        self._index[video.key] = len(self.videos)
        self._dirty.add(len(self.videos) // PAGE_SIZE)
        self.videos.append(video)

    def _check_limiter_sidecar(self) -> None:
        """A damaged rate-limit sidecar is kept aside and said once; the engine then starts from
        the session's own copy (best effort either way: deAPI's 429s are obeyed regardless)."""
        why = limiter_state_problem(self.path)
        if why:
            kept = keep_copy(limiter_path(self.path))
            self.warnings.append(f"the rate-limit state {limiter_path(self.path)} is damaged: {why}; {kept}; "
                                 "the session's own copy of it is used")

    @staticmethod
    def peek_settings(path: Path | str) -> Settings:
        """A session's settings without opening (or locking) it.

        Raises SessionError only: the file is missing or unreadable, written by a newer
        version, or damaged (then with the same message and kept copy as `open`)."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise SessionError(f"There is no session at {path}.") from None
        except OSError as exc:
            raise SessionError(f"Cannot read the session {path} ({exc}). Check the path, or start a new run.") from None
        try:
            return Settings.from_dict(read_settings(data))
        except NewerVersion as exc:
            raise SessionError(f"The session {path} cannot be resumed: {exc}.") from None
        except ValueError as exc:
            raise damaged_error(path, str(exc)) from None

    def add_videos(self, videos: Iterable[Video]) -> list[Video]:
        """Append new videos (lines added to the batch file, a playlist expanded while the batch
        runs); keys already here are skipped. Each is journalled (an ``add`` record with the whole
        row), so it is durable with the next commit: `await flush()` before anything is paid for
        it. Returns the videos added. Raises SessionError if the session is closed."""
        added: list[Video] = []
        for v in videos:
            if v.key in self._index:
                continue
            if self._closed:
                raise SessionError(f"The session {self.path} is closed.")
            self._append(v)
            row = video_to_row(v)
            self._seq += 1
            self.commits.add({"seq": self._seq, "key": v.key, "set": {k: x for k, x in row.items() if k != "key"},
                              "add": True})
            added.append(v)
        return added

    # -- reading ------------------------------------------------------------------------
    @property
    def positions(self) -> Mapping[str, int]:
        """Each video's position in `videos`, by key: the session's own map (kept up to date as
        videos are added), shared rather than copied; read it, never change it."""
        return self._index

    def by_key(self, key: str) -> Video:
        """The session's Video with this key. Raises KeyError."""
        return self.videos[self._index[key]]

    def summary(self) -> dict[str, Any]:
        """Counts for the resume prompt: ``total``, ``rejected``, one count per state value,
        ``in_doubt`` (possibly paid, answer never recorded) and ``finished`` (all terminal)."""
        counts = Counter(v.state for v in self.videos)
        out: dict[str, Any] = {"total": len(self.videos), "rejected": len(self.rejected)}
        out.update({s.value: counts.get(s, 0) for s in VideoState})
        out["in_doubt"] = sum(1 for v in self.videos if v.possibly_paid and not v.state.terminal)
        out["finished"] = all(v.state.terminal for v in self.videos)
        return out

    # -- recording ----------------------------------------------------------------------
    def _enqueue(self, video: Video, changes: dict[str, Any]) -> Any:
        if self._closed:
            raise SessionError(f"The session {self.path} is closed.")
        at = self._index.get(video.key)
        if at is None or self.videos[at] is not video:
            raise ValueError(f"{video.key!r} is not one of this session's videos")
        unknown = set(changes) - CHANGEABLE
        if unknown:
            raise ValueError(f"not changeable Video fields: {', '.join(sorted(unknown))}")
        stored = {n: encode_value(n, v) for n, v in changes.items()}
        decoded = {n: decode_value(n, v) for n, v in stored.items()}  # validates before anything changes
        for n, v in decoded.items():
            setattr(video, n, v)
        if not stored:
            return self.commits.current
        self._seq += 1
        self._dirty.add(at // PAGE_SIZE)
        return self.commits.add({"seq": self._seq, "key": video.key, "set": stored})

    async def record(self, video: Video, **changes: Any) -> None:
        """Apply `changes` to `video` and return once they are durable (journal appended and fsynced).

        Concurrent callers share one write. Raises ValueError for an unknown field or a bad
        value (nothing is changed), SessionError if the session is closed or the write failed
        (the change stays applied in memory and the next commit or checkpoint retries it by
        rewriting the TOML, but it is not known to be on disk: stop doing irreversible work).
        Cancelling the caller does not cancel the write.
        """
        await self.commits.wait(self._enqueue(video, changes))

    def record_nowait(self, video: Video, **changes: Any) -> None:
        """Apply `changes` in memory and queue them for the next commit (at most `idle_flush`
        later while `running`). For changes that may be lost in a crash (poll counts, titles).
        Raises ValueError / SessionError as `record` does before writing."""
        self._enqueue(video, changes)

    async def flush(self) -> None:
        """Make every change queued so far durable. Raises SessionError as `record` does."""
        if self.commits.current.records:
            await self.commits.wait(self.commits.current)

    async def _write_records(self, records: list[dict[str, Any]]) -> None:
        if self._need_fold:
            await self._fold()  # everything in memory, these records included
            return
        try:
            await anyio.to_thread.run_sync(self._journal.append, records)
        except OSError as exc:
            self._need_fold = True
            raise disk_error("write", self._journal.path, exc) from exc

    # -- checkpoints ----------------------------------------------------------------------
    def _page_rows(self, i: int) -> list[dict[str, Any]]:
        return [video_to_row(v) for v in self.videos[i * PAGE_SIZE : (i + 1) * PAGE_SIZE]]

    def _snapshot(self, *, rows_now: bool = True) -> _Snapshot:
        """On the event loop (the videos do not change under it): the rows of the changed pages only.
        `rows_now=False` leaves them to the writer, page by page (a new session's 100 pages of rows
        at once would be its peak of memory); only for a session no one else can change yet."""
        dirty, self._dirty = self._dirty, set()
        pages = {i: self._page_rows(i) if rows_now else None for i in sorted(dirty)}
        rejected = None
        if len(self.rejected) != self._rejected_count:
            rejected = [{"line": r.line, "raw": r.raw, "reason": r.reason, "category": r.category} for r in self.rejected]
        gen = self._gen + 1 if pages or rejected is not None else self._gen
        header = {
            "version": VERSION, "batch": self.batch, "created": self.created, "seq": self._seq, "gen": gen,
            "saved": time.time(), "settings": clean_settings(self.settings.to_dict()),
            "limiter": copy.deepcopy(self.limiter), "meta": copy.deepcopy(self.meta),
        }
        counts = Counter(v.state.value for v in self.videos)
        return _Snapshot(self._seq, gen, header, {"total": len(self.videos), **counts}, pages, rejected,
                         len(self.rejected))

    def _write_snapshot(self, snap: _Snapshot) -> None:
        """Sync: write the changed pages (new files), then the head atomically, then empty the
        journal and remove the superseded pages. Raises OSError, or SessionError for unstorable
        state; the pages it did not write stay marked for the next checkpoint."""
        try:
            self._write_pages_and_head(snap)
        except BaseException:
            self._dirty.update(snap.pages)
            raise
        self._journal.truncate()
        self._folded = snap.seq
        self._need_fold = False
        remove_unlisted(pages_dir(self.path), self._listed())

    def _write_pages_and_head(self, snap: _Snapshot) -> None:
        folder = pages_dir(self.path)
        pages = list(self._pages)
        rejected_page = self._rejected_page
        try:
            for i, rows in snap.pages.items():
                ref = write_page(folder, page_name(i, snap.gen), self._page_rows(i) if rows is None else rows)
                if i < len(pages):
                    pages[i] = ref
                else:
                    pages.append(ref)
            if snap.rejected is not None:
                rejected_page = write_page(folder, rejected_name(snap.gen), snap.rejected)
            data = dump_head(snap.header, snap.counts, rejected_page, pages)
        except (TypeError, ValueError) as exc:
            raise SessionError(f"The session state cannot be stored ({exc}); this is a bug.", "internal") from exc
        atomic_write_bytes(self.path, data, mode=PRIVATE)
        self._pages, self._rejected_page, self._gen = pages, rejected_page, snap.gen
        self._rejected_count = snap.rejected_count

    async def _fold(self) -> None:
        snap = self._snapshot()
        try:
            await anyio.to_thread.run_sync(self._write_snapshot, snap)
        except OSError as exc:
            raise disk_error("write", self.path, exc) from exc

    async def checkpoint(self) -> None:
        """Rewrite the TOML with everything in memory and empty the journal.

        Atomic at every step (temp file, fsync, rename, directory fsync, then truncate).
        Runs in a thread; shielded from cancellation once started. Raises SessionError
        (category ``disk``) on a write failure; the previous TOML and the journal are then intact.
        """
        if self._closed:
            raise SessionError(f"The session {self.path} is closed.")
        async with self.commits.lock:
            with anyio.CancelScope(shield=True):
                await self._fold()

    # -- lifetime -------------------------------------------------------------------------
    def _final_write(self, snap: _Snapshot, records: list[dict[str, Any]]) -> str:
        """Sync (any thread): fold; if that fails, at least journal the pending records.
        Returns a note when the fold failed but nothing was lost; raises SessionError if changes may be lost."""
        try:
            self._write_snapshot(snap)
            return ""
        except (OSError, SessionError) as fold_exc:
            try:
                if records:
                    self._journal.append(records)
                if self._need_fold:
                    raise OSError("changes from an earlier failed write never reached the disk")
            except OSError as exc:
                raise disk_error("save", self.path, exc) from fold_exc
            return f"the final checkpoint failed ({fold_exc}); the journal will be replayed on resume"

    async def _final_save(self) -> None:
        """On the event loop, under the commit lock: snapshot here (never in a thread), write in a thread."""
        group, snap = self.commits.take(), self._snapshot()
        try:
            note = await anyio.to_thread.run_sync(self._final_write, snap, group.records)
        except SessionError as exc:
            group.finish(exc)
            raise
        group.finish()
        if note:
            self.warnings.append(note)

    def _shutdown(self) -> None:
        self._closed = True
        leftover = self.commits.take()  # only records that raced the final save; never left hanging
        if leftover.records:
            leftover.finish(SessionError(f"The session {self.path} closed before this change was saved."))
        try:
            self._journal.close()
        finally:
            self._lock.release()

    def close(self) -> None:
        """Sync close for non-async callers: final checkpoint, then release the lock (idempotent).

        Do not call it while `running()` is active. Raises SessionError only if changes may
        have been lost; the lock is released either way.
        """
        if self._closed:
            return
        self._closed = True
        group, snap = self.commits.take(), self._snapshot()
        try:
            note = self._final_write(snap, group.records)
        except SessionError as exc:
            group.finish(exc)
            raise
        finally:
            self._shutdown()
        group.finish()
        if note:
            self.warnings.append(note)

    @asynccontextmanager
    async def running(self) -> AsyncIterator["Session"]:
        """Run the group-commit writer for the block; on exit (error and cancellation included)
        flush, checkpoint and release the lock, shielded and limited to `close_timeout`.

        An exception from the block propagates unchanged. Raises SessionError on exit only
        if changes may have been lost (and no other exception is propagating).
        """
        body_exc: Exception | None = None
        final_exc: SessionError | None = None
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(self.commits.run)
                try:
                    yield self
                except Exception as exc:  # re-raised below, outside the task group, unwrapped
                    body_exc = exc
                finally:
                    self._closed = True  # from here on a new change is refused, never silently dropped
                    with anyio.CancelScope(shield=True), anyio.move_on_after(self.close_timeout):
                        async with self.commits.lock:
                            try:
                                await self._final_save()
                            except SessionError as exc:
                                final_exc = exc
                    tg.cancel_scope.cancel()
        finally:
            self._shutdown()
        if body_exc is not None:
            raise body_exc
        if final_exc is not None:
            raise final_exc

    async def __aenter__(self) -> "Session":
        self._stack = AsyncExitStack()
        return await self._stack.enter_async_context(self.running())

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        return await self._stack.__aexit__(*exc_info)
