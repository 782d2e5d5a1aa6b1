"""One place knows the precedence: config file < environment < command line."""

from __future__ import annotations

import os
import stat
import tomllib

import pytest

from bulk_transcribe.core import config, paths
from bulk_transcribe.core.model import Video
from bulk_transcribe.core.settings import AUTO, Settings, SettingsError
from bulk_transcribe.core.store.session import Session


def write_config(text: str):
    path = paths.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_file_then_environment_then_flags(monkeypatch):
    write_config('concurrency = 9\napi_base = "http://file.example"\nformats = ["txt", "md"]\n')
    s = config.load_settings({})
    assert (s.concurrency, s.api_base, s.formats) == (9, "http://file.example", ("txt", "md"))
    monkeypatch.setenv("DEAPI_BASE_URL", "http://env.example")
    assert config.load_settings({}).api_base == "http://env.example"
    s = config.load_settings({"api_base": "http://flag.example", "concurrency": 3, "model": None})
    assert (s.api_base, s.concurrency, s.model) == ("http://flag.example", 3, "WhisperLargeV3")


def test_a_resumed_session_keeps_its_settings_over_the_file():
    write_config("concurrency = 9\n")
    s = config.load_settings({}, base=Settings(concurrency=2))
    assert s.concurrency == 2


def test_concurrency_auto_is_the_default_and_the_file_may_say_so_or_fix_a_number():
    assert config.load_settings({}).auto_concurrency, "auto by default"
    write_config('concurrency = "auto"\nmax_concurrency = 120\n')
    s = config.load_settings({})
    assert s.auto_concurrency and s.most_in_flight == 120
    write_config("concurrency = 12\n")
    s = config.load_settings({})
    assert not s.auto_concurrency and s.most_in_flight == 12
    write_config('concurrency = "lots"\n')
    with pytest.raises(SettingsError):
        config.load_settings({})


def test_typos_and_bad_files_are_named(monkeypatch):
    write_config("concurency = 9\n")
    with pytest.raises(SettingsError, match="unknown setting 'concurency'.*concurrency"):
        config.load_settings({})
    write_config("concurrency = [\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        config.load_settings({})
    write_config("concurrency = 1001\n")
    with pytest.raises(SettingsError, match="auto or 1 to 1000"):
        config.load_settings({})


def test_key_from_environment_wins_and_is_saved_only_when_asked(monkeypatch):
    write_config('api_key = "from-file-123"\n')
    assert config.resolve_api_key() == ("from-file-123", "config file")
    monkeypatch.setenv("DEAPI_API_KEY", "from-env-456")
    assert config.resolve_api_key() == ("from-env-456", "DEAPI_API_KEY")
    paths.config_path().unlink()
    path = config.save_settings({"concurrency": 4})
    assert "api_key" not in path.read_text() and stat.S_IMODE(path.stat().st_mode) == 0o600
    config.save_settings({"concurrency": 4}, api_key="saved-789")
    assert 'api_key = "saved-789"' in path.read_text() and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_resume_keeps_the_session_settings_and_says_what_the_flags_change():
    write_config("concurrency = 9\nformats = [\"txt\"]\n")
    saved = Settings(concurrency=7, formats=("txt", "md"), retry_failed=True, output_dir="/data/t")
    s, changes = config.resume_settings(saved, {"concurrency": 3, "model": None})
    assert (s.concurrency, s.formats) == (3, ("txt", "md")), "neither the file nor the defaults reset a session"
    assert not s.retry_failed, "retrying permanent failures costs money: only for the run that asks"
    assert config.describe_changes(changes) == "concurrency 7 → 3 · retry_failed on → off"
    (told,) = config.changes_notice(changes, at=5.0)   # every face says it with these words
    assert (told.wall, told.level) == (5.0, "info") and told.message.endswith(": concurrency 7 → 3 · retry_failed on → off")
    s, changes = config.resume_settings(Settings(concurrency=7, formats=("txt", "md"), output_dir="/t"), {})
    assert (s.concurrency, s.formats, changes) == (7, ("txt", "md"), [])
    assert config.changes_notice(changes) == ()
    with pytest.raises(SettingsError, match="auto or 1 to 1000"):
        config.resume_settings(saved, {"concurrency": 1001})


def test_remembering_writes_only_the_changes_over_the_file(monkeypatch):
    write_config('formats = ["txt", "md"]\n')
    monkeypatch.setenv("DEAPI_BASE_URL", "http://env.example")
    path = config.save_settings({"concurrency": 4, "formats": ("txt", "srt")})
    saved = tomllib.loads(path.read_text())
    assert saved == {"formats": ["txt", "srt"], "concurrency": 4}
    with pytest.raises(SettingsError, match="not settings: concurency"):
        config.save_settings({"concurency": 4})


def test_folders_are_absolute_so_a_resume_from_elsewhere_writes_where_it_wrote(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    first = config.load_settings({"output_dir": "out", "cookies": "c.txt"})
    assert (first.output_dir, first.cookies) == (str(tmp_path / "a" / "out"), str(tmp_path / "a" / "c.txt"))
    monkeypatch.chdir(tmp_path / "b")
    again, changes = config.resume_settings(first, {})
    assert again.output_dir == str(tmp_path / "a" / "out") and changes == []
    assert config.anchor_paths(Settings(output_dir="~/t")).output_dir == os.path.expanduser("~/t")


def test_auto_concurrency_is_stored_and_shown_as_auto(tmp_path):
    """A session keeps `auto` as the word (its file, the parse cache, a peek) and a resume that
    fixes a number says "concurrency auto → 5", not "0 → 5"."""
    path = tmp_path / "s.toml"
    video = Video(key="youtube:v000000001", url="https://youtu.be/v000000001", vid="v000000001", line=1)
    Session.create(path, batch="links.txt", settings=Settings(output_dir="/t"), videos=[video]).close()
    assert tomllib.loads(path.read_text())["settings"]["concurrency"] == "auto"
    assert Session.peek_settings(path).concurrency == AUTO
    session = Session.open(path)
    saved = session.settings
    session.close()
    assert saved.concurrency == AUTO and saved.auto_concurrency
    s, changes = config.resume_settings(saved, {"concurrency": 5})
    assert s.concurrency == 5 and config.describe_changes(changes) == "concurrency auto → 5"
    _, back = config.resume_settings(Settings(concurrency=5, output_dir="/t"), {"concurrency": "auto"})
    assert config.describe_changes(back) == "concurrency 5 → auto"
    assert config.describe_changes([("concurrency", 0, 7)]) == "concurrency auto → 7", "an older session's 0"


def test_remembering_auto_writes_the_word():
    path = config.save_settings({"concurrency": AUTO})
    assert tomllib.loads(path.read_text()) == {"concurrency": "auto"}
    assert config.load_settings({}).concurrency == AUTO
