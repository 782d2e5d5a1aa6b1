"""--captions as a setting: off unless asked, from the config file or the flags, validated."""

from __future__ import annotations

import pytest

from bulk_transcribe.core import config
from bulk_transcribe.core.settings import Settings, SettingsError
from bulk_transcribe.tui.screens.config_form import parse_form

from .test_config import write_config


def test_off_unless_asked_and_the_config_file_may_ask():
    assert (Settings().captions, Settings().captions_auto) == ("off", False)
    assert config.load_settings({}).captions == "off"
    write_config('captions = "first"\ncaptions_auto = true\n')
    s = config.load_settings({})
    assert (s.captions, s.captions_auto) == ("first", True)
    assert config.load_settings({"captions": "only", "captions_auto": None}).captions == "only"


def test_bad_values_and_what_srt_needs():
    with pytest.raises(SettingsError, match="--captions must be off, first or only"):
        Settings(captions="always").validate()
    with pytest.raises(SettingsError, match="srt and vtt need segment timestamps"):
        Settings(captions="first", formats=("srt",)).validate()   # deAPI transcribes some: they need its segments
    assert Settings(captions="only", formats=("srt", "vtt")).validate()   # captions always carry their times


def test_the_config_screen_switch():
    s, errors = parse_form({"captions": "only", "captions_auto": True, "formats": ("srt",)}, Settings())
    assert not errors and (s.captions, s.captions_auto, s.formats) == ("only", True, ("srt",))
    s, errors = parse_form({"captions": "first", "formats": ("srt",)}, Settings())
    assert s is None and "formats" in errors
