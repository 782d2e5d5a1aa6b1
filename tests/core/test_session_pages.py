"""Checkpoints cost what changed (issue 15): a head and pages of videos, only changed pages rewritten.

Asserted on what reaches the disk (which files, how many bytes), never on time.
"""

from __future__ import annotations

import os
import shutil
import stat
import tomllib
from pathlib import Path

import pytest

from bulk_transcribe.core.errors import SessionError
from bulk_transcribe.core.model import Video, VideoState
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.store import session as session_module
from bulk_transcribe.core.store.pages import PAGE_SIZE, pages_dir
from bulk_transcribe.core.store.salvage import salvage
from bulk_transcribe.core.store.session import Session

N = 5 * PAGE_SIZE


def _new(tmp_path: Path, n: int = N) -> Session:
    vs = [Video(key=f"youtube:v{i:09d}", url=f"https://youtu.be/v{i:09d}", vid=f"v{i:09d}", line=i + 1)
          for i in range(n)]
    return Session.create(tmp_path / "s.toml", batch="links.txt", settings=Settings(concurrency=11), videos=vs)


def _files(path: Path) -> dict[str, tuple[int, int]]:
    """Every file of the session's pages folder: name -> (inode, size)."""
    return {p.name: (p.stat().st_ino, p.stat().st_size) for p in pages_dir(path).iterdir()}


def _crash(s: Session) -> None:
    s._journal.close()
    s._lock.release()
    s._closed = True


@pytest.mark.anyio
async def test_a_checkpoint_with_one_changed_video_writes_one_page_and_a_small_head(tmp_path, monkeypatch):
    s = _new(tmp_path)
    path = tmp_path / "s.toml"
    before = _files(path)
    assert len(before) == N // PAGE_SIZE + 1   # five pages and the rejected lines
    written: list[tuple[str, int]] = []
    real = session_module.atomic_write_bytes
    monkeypatch.setattr(session_module, "atomic_write_bytes", lambda p, data, **kw: (
        written.append((Path(p).name, len(data))), real(p, data, **kw))[1])
    import bulk_transcribe.core.store.pages as pages_module
    real_page = pages_module.atomic_write_bytes
    monkeypatch.setattr(pages_module, "atomic_write_bytes", lambda p, data, **kw: (
        written.append((Path(p).name, len(data))), real_page(p, data, **kw))[1])

    await s.record(s.videos[3 * PAGE_SIZE + 7], state=VideoState.DONE, outputs=["x.txt"])
    await s.checkpoint()

    names = [name for name, _ in written]
    assert names[-1] == "s.toml" and len(names) == 2, names   # one page, then the head
    assert names[0].startswith("p00003-")
    page_bytes, head_bytes = written[0][1], written[1][1]
    assert page_bytes < 100 * PAGE_SIZE            # a page's worth, not the session's
    assert head_bytes < 1500 + 150 * (N // PAGE_SIZE)
    after = _files(path)
    unchanged = {k: v for k, v in before.items() if not k.startswith("p00003-")}
    assert {k: after[k] for k in unchanged} == unchanged, "the other pages were not rewritten"
    assert len(after) == len(before), "the superseded page was removed"

    written.clear()
    await s.checkpoint()   # nothing changed: only the head (limiter, meta and the saved time live there)
    assert [name for name, _ in written] == ["s.toml"]
    s.close()
    back = Session.open(path)
    assert back.videos[3 * PAGE_SIZE + 7].state is VideoState.DONE and back.videos[3 * PAGE_SIZE + 7].outputs == ["x.txt"]
    assert sum(v.state is VideoState.DONE for v in back.videos) == 1
    back.close()


def test_peek_settings_reads_the_head_only(tmp_path):
    s = _new(tmp_path)
    s.close()
    path = tmp_path / "s.toml"
    assert path.stat().st_size < 1500 + 150 * (N // PAGE_SIZE)   # the head: no video in it
    assert "videos" not in tomllib.loads(path.read_text())
    shutil.rmtree(pages_dir(path))   # not one page is read
    assert Session.peek_settings(path).concurrency == 11
    with pytest.raises(SessionError, match="is damaged"):
        Session.open(path)


@pytest.mark.anyio
async def test_a_crash_between_the_pages_and_the_head_keeps_the_old_session(tmp_path, monkeypatch):
    """The new pages are new files: until the head is renamed over the old one, the old head and
    its pages are the session (plus the journal). The next open removes the new pages."""
    s = _new(tmp_path, PAGE_SIZE + 3)
    path = tmp_path / "s.toml"
    await s.record(s.videos[PAGE_SIZE + 1], state=VideoState.SUBMITTED, request_id="paid")
    before = _files(path)
    real = session_module.atomic_write_bytes

    def head_fails(p, data, **kw):
        if Path(p) == path:
            raise OSError(28, "No space left on device")
        return real(p, data, **kw)

    monkeypatch.setattr(session_module, "atomic_write_bytes", head_fails)
    with pytest.raises(SessionError, match="disk is full"):
        await s.checkpoint()
    monkeypatch.undo()
    assert set(_files(path)) > set(before), "the new page was written beside the old ones"
    _crash(s)

    back = Session.open(path)
    assert back.videos[PAGE_SIZE + 1].request_id == "paid"   # the journal still holds it
    assert _files(path) == before, "the unreferenced page is gone, the referenced ones untouched"
    await back.checkpoint()
    back.close()
    again = Session.open(path)
    assert again.videos[PAGE_SIZE + 1].request_id == "paid"
    again.close()


@pytest.mark.anyio
async def test_videos_added_while_running_start_a_new_page(tmp_path):
    s = _new(tmp_path, PAGE_SIZE)
    extra = [Video(key=f"youtube:x{i:09d}", url=f"https://youtu.be/x{i:09d}", vid=f"x{i:09d}") for i in range(3)]
    async with s.running():
        s.add_videos(extra)
        await s.flush()
        await s.checkpoint()
    head = tomllib.loads((tmp_path / "s.toml").read_text())
    assert [p["count"] for p in head["pages"]] == [PAGE_SIZE, 3]
    assert head["counts"] == {"total": PAGE_SIZE + 3, "queued": PAGE_SIZE + 3}
    back = Session.open(tmp_path / "s.toml")
    assert [v.key for v in back.videos[-3:]] == [v.key for v in extra]
    back.close()


@pytest.mark.anyio
async def test_a_session_moved_away_leaves_its_pages_to_salvage(tmp_path):
    """The user moves only the head away (as the damaged message says): a new session at the same
    path keeps the old pages aside, and salvage still finds the request ids they hold."""
    s = _new(tmp_path, 3)
    path = tmp_path / "s.toml"
    await s.record(s.videos[1], state=VideoState.SUBMITTED, request_id="req-1")
    await s.checkpoint()
    s.close()
    os.rename(path, tmp_path / "moved.toml")
    os.unlink(tmp_path / "s.toml.journal")
    fresh = _new(tmp_path, 3)
    assert list(tmp_path.glob("s.toml.pages.orphan-*")), "the old pages were kept aside, not reused"
    assert fresh.videos[1].request_id == ""
    fresh.close()
    assert salvage(path)["youtube:v000000001"].request_id == "req-1"


def test_many_pages_open_in_order(tmp_path):
    n = 3 * PAGE_SIZE + 1
    _new(tmp_path, n).close()
    back = Session.open(tmp_path / "s.toml")
    assert [v.line for v in back.videos] == list(range(1, n + 1))
    assert back.by_key(f"youtube:v{n - 1:09d}") is back.videos[-1]
    back.close()



def test_pages_are_private_like_the_head(tmp_path):
    _new(tmp_path, 3).close()
    folder = pages_dir(tmp_path / "s.toml")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o600}
