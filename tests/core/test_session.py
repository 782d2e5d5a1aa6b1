"""Session files: round trips, durability of `record`, crash safety of checkpoints, locking."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import anyio
import pytest

from bulk_transcribe.core.errors import SessionError, SessionLocked
from bulk_transcribe.core.model import Video, VideoState
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.store import atomic, journal
from bulk_transcribe.core.store.session import RejectedLine, Session, list_sessions


@pytest.fixture
def anyio_backend():
    return "asyncio"


def videos(n: int = 3) -> list[Video]:
    return [Video(key=f"youtube:v{i:09d}", url=f"https://youtu.be/v{i:09d}", vid=f"v{i:09d}", line=i + 1)
            for i in range(n)]


def new(tmp_path: Path, n: int = 3, **kw) -> Session:
    return Session.create(tmp_path / "s.toml", batch="links.txt", settings=Settings(), videos=videos(n), **kw)


def crash(session: Session) -> None:
    """What a kill leaves behind: no final checkpoint; the OS closes the files and drops the lock."""
    session._journal.close()
    session._lock.release()
    session._closed = True


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


# -- round trip and format ----------------------------------------------------------------
def test_create_then_open_round_trips_everything(tmp_path):
    vs = videos(2)
    vs[0].title, vs[0].duration, vs[0].outputs = 'He said "hi": ok', 61.5, ["a.txt"]
    settings = Settings(concurrency=7, formats=("txt", "md"), lang="de")
    rejected = [RejectedLine(3, "not a url", "unsupported URL"), RejectedLine(4, "dup", "duplicate of line 1", "duplicate")]
    s = Session.create(tmp_path / "s.toml", batch="/data/links.txt", settings=settings, videos=vs, rejected=rejected)
    s.limiter["submit"] = [1.5, 2.5]
    s.meta["note"] = "x"
    s.close()

    back = Session.open(tmp_path / "s.toml")
    assert back.videos == vs
    assert back.settings == settings
    assert back.rejected == rejected
    assert (back.batch, back.created) == ("/data/links.txt", s.created)
    assert back.limiter == {"submit": [1.5, 2.5]} and back.meta == {"note": "x"}
    back.close()


def stored(path) -> dict:
    """The head as written, with ``videos`` added: the rows of the pages it names, in order."""
    doc = tomllib.loads(path.read_text())
    folder = path.with_name(path.name + ".pages")
    doc["videos"] = [json.loads(line) for p in doc["pages"] for line in (folder / p["file"]).read_text().splitlines()]
    return doc


def test_toml_is_versioned_small_and_keyless(tmp_path):
    s = new(tmp_path, 2)
    s.close()
    doc = stored(tmp_path / "s.toml")
    assert doc["version"] == 2 and doc["seq"] == 0 and doc["batch"] == "links.txt"
    assert "api_key" not in doc["settings"] and doc["settings"]["formats"] == ["txt"]
    # defaults (state "queued", zero counts, empty text) are omitted to keep 10k sessions small
    assert doc["videos"][0] == {"key": "youtube:v000000000", "url": "https://youtu.be/v000000000",
                                "vid": "v000000000", "line": 1}


# -- durability of record ---------------------------------------------------------------
@pytest.mark.anyio
async def test_record_is_on_disk_when_it_returns(tmp_path):
    s = new(tmp_path)
    v = s.videos[1]
    await s.record(v, state=VideoState.SUBMITTED, request_id="req-1", attempts=1, possibly_paid=True)
    assert v.state is VideoState.SUBMITTED  # applied in memory too
    crash(s)

    back = Session.open(tmp_path / "s.toml")
    got = back.by_key(v.key)
    assert (got.state, got.request_id, got.attempts, got.possibly_paid) == (VideoState.SUBMITTED, "req-1", 1, True)
    back.close()


@pytest.mark.anyio
async def test_concurrent_records_share_one_fsync(tmp_path, monkeypatch):
    s = new(tmp_path, 50)
    appends = []
    real = journal.Journal.append
    monkeypatch.setattr(journal.Journal, "append", lambda self, recs: (appends.append(len(recs)), real(self, recs))[1])
    async with s.running():
        async with anyio.create_task_group() as tg:
            for v in s.videos:
                tg.start_soon(lambda v=v: s.record(v, polls=3))
    assert sum(appends) == 50 and len(appends) <= 3


@pytest.mark.anyio
async def test_torn_last_line_is_ignored_and_cut_off(tmp_path):
    s = new(tmp_path)
    await s.record(s.videos[0], request_id="r0")
    crash(s)
    jpath = tmp_path / "s.toml.journal"
    with open(jpath, "ab") as f:
        f.write(b'{"seq": 2, "key": "youtube:v000000001", "set": {"request_')  # died mid-append

    s = Session.open(tmp_path / "s.toml")
    assert s.by_key("youtube:v000000000").request_id == "r0"
    assert s.by_key("youtube:v000000001").request_id == ""
    await s.record(s.videos[2], request_id="r2")  # must not glue onto the torn half line
    crash(s)
    assert all(json.loads(line) for line in jpath.read_text().splitlines())

    s = Session.open(tmp_path / "s.toml")
    assert [v.request_id for v in s.videos] == ["r0", "", "r2"]
    assert not s.warnings
    s.close()


@pytest.mark.anyio
async def test_record_nowait_reaches_disk_at_close_and_bad_changes_are_refused(tmp_path):
    s = new(tmp_path)
    s.record_nowait(s.videos[0], polls=7, title="T")
    with pytest.raises(ValueError):
        await s.record(s.videos[0], nonsense=1)
    with pytest.raises(ValueError):
        await s.record(s.videos[0], attempts="three")
    with pytest.raises(ValueError):
        await s.record(Video(key="youtube:v000000000", url="u", vid="v"), polls=1)  # not the session's object
    assert s.videos[0].attempts == 0
    s.close()
    back = Session.open(tmp_path / "s.toml")
    assert (back.videos[0].polls, back.videos[0].title) == (7, "T")
    back.close()


@pytest.mark.anyio
async def test_a_closed_session_refuses_changes(tmp_path):
    s = new(tmp_path)
    s.close()
    s.close()  # idempotent
    with pytest.raises(SessionError, match="closed"):
        await s.record(s.videos[0], polls=1)
    with pytest.raises(SessionError, match="closed"):
        await s.checkpoint()


def test_close_keeps_pending_changes_in_the_journal_when_the_checkpoint_fails(tmp_path, monkeypatch):
    s = new(tmp_path)
    s.record_nowait(s.videos[0], request_id="late")
    with monkeypatch.context() as m:
        m.setattr(os, "replace", _fail)
        s.close()  # nothing lost, so no error: the journal has it
    assert "journal will be replayed" in s.warnings[0]
    back = Session.open(tmp_path / "s.toml")
    assert back.videos[0].request_id == "late"
    back.close()


# -- checkpoints: crash and failure at every step -----------------------------------------
@pytest.mark.anyio
async def test_checkpoint_folds_and_empties_the_journal(tmp_path):
    s = new(tmp_path)
    await s.record(s.videos[0], state=VideoState.DONE, outputs=["x.txt"])
    assert (tmp_path / "s.toml.journal").stat().st_size > 0
    await s.checkpoint()
    assert (tmp_path / "s.toml.journal").stat().st_size == 0
    doc = stored(tmp_path / "s.toml")
    assert doc["seq"] == 1 and doc["videos"][0]["state"] == "done"
    s.close()


def _fail(*_a, **_k):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.anyio
@pytest.mark.parametrize("step", ["write", "fsync", "replace", "fsync_dir", "truncate"])
async def test_a_failure_at_any_checkpoint_step_keeps_a_loadable_session(tmp_path, monkeypatch, step):
    s = new(tmp_path)
    await s.record(s.videos[0], state=VideoState.SUBMITTED, request_id="req-0")
    before = (tmp_path / "s.toml").read_bytes()
    with monkeypatch.context() as m:
        target = {"write": (os, "write"), "fsync": (os, "fsync"), "replace": (os, "replace"),
                  "fsync_dir": (atomic, "fsync_dir"), "truncate": (journal.Journal, "truncate")}[step]
        m.setattr(*target, _fail)
        with pytest.raises(SessionError) as info:
            await s.checkpoint()
    assert info.value.category == "disk" and "disk is full" in str(info.value)
    assert leftovers(tmp_path) == []
    if step in ("write", "fsync", "replace"):
        assert (tmp_path / "s.toml").read_bytes() == before  # the old file, untouched
    crash(s)

    back = Session.open(tmp_path / "s.toml")  # old TOML + journal, or new TOML (+ skipped journal)
    assert back.videos[0].request_id == "req-0" and back.videos[0].state is VideoState.SUBMITTED
    back.close()


@pytest.mark.anyio
async def test_disk_full_during_record_raises_then_recovers(tmp_path, monkeypatch):
    s = new(tmp_path)
    await s.record(s.videos[0], request_id="a")
    jpath = tmp_path / "s.toml.journal"
    size = jpath.stat().st_size
    with monkeypatch.context() as m:
        m.setattr(os, "fsync", _fail)
        with pytest.raises(SessionError) as info:
            await s.record(s.videos[1], request_id="b")
    assert info.value.category == "disk"
    assert jpath.stat().st_size == size  # the failed append was cut back
    await s.record(s.videos[2], request_id="c")  # space is back: this commit rewrites the TOML
    crash(s)
    back = Session.open(tmp_path / "s.toml")
    assert [v.request_id for v in back.videos] == ["a", "b", "c"]
    back.close()


def test_atomic_write_keeps_old_content_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    atomic.atomic_write_text(target, "old")
    for name in ("write", "fsync", "replace"):
        with monkeypatch.context() as m:
            m.setattr(os, name, _fail)
            with pytest.raises(OSError):
                atomic.atomic_write_text(target, "new")
        assert target.read_text() == "old" and leftovers(tmp_path) == []
    atomic.atomic_write_text(target, "new")
    assert target.read_text() == "new"


# -- damaged and foreign files ------------------------------------------------------------
def test_corrupt_toml_is_reported_and_kept(tmp_path):
    new(tmp_path).close()
    path = tmp_path / "s.toml"
    path.write_bytes(b"version = 1\n[[videos]\nkey = ")
    for _ in range(2):  # the lock is released after the failure: the second try fails the same way
        with pytest.raises(SessionError) as info:
            Session.open(path)
        message = str(info.value)
        assert str(path) in message and "damaged" in message and "move" in message
    assert path.read_bytes() == b"version = 1\n[[videos]\nkey = "
    copies = sorted(tmp_path.glob("s.toml.corrupt-*"))
    assert len(copies) == 2 and all(c.read_bytes() == path.read_bytes() for c in copies)


def test_newer_version_and_missing_and_existing(tmp_path):
    (tmp_path / "n.toml").write_text("version = 3\n")
    with pytest.raises(SessionError, match="newer"):
        Session.open(tmp_path / "n.toml")
    assert not list(tmp_path.glob("*.corrupt-*"))
    with pytest.raises(SessionError, match="no session"):
        Session.open(tmp_path / "missing.toml")
    new(tmp_path).close()
    with pytest.raises(SessionError, match="already exists"):
        new(tmp_path)


# -- locking -----------------------------------------------------------------------------
def test_second_open_in_this_process_is_refused(tmp_path):
    s = new(tmp_path)
    with pytest.raises(SessionLocked, match="already open in this process"):
        Session.open(tmp_path / "s.toml")
    s.close()
    Session.open(tmp_path / "s.toml").close()
    assert (tmp_path / "s.toml.lock").exists()  # never deleted


HOLDER = textwrap.dedent("""
    import sys, time, anyio
    from bulk_transcribe.core.model import Video
    from bulk_transcribe.core.store.session import Session
    from bulk_transcribe.core.settings import Settings
    s = Session.create(sys.argv[1], batch="b", settings=Settings(),
                       videos=[Video(key="k", url="https://x/k", vid="k")])
    anyio.run(lambda: s.record(s.videos[0], request_id="req-before-kill", possibly_paid=True))
    print("recorded", flush=True)
    time.sleep(60)
""")


@pytest.mark.slow
def test_lock_names_the_holder_and_frees_itself_when_the_holder_is_killed(tmp_path):
    path = tmp_path / "s.toml"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "recorded"
        with pytest.raises(SessionLocked) as info:
            Session.open(path)
        assert f"pid {proc.pid}" in str(info.value) and "in use" in str(info.value)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    s = Session.open(path)
    assert s.videos[0].request_id == "req-before-kill" and s.videos[0].possibly_paid
    s.close()


# -- lifetime -------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_running_saves_on_cancellation_and_releases_the_lock(tmp_path):
    s = new(tmp_path)
    with anyio.move_on_after(0.05):
        async with s.running():
            await s.record(s.videos[0], state=VideoState.DONE)
            s.record_nowait(s.videos[1], polls=2)
            await anyio.sleep_forever()
    doc = stored(tmp_path / "s.toml")
    assert doc["videos"][0]["state"] == "done" and doc["videos"][1]["polls"] == 2
    assert (tmp_path / "s.toml.journal").stat().st_size == 0
    Session.open(tmp_path / "s.toml").close()


@pytest.mark.anyio
async def test_an_error_in_the_block_propagates_unwrapped(tmp_path):
    s = new(tmp_path)
    with pytest.raises(KeyError):
        async with s:
            await s.record(s.videos[0], attempts=1)
            raise KeyError("boom")
    back = Session.open(tmp_path / "s.toml")
    assert back.videos[0].attempts == 1
    back.close()


@pytest.mark.anyio
async def test_ten_thousand_videos(tmp_path):
    s = new(tmp_path, 10_000)
    async with s.running():
        async with anyio.create_task_group() as tg:
            for v in s.videos:
                tg.start_soon(lambda v=v: s.record(v, state=VideoState.SUBMITTED, request_id="r" + v.vid, attempts=1))
        await s.checkpoint()
    size = (tmp_path / "s.toml").stat().st_size
    assert size < 250 * 10_000
    back = Session.open(tmp_path / "s.toml")
    assert back.summary()["submitted"] == 10_000 and back.summary()["total"] == 10_000
    back.close()


# -- listing ---------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_list_sessions_counts_the_journal_and_reports_unreadable_files(tmp_path):
    a = Session.create(tmp_path / "a.toml", batch="a.txt", settings=Settings(), videos=videos(2))
    await a.record(a.videos[0], state=VideoState.DONE)
    await a.record(a.videos[1], state=VideoState.FAILED)
    crash(a)  # only the journal knows
    b = Session.create(tmp_path / "b.toml", batch="b.txt", settings=Settings(), videos=videos(3))
    (tmp_path / "broken.toml").write_text("this is = = not toml")

    infos = list_sessions(tmp_path)
    assert [i.path.name for i in infos] == ["b.toml", "a.toml", "broken.toml"]
    ia, ib, broken = infos[1], infos[0], infos[2]
    assert (ia.total, ia.done, ia.failed, ia.finished) == (2, 1, 1, True)
    assert (ib.total, ib.done, ib.finished, ib.batch) == (3, 0, False, "b.txt")
    assert not broken.readable and "TOML" in broken.error
    assert list_sessions(tmp_path / "nope") == []
    b.close()


def test_a_batch_maps_to_one_session_and_two_same_named_batches_to_two(tmp_path):
    from bulk_transcribe.core.paths import session_path_for, sessions_dir

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    p = session_path_for(tmp_path / "a" / "links.txt")
    assert p == session_path_for(tmp_path / "a" / ".." / "a" / "links.txt")
    assert p != session_path_for(tmp_path / "b" / "links.txt")
    assert p.parent == sessions_dir() and p.name.startswith("links-") and p.suffix == ".toml"


def test_new_folders_are_synced_in_their_parents(tmp_path, monkeypatch):
    """SQLite's rule: a new directory entry is durable only once the folder holding it is fsynced.
    The sessions folder, the output folder and the report's folder are created that way."""
    from bulk_transcribe.core.output.report import write_report
    from bulk_transcribe.core.output.transcripts import write_outputs
    from bulk_transcribe.core.transcript import Transcript

    synced: list[Path] = []
    real = atomic.fsync_dir
    monkeypatch.setattr(atomic, "fsync_dir", lambda d: (synced.append(Path(d)), real(d))[1])

    atomic.ensure_dir(tmp_path / "a" / "b" / "c")
    assert synced == [tmp_path, tmp_path / "a", tmp_path / "a" / "b"]
    synced.clear()
    atomic.ensure_dir(tmp_path / "a" / "b" / "c")
    assert synced == [], "an existing folder costs nothing"

    s = Session.create(tmp_path / "data" / "sessions" / "s.toml", batch="b", settings=Settings(), videos=videos(1))
    assert {tmp_path, tmp_path / "data"} <= set(synced)
    synced.clear()
    write_outputs(tmp_path / "out" / "new", s.videos[0], Transcript(text="hi"), ("txt",), "{id}")
    assert {tmp_path, tmp_path / "out"} <= set(synced)
    synced.clear()
    write_report(tmp_path / "reports" / "r.csv", s)
    assert tmp_path in synced
    s.close()


CRASHING_WRITER = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from bulk_transcribe.core.store import atomic
    real_replace = os.replace
    def die(src, dst):   # killed between writing the temp file and renaming it
        os.kill(os.getpid(), 9)
    os.replace = die
    target = Path(sys.argv[1])
    atomic.atomic_write_bytes(target if sys.argv[2] == "toml" else Path(f"{target}.limiter.json"), b"x" * 1000)
""")


def test_temp_files_left_by_a_kill_are_removed_when_the_session_opens(tmp_path):
    path = tmp_path / "s.toml"
    new(tmp_path).close()
    for which in ("toml", "limiter"):
        proc = subprocess.run([sys.executable, "-c", CRASHING_WRITER, str(path), which])
        assert proc.returncode == -signal.SIGKILL
    debris = leftovers(tmp_path)
    assert len(debris) == 2 and any(".s.toml.limiter.json." in d for d in debris)
    other = tmp_path / f".unrelated.txt.{os.getpid()}.1.tmp"
    other.write_text("someone else's")
    Session.open(path).close()
    assert leftovers(tmp_path) == [other.name], "only this session's own debris goes"


def test_sweep_without_the_lock_spares_live_and_recent_writers(tmp_path):
    live = tmp_path / f".a.txt.{os.getpid()}.1.tmp"
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout.strip()
    dead_old, dead_new = tmp_path / f".b.txt.{dead_pid}.1.tmp", tmp_path / f".c.txt.{dead_pid}.2.tmp"
    for p in (live, dead_old, dead_new):
        p.write_text("x")
    os.utime(live, (1, 1))
    os.utime(dead_old, (1, 1))
    assert atomic.sweep_temp_files(tmp_path) == [dead_old]
    assert sorted(leftovers(tmp_path)) == sorted([live.name, dead_new.name])


@pytest.mark.anyio
async def test_every_file_of_a_session_is_private_like_the_config(tmp_path):
    """The session, its journal, lock, parse cache and limiter state hold titles and request ids:
    0600, as the config file is; an older session's 0644 files are tightened when written again."""
    import stat

    from bulk_transcribe.core.store.limiter_state import save_limiter_state

    def modes() -> dict[str, int]:
        return {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir() if p.is_file()}

    s = new(tmp_path)
    await s.record(s.videos[0], state=VideoState.DONE, request_id="r-1")
    await s.checkpoint()
    save_limiter_state(s.path, {"buckets": {}})
    s.close()
    assert len(modes()) >= 4 and set(modes().values()) == {0o600}, modes()
    for p in tmp_path.iterdir():
        p.chmod(0o644)   # as an older version left them
    s = Session.open(tmp_path / "s.toml")
    await s.record(s.videos[1], state=VideoState.DONE, request_id="r-2")
    await s.checkpoint()
    save_limiter_state(s.path, {"buckets": {}})
    s.close()
    assert set(modes().values()) == {0o600}, modes()
