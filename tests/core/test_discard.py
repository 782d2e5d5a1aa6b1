"""discard_session: the session and its journal go, the lock file stays, a busy session is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulk_transcribe.core.errors import SessionError, SessionLocked
from bulk_transcribe.core.model import Video
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.store.format import journal_path, lock_path
from bulk_transcribe.core.store.lockfile import FileLock
from bulk_transcribe.core.store.session import Session, discard_session


def saved(tmp_path: Path) -> Path:
    path = tmp_path / "s.toml"
    videos = [Video(key="youtube:v000000001", url="https://youtu.be/v000000001", vid="v000000001")]
    Session.create(path, batch="links.txt", settings=Settings(), videos=videos).close()
    journal_path(path).write_text('{"seq": 1}\n')   # a journal left behind must go too
    return path


def test_discard_deletes_the_session_and_journal_but_keeps_the_lock_file(tmp_path):
    path = saved(tmp_path)
    (tmp_path / "transcript.txt").write_text("kept")
    discard_session(path)
    assert not path.exists() and not journal_path(path).exists()
    assert lock_path(path).exists(), "the sidecar lock file is never deleted"
    assert (tmp_path / "transcript.txt").exists()
    # The same lock inode still works for the next session at this path.
    Session.create(path, batch="links.txt", settings=Settings(), videos=[]).close()


def test_discard_refuses_a_session_in_use_and_deletes_nothing(tmp_path):
    path = saved(tmp_path)
    session = Session.open(path)
    try:
        with pytest.raises(SessionLocked):
            discard_session(path)
        assert path.exists() and journal_path(path).exists()
    finally:
        session.close()


def test_discard_refuses_while_another_holder_has_the_lock(tmp_path):
    path = saved(tmp_path)
    other = FileLock(lock_path(path))   # as another process would hold it
    other.acquire()
    try:
        with pytest.raises(SessionLocked) as caught:
            discard_session(path)
        assert isinstance(caught.value, SessionError) and caught.value.category == "locked"
    finally:
        other.release()
    discard_session(path)
    assert not path.exists()


def test_discarding_a_missing_session_is_not_an_error(tmp_path):
    discard_session(tmp_path / "never.toml")
    assert not (tmp_path / "never.toml").exists()


def test_a_file_that_cannot_be_removed_is_a_disk_error(tmp_path, monkeypatch):
    path = saved(tmp_path)
    real_unlink = Path.unlink

    def refuse(self, missing_ok=False):
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", refuse)
    with pytest.raises(SessionError) as caught:
        discard_session(path)
    assert caught.value.category == "disk"
    monkeypatch.undo()
    discard_session(path)   # the lock was released on the way out
