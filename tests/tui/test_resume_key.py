"""Resuming without a key: the app asks for one for this run (never saved), not just a toast."""

from __future__ import annotations

import tomllib

import pytest

from bulk_transcribe.core.model import Video
from bulk_transcribe.core.paths import config_path, sessions_dir
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.store.session import Session
from bulk_transcribe.tui.screens.modals import KeyPrompt
from bulk_transcribe.tui.screens.resume import ResumeScreen
from bulk_transcribe.tui.screens.run import RunScreen

from .fakes import FakeEngine, make_app, until_shown

pytestmark = pytest.mark.anyio


def saved_session():
    path = sessions_dir() / "talks-1a2b3c4d.toml"
    video = Video(key="youtube:v000000001", url="https://youtu.be/v000000001", vid="v000000001")
    Session.create(path, batch="/home/ana/talks.txt", settings=Settings(metadata=False), videos=[video]).close()
    return path


class Engines:
    def __init__(self) -> None:
        self.keys: list[str] = []

    def __call__(self, session, *, api_key, sink):
        session.close()
        self.keys.append(api_key)
        return FakeEngine()


async def test_resume_without_a_key_asks_for_one_and_runs_with_it():
    path = saved_session()
    engines = Engines()
    app = make_app(api_key=None, key_source="", engine_factory=engines)
    async with app.run_test(size=(80, 24)) as pilot:
        await until_shown(pilot, ResumeScreen, "#sessions")
        await pilot.press("enter")
        await until_shown(pilot, KeyPrompt, "#prompt-key-status")
        assert engines.keys == []
        await pilot.press("enter")   # empty: explained, still asking
        await pilot.pause()
        assert isinstance(app.screen, KeyPrompt)
        assert "enter a key" in str(app.screen.query_one("#prompt-key-status").render())
        for ch in "sk-typed-abcdefghijkl":
            await pilot.press(ch)
        status = str(app.screen.query_one("#prompt-key-status").render())
        assert "entered for this run" in status and "sk-typed-abcdefghijkl" not in status
        await pilot.press("enter")
        await until_shown(pilot, RunScreen, "#workers")
        assert app.key_source == "entered for this run"
        await pilot.press("q", "y")
    assert engines.keys == ["sk-typed-abcdefghijkl"]
    assert not config_path().exists() or "api_key" not in tomllib.loads(config_path().read_text())
    assert "sk-typed" not in path.read_text()


async def test_escape_on_the_key_prompt_goes_back_and_leaves_the_session_unopened():
    path = saved_session()
    engines = Engines()
    app = make_app(api_key=None, key_source="", engine_factory=engines)
    async with app.run_test(size=(80, 24)) as pilot:
        await until_shown(pilot, ResumeScreen, "#sessions")
        await pilot.press("enter")
        await until_shown(pilot, KeyPrompt, "#prompt-key-status")
        await pilot.press("escape")
        await until_shown(pilot, ResumeScreen, "#sessions")
        Session.open(path).close()   # not locked by the app
    assert engines.keys == []


async def test_resume_command_without_a_key_asks_and_escape_leaves_the_config_screen():
    from bulk_transcribe.tui.screens.config import ConfigScreen

    path = saved_session()
    app = make_app(api_key=None, key_source="", session_path=str(path), start=True, engine_factory=Engines())
    async with app.run_test(size=(80, 24)) as pilot:
        await until_shown(pilot, KeyPrompt, "#prompt-key-status")
        await pilot.press("escape")
        await until_shown(pilot, ConfigScreen, "#batch")
