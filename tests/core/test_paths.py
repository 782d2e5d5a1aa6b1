"""Where files live: the metadata cache in the platform's cache folder, the old one moved there."""

from __future__ import annotations

from pathlib import Path

from bulk_transcribe.core import paths


def test_the_cache_is_under_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xc"))
    assert paths.cache_dir() == tmp_path / "xc" / "bulk-transcribe"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert paths.cache_dir() == tmp_path / "home" / ".cache" / "bulk-transcribe"
    monkeypatch.setenv("BULK_TRANSCRIBE_CACHE_DIR", str(tmp_path / "mine"))
    assert paths.cache_dir() == tmp_path / "mine"


def test_the_old_cache_in_the_data_folder_is_moved_not_lost(tmp_path, monkeypatch):
    old = Path(tmp_path / "data" / "cache" / "metadata")
    old.mkdir(parents=True)
    (old / "youtube_x.json").write_text('{"key": "youtube:x"}')
    new = paths.cache_dir()
    assert new == tmp_path / "xdg-cache" / "bulk-transcribe"       # conftest's XDG_CACHE_HOME
    assert (new / "metadata" / "youtube_x.json").read_text() == '{"key": "youtube:x"}'
    assert not (tmp_path / "data" / "cache").exists()
    assert paths.cache_dir() == new                                 # once moved, it stays


def test_an_old_cache_that_cannot_move_is_still_read_where_it_is(tmp_path, monkeypatch):
    (tmp_path / "data" / "cache").mkdir(parents=True)
    (tmp_path / "xdg-cache").write_text("a file where the folder would go")   # the move fails
    assert paths.cache_dir() == tmp_path / "data" / "cache"
