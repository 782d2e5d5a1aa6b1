"""An upload's walk: download the audio -> cut it under the cap -> submit each piece -> follow
each -> stitch the transcripts -> write the files.

For a video deAPI does not fetch by its URL (a host it does not list), or, with
`--upload-fallback`, a YouTube video whose job failed SOURCE_DOWNLOAD_FAILED twice. The
pieces ("chunks", one when the audio fits the cap) live in `Video.chunks`, and every step
that spends money is recorded there first, as for a whole video (video.py):
- a chunk's submit intent (state "submitting", and the video SUBMITTING) is journalled before
  its upload starts, its request id (state "submitted") before anyone waits on it;
- a chunk whose submit may have reached deAPI and whose answer was lost is "in-doubt": the
  video fails in doubt (possibly paid) and only that chunk is sent again, and only when the user
  says so (`--resubmit-in-doubt`, the app's R); a crash mid-upload leaves it "submitting",
  which the queue treats the same way;
- a resumed video re-attaches to every chunk with a request id and submits only the others.
The audio lives in `<session>.uploads/<video id>/` beside the session and is deleted once the
transcript is written; the chunks are cut at their recorded offsets, so a re-download on resume
gives the same pieces.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from ..deapi.client import to_job_error
from ..errors import Category, DeapiError
from ..events import Activity
from ..media.chunks import ChunkFile, MediaError, chunk_for_upload
from ..model import Method, Video, VideoState
from ..output.preflight import MIN_FREE_BYTES, folder_problem
from ..output.transcripts import write_outputs
from ..sources.download import DownloadStopped, NoRoom, download_audio
from ..sources.expand import SourceFailure
from ..sources.platforms import job_options
from ..transcript import Segment, Transcript
from .captions import take_captions
from .video import (
    SUBMIT_ANSWER_GRACE,
    answered,
    backoff,
    fail,
    fetch_transcript,
    fetchable,
    follow,
    gave_up,
    hold_submits,
    host_of,
    in_doubt,
    job_cost,
    rate_limited,
    server_error,
    submit_turn,
    wait_for_deapi,
)

if TYPE_CHECKING:
    from .context import RunContext

METHOD = Method.DEAPI_UPLOAD.value
DOUBTFUL = ("submitting", "in-doubt")   # a chunk whose submit may have been paid, its id unknown


def wants_upload(v: Video) -> bool:
    """Whether `v` goes the upload way: already on it, or on a host deAPI does not fetch."""
    return bool(v.chunks) or v.method == METHOD or not fetchable(v.url)


def upload_folder(ctx: "RunContext", v: Video) -> Path:
    return upload_folder_of(ctx.session.path, v)


def upload_folder_of(session_path: str | Path, v: Video) -> Path:
    """Where `v`'s downloaded audio and chunks live while it is uploaded: beside the session."""
    session = Path(session_path)
    return session.parent / f"{session.stem}.uploads" / (v.vid or "video")


def _mb(size: float) -> str:
    if size < 1e6:
        return f"{size / 1e3:.0f} KB"
    return f"{size / 1e6:.1f} MB" if size < 10e6 else f"{size / 1e6:.0f} MB"


async def process_upload(ctx: "RunContext", slot: int, v: Video, *, captions_tried: bool = False) -> None:
    """Walk an upload to done or failed (or leave it resumable when the run stops). Its own
    captions come first under --captions first|only (free), unless a chunk already has a job."""
    if not captions_tried and not any(c.get("request_id") for c in v.chunks) and await take_captions(ctx, slot, v):
        return
    folder = upload_folder(ctx, v)
    if any(c.get("state") == "failed" for c in v.chunks):
        # Only a retry the user asked for brings a failed piece back: deAPI's verdict on that job is
        # final and failed jobs are not charged, so the piece gets a new job.
        await ctx.record(v, chunks=[{**c, "state": "queued", "request_id": "", "attempts": 0}
                                    if c.get("state") == "failed" else dict(c) for c in v.chunks])
    chunks = [dict(c) for c in v.chunks]
    to_send = [c for c in chunks if not c.get("request_id")]
    if not chunks or (to_send and not _files_ready(folder, to_send)):
        if ctx.brakes.stopping:
            return
        chunks = await _prepare(ctx, slot, v, folder, chunks)
        if chunks is None:
            return
    # Submit every piece not yet sent, then follow them in order (deAPI works on them meanwhile).
    if not await _submit_all(ctx, slot, v, folder):
        return
    results: list[tuple[dict[str, Any], Transcript]] = []
    for i in range(len(v.chunks)):
        got = await _chunk_result(ctx, slot, v, folder, i)
        if got is None:
            return
        if got == "again":   # deAPI failed that piece's job, retryable: send it again
            return await process_upload(ctx, slot, v, captions_tried=True)
        results.append((v.chunks[i], got))
    await _finish(ctx, slot, v, folder, results)


# -- download and split ------------------------------------------------------------------
def _files_ready(folder: Path, chunks: list[dict[str, Any]]) -> bool:
    for c in chunks:
        path = folder / str(c.get("file", ""))
        if not c.get("file") or not path.is_file() or path.stat().st_size != c.get("size"):
            return False
    return True


async def _prepare(ctx: "RunContext", slot: int, v: Video, folder: Path,
                   planned: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """Download the audio and cut it into pieces under the cap (at the planned offsets on a
    resume); the pieces are recorded durably. None when the video ended (failed) or the run stops."""
    s = ctx.settings
    cap = s.upload_cap_bytes
    if ctx.downloads is None:
        ctx.downloads = anyio.CapacityLimiter(s.download_concurrency)
    if ctx.downloads.available_tokens < 1:
        ctx.reporter.worker_changed(slot, Activity.WAITING_SLOT, v, detail="waiting for a download slot")
    async with ctx.downloads:
        media = folder / "media"
        shutil.rmtree(media, ignore_errors=True)
        seen: list[tuple[int, int | None]] = []
        abort = threading.Event()

        def room(size: int | None) -> str | None:
            need = MIN_FREE_BYTES + 2 * (size or cap)   # the download and its chunks
            return folder_problem(folder, "session folder", min_free=need)

        async def show() -> None:
            while True:
                done, total = seen[-1] if seen else (0, None)
                if total:
                    pct = min(100.0, done * 100.0 / total)
                    ctx.reporter.worker_changed(slot, Activity.DOWNLOADING_AUDIO, v, progress=pct,
                                                detail=f"{pct:.0f} % of {_mb(total)}")
                else:
                    ctx.reporter.worker_changed(slot, Activity.DOWNLOADING_AUDIO, v, detail=_mb(done) if done else "")
                await anyio.sleep(0.5)

        failure: Exception | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(show)
            try:
                got = await anyio.to_thread.run_sync(
                    lambda: download_audio(v.url, media, cap=cap, max_bytes=int(s.max_download_mb * 1e6),
                                           room=room, on_progress=lambda d, t: seen.append((d, t)), abort=abort,
                                           cookies=_cookies(s.cookies), cookies_name=s.cookies),
                    abandon_on_cancel=True)
            except (DownloadStopped, SourceFailure) as exc:   # caught here, not as a task group's error
                failure = exc
            finally:
                abort.set()
                tg.cancel_scope.cancel()
        if isinstance(failure, DownloadStopped):
            return None
        if failure is None and seen:
            done, total = seen[-1]
            ctx.reporter.worker_changed(slot, Activity.DOWNLOADING_AUDIO, v, progress=100.0,
                                        detail=f"100 % of {_mb(total or done)}")
        if failure is not None:
            message = str(failure)
            if isinstance(failure, NoRoom):
                err = DeapiError(Category.DISK, message, retryable=True)
                ctx.reporter.error_logged(v, err, will_retry=False)
                await fail(ctx, v, err)
                ctx.brakes.halt(err)
                return None
            err = DeapiError(Category.SOURCE, f"could not download the audio to upload: {message}", retryable=True)
            ctx.reporter.error_logged(v, err, will_retry=False)
            await fail(ctx, v, err)
            return None
        ctx.reporter.worker_changed(slot, Activity.SPLITTING, v, detail=_mb(got.size))
        # A resumed plan's pieces again; one whole-file piece is simply made again (no cut to match).
        offsets = [float(c["offset"]) for c in planned] if len(planned) > 1 else None
        try:
            pieces = await anyio.to_thread.run_sync(chunk_for_upload, got.path, cap, folder / "chunks", offsets)
        except MediaError as exc:
            err = DeapiError(Category.INPUT, f"the downloaded audio cannot be uploaded: {exc}", retryable=False)
            ctx.reporter.error_logged(v, err, will_retry=False)
            await fail(ctx, v, err)
            return None
    chunks = _plan(folder, pieces, planned)
    changes: dict[str, Any] = {"chunks": chunks}
    if v.duration is None and (got.duration or sum(p.seconds for p in pieces)):
        changes["duration"] = got.duration or round(sum(p.seconds for p in pieces), 3)
    if not v.title and got.title:
        changes["title"] = got.title
    await ctx.record(v, **changes)
    if len(chunks) > 1 and not planned:
        ctx.reporter.notice("info", f"{v.label}: {_mb(got.size)} of audio is over the {_mb(cap)} upload cap: "
                                    f"uploading it in {len(chunks)} chunks")
    return chunks


def _plan(folder: Path, pieces: list[ChunkFile], planned: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chunk tables for `pieces`, keeping what a resumed plan knew of each (request ids, states)."""
    out = []
    for i, p in enumerate(pieces):
        old = planned[i] if i < len(planned) else {}
        path = Path(p.path)
        out.append({**old, "i": i, "offset": p.offset, "seconds": p.seconds, "size": p.size,
                    "file": str(path.relative_to(folder)) if path.is_relative_to(folder) else str(path),
                    "type": p.content_type, "state": old.get("state", "queued"),
                    "attempts": old.get("attempts", 0)})
    return out


def _cookies(path: str) -> bytes | None:
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


# -- submit ------------------------------------------------------------------------------
async def _set_chunk(ctx: "RunContext", v: Video, i: int, *, durable: bool = True, video: dict | None = None,
                     **changes: Any) -> None:
    chunks = [dict(c) for c in v.chunks]
    chunks[i].update(changes)
    await ctx.record(v, durable=durable, chunks=chunks, **(video or {}))


async def _submit_all(ctx: "RunContext", slot: int, v: Video, folder: Path) -> bool:
    """Send every chunk without a request id. False when the video ended or must wait for
    another run. The budget is asked once, for the whole video, before its first new submit."""
    first = True
    for i in range(len(v.chunks)):
        if v.chunks[i].get("request_id"):
            continue
        if ctx.settings.captions == "only":   # a guard where money is spent, whatever the caption step decided
            await fail(ctx, v, DeapiError(Category.CAPTIONS, "not submitted: --captions only never pays deAPI",
                                          retryable=False))
            return False
        if first:
            refusal = ctx.budget.refusal(v)
            if refusal:
                category = Category.BUDGET if "max-cost" in refusal else Category.BALANCE
                ctx.brakes.halt(DeapiError(category, refusal))
                return False
            ctx.budget.reserve(v)
            first = False
        if not await _submit_chunk(ctx, slot, v, folder, i):
            return False
    if v.state not in (VideoState.SUBMITTED, VideoState.TRANSCRIBING):
        await ctx.record(v, state=VideoState.SUBMITTED, durable=False)
    return True


async def _submit_chunk(ctx: "RunContext", slot: int, v: Video, folder: Path, i: int) -> bool:
    """One chunk's request id, durably; the money rules of `video.submit`, per chunk."""
    s = ctx.settings
    n = len(v.chunks)
    while True:
        c = v.chunks[i]
        if ctx.brakes.stopping:
            await ctx.record(v, state=VideoState.QUEUED)
            return False
        if c.get("attempts", 0) >= s.max_attempts:
            await fail(ctx, v, gave_up(v, s.max_attempts, f"chunk {i + 1}/{n}: "))
            return False
        if ctx.brakes.paused:
            ctx.reporter.worker_changed(slot, Activity.PAUSED, v, detail="submitting paused")
            await ctx.brakes.wait_unpaused()
            continue
        probe = False
        if ctx.outage.long:
            if not await hold_submits(ctx, slot, v):
                continue   # deAPI still down (or a stop came): nothing was sent
            probe = True
        data = await anyio.to_thread.run_sync((folder / c["file"]).read_bytes)
        gate = ctx.pacing.submit_gate
        token = await gate.enter()
        try:
            if not await submit_turn(ctx, slot, v):
                continue   # a stop came while waiting for the rate limit: nothing was sent
            if ctx.outage.long and not probe:
                continue   # deAPI went down while this one waited its turn: held at the top
            ctx.reporter.worker_changed(slot, Activity.UPLOADING, v, detail=f"chunk {i + 1}/{n}, {_mb(len(data))}"
                                        if n > 1 else _mb(len(data)))
            try:   # intent first: a crash from here on leaves this chunk (and the video) in doubt
                await _set_chunk(ctx, v, i, state="submitting", attempts=c.get("attempts", 0) + 1,
                                 video={"state": VideoState.SUBMITTING, "attempts": v.attempts + 1})
            except anyio.get_cancelled_exc_class():
                chunks = [dict(x) for x in v.chunks]
                chunks[i].update(state="queued", attempts=c.get("attempts", 0))
                ctx.session.record_nowait(v, state=VideoState.QUEUED, attempts=v.attempts - 1, chunks=chunks)
                raise
            with anyio.CancelScope(shield=True):
                request_id, err = await _send(ctx, v, c, data)
                if request_id:
                    await _set_chunk(ctx, v, i, state="submitted", request_id=request_id, submitted_at=time.time(),
                                     video={"state": VideoState.SUBMITTED, "submitted_at": time.time(),
                                            "category": "", "message": "", "method": METHOD})
                    ctx.pacing.on_success()
                    answered(ctx)
                    return True
                assert err is not None
                if err.maybe_created:
                    if err.category is Category.SERVER:   # a 502/504: counted in an outage too
                        server_error(ctx, v, err, log=False)
                    await _set_chunk(ctx, v, i, state="in-doubt")
                    err.message = f"chunk {i + 1}/{n}: {err.message}"
                    await in_doubt(ctx, v, err)
                    return False
        finally:
            gate.leave(token)
        if not await _refused(ctx, slot, v, i, err):
            return False


async def _send(ctx: "RunContext", v: Video, c: dict[str, Any], data: bytes) -> tuple[str, DeapiError | None]:
    """One chunk's upload on the wire, registered with the run like `video._send`."""
    o = job_options(host_of(v.url), ctx.settings)
    wire = anyio.CancelScope(shield=True)
    ctx.on_wire.add(wire)
    try:
        with wire:
            return await ctx.client.submit_file(
                data, filename=Path(c["file"]).name, content_type=c.get("type") or "application/octet-stream",
                model=o.model, include_ts=o.include_ts, lang=o.lang, ts_level=o.ts_level), None
    except DeapiError as exc:
        return "", exc
    finally:
        ctx.on_wire.discard(wire)
    err = DeapiError(Category.NETWORK, f"no answer within {SUBMIT_ANSWER_GRACE:g} s of quitting", retryable=True)
    err.maybe_created = True
    return "", err


async def _refused(ctx: "RunContext", slot: int, v: Video, i: int, err: DeapiError) -> bool:
    """A chunk's submit made no job: True to try again, False when the video ended or must wait."""
    c = v.chunks[i]
    undo = {"state": "queued", "attempts": max(0, c.get("attempts", 1) - 1)}
    back = {"state": VideoState.QUEUED, "attempts": max(0, v.attempts - 1)}
    cat = err.category
    if cat is Category.RATE_LIMITED:   # no job, no attempt
        await _set_chunk(ctx, v, i, durable=False, video=back, **undo)
        rate_limited(ctx, v, "submit", err)
        return True
    if cat in (Category.AUTH, Category.BALANCE):
        await _set_chunk(ctx, v, i, video=back, **undo)
        ctx.reporter.error_logged(v, err, will_retry=False)
        ctx.brakes.halt(err)
        return False
    if cat is Category.NETWORK:        # never left: no attempt
        await _set_chunk(ctx, v, i, durable=False, video={**back, "category": cat.value, "message": err.message},
                         **undo)
        await wait_for_deapi(ctx, slot, v, err)
        return True
    if cat is Category.SERVER and err.retryable and (ctx.outage.long or c.get("attempts", 0) < ctx.settings.max_attempts):
        server_error(ctx, v, err)
        if ctx.outage.long:   # deAPI down for a while: no attempt; the loop holds the chunk (see video.py)
            await _set_chunk(ctx, v, i, video={**back, "category": cat.value, "message": err.message}, **undo)
            return True
    await _set_chunk(ctx, v, i, state="queued", video={"state": VideoState.QUEUED, "category": cat.value,
                                                       "message": err.message})
    if cat is Category.SERVER and err.retryable and c.get("attempts", 0) < ctx.settings.max_attempts:
        await backoff(ctx, slot, v, c.get("attempts", 1), err)
        return True
    if err.retryable and c.get("attempts", 0) < ctx.settings.max_attempts:
        ctx.reporter.error_logged(v, err, will_retry=True)
        await backoff(ctx, slot, v, c.get("attempts", 1), err)
        return True
    if cat is Category.VALIDATION and err.status in (413, 422):
        err = DeapiError(cat, f"{err.message}: deAPI's upload cap may be lower than --upload-max-mb "
                              f"{ctx.settings.upload_max_mb:g}; lower it and resume", status=err.status)
    ctx.reporter.error_logged(v, err, will_retry=False)
    await fail(ctx, v, err)
    return False


# -- follow, fetch, stitch -----------------------------------------------------------------
def _result_path(folder: Path, i: int) -> Path:
    return folder / f"chunk-{i:03d}.result.json"


def _save_result(path: Path, t: Transcript) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"text": t.text, "language": t.language, "raw": t.raw, "segments": [
        [s.start, s.end, s.text, s.speaker] for s in t.segments]}, default=str), encoding="utf-8")
    tmp.replace(path)


def _load_result(path: Path) -> Transcript | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return Transcript(doc["text"], language=doc.get("language", ""), raw=doc.get("raw"),
                          segments=tuple(Segment(float(a), float(b), str(t), str(sp)) for a, b, t, sp in doc["segments"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


async def _chunk_result(ctx: "RunContext", slot: int, v: Video, folder: Path, i: int):
    """Chunk `i`'s transcript (kept beside its audio once fetched, so a resume need not fetch
    it again), "again" when its job failed and may be sent again, None when the video ended."""
    c = v.chunks[i]
    path = _result_path(folder, i)
    if c.get("state") == "done":
        cached = await anyio.to_thread.run_sync(_load_result, path)
        if cached is not None:
            return cached
    job = await follow(ctx, slot, v, request_id=c["request_id"], submitted_at=c.get("submitted_at", 0.0))
    if job is None:
        return None
    if job.status != "done":
        err = to_job_error(job)
        err.request_id = c["request_id"]
        err.message = f"chunk {i + 1}/{len(v.chunks)}: {err.message}"
        if job.refunded is False:   # deAPI kept the charge
            await _paid(ctx, v, i, job)
        if err.retryable and c.get("attempts", 0) < ctx.settings.max_attempts and not ctx.brakes.stopping:
            ctx.reporter.error_logged(v, err, will_retry=True)
            await _set_chunk(ctx, v, i, state="queued", request_id="",
                             video={"state": VideoState.QUEUED, "category": err.category.value, "message": err.message})
            await backoff(ctx, slot, v, c.get("attempts", 1), err)
            return "again"
        ctx.reporter.error_logged(v, err, will_retry=False)
        await _set_chunk(ctx, v, i, state="failed")
        await fail(ctx, v, err)
        return None
    transcript = await fetch_transcript(ctx, slot, v, job)
    if transcript is None:
        return None
    try:
        await anyio.to_thread.run_sync(_save_result, path, transcript)
    except OSError:
        pass   # only a cache: a resume fetches it again by its request id, free
    if c.get("state") != "done":
        await _paid(ctx, v, i, job, state="done")
    return transcript


async def _paid(ctx: "RunContext", v: Video, i: int, job: Any, **more: Any) -> None:
    amount = job.price if job.price is not None else job_cost(job, _as_piece(v, i))
    ctx.budget.paid(v, amount)
    await _set_chunk(ctx, v, i, cost=round(v.chunks[i].get("cost", 0.0) + amount, 8), **more)


def _as_piece(v: Video, i: int) -> Video:
    return Video(key=v.key, url=v.url, vid=v.vid, duration=v.chunks[i].get("seconds") or None)


def stitch(pieces: list[tuple[dict[str, Any], Transcript]]) -> Transcript:
    """One transcript from the chunks' in order: each chunk's segment times shifted by the
    chunk's offset in the original audio, so the times run on across chunks."""
    if len(pieces) == 1:
        return pieces[0][1]
    segments: list[Segment] = []
    texts: list[str] = []
    for c, t in pieces:
        offset = float(c.get("offset", 0.0))
        segments += [Segment(round(s.start + offset, 3), round(s.end + offset, 3), s.text, s.speaker)
                     for s in t.segments]
        if t.text.strip():
            texts.append(t.text.strip())
    language = next((t.language for _, t in pieces if t.language), "")
    raw = {"chunks": [{"offset": c.get("offset", 0.0), "seconds": c.get("seconds"), "request_id": c.get("request_id"),
                       "result": t.raw} for c, t in pieces]}
    return Transcript(" ".join(texts), language=language, segments=tuple(segments), raw=raw)


async def _finish(ctx: "RunContext", slot: int, v: Video, folder: Path,
                  results: list[tuple[dict[str, Any], Transcript]]) -> None:
    s = ctx.settings
    ctx.reporter.worker_changed(slot, Activity.WRITING, v)
    rids = ",".join(str(c.get("request_id", "")) for c, _ in results)
    try:
        outputs = await anyio.to_thread.run_sync(
            write_outputs, Path(s.output_dir), v, stitch(results), tuple(s.formats), s.template)
    except ValueError as exc:
        err = DeapiError(Category.RESULT, f"the result cannot be written as asked: {exc}", retryable=True,
                         request_id=rids)
        ctx.reporter.error_logged(v, err, will_retry=False)
        await fail(ctx, v, err, cost=_chunks_cost(v))
        return
    except OSError as exc:
        err = DeapiError(Category.DISK, f"could not write the transcript: {exc}", retryable=True, request_id=rids)
        ctx.reporter.error_logged(v, err, will_retry=False)
        await fail(ctx, v, err, cost=_chunks_cost(v))
        ctx.brakes.halt(err)
        return
    await ctx.record(v, state=VideoState.DONE, outputs=outputs, finished_at=time.time(), category="", message="",
                     retryable=False, cost=_chunks_cost(v), method=METHOD)
    await anyio.to_thread.run_sync(lambda: shutil.rmtree(folder, ignore_errors=True))
    ctx.throughput.completed(ctx.clock())
    ctx.pacing.on_success()


def _chunks_cost(v: Video) -> float:
    return round(sum(float(c.get("cost", 0.0)) for c in v.chunks), 8)
