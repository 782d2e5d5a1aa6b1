"""A batch that already has a session runs with the session's settings, not the form's defaults
or the config file's; what the user changed (on the screen or by a flag) overrides them, visibly."""

from __future__ import annotations

import pytest

from bulk_transcribe.core.model import Video
from bulk_transcribe.core.paths import session_path_for
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.store.session import Session
from bulk_transcribe.tui.screens.config import ConfigScreen
from bulk_transcribe.tui.screens.run import RunScreen

from .fakes import FakeEngine, make_app, settle, until_shown

pytestmark = pytest.mark.anyio


class Engines:
    def __init__(self) -> None:
        self.settings: list[Settings] = []

    def __call__(self, session, *, api_key, sink):
        self.settings.append(session.settings)
        session.close()
        return FakeEngine()


def batch_with_session(tmp_path):
    batch = tmp_path / "forty.txt"
    batch.write_text("https://youtu.be/v0000000001\n")
    video = Video(key="youtube:v0000000001", url="https://youtu.be/v0000000001", vid="v0000000001")
    saved = Settings(concurrency=7, formats=("txt", "md"), metadata=False)
    Session.create(session_path_for(batch), batch=str(batch), settings=saved, videos=[video]).close()
    return batch


async def test_starting_a_batch_with_a_session_keeps_its_settings_and_says_what_the_screen_changed(tmp_path):
    batch = batch_with_session(tmp_path)
    engines = Engines()
    app = make_app(batch_path=str(batch), engine_factory=engines)
    async with app.run_test(size=(80, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ConfigScreen)
        app.screen.query_one("#concurrency").value = "3"
        await settle(pilot)
        await pilot.press("ctrl+s")
        await until_shown(pilot, RunScreen, "#workers")
        app.drain()
        notices = [n.message for n in app.view.notices]
        await pilot.press("q")
    (used,) = engines.settings
    assert used.formats == ("txt", "md"), "md outputs must not silently stop"
    assert used.concurrency == 3
    assert any("concurrency 7 → 3" in n for n in notices), notices


async def test_start_flag_on_a_batch_with_a_session_applies_only_the_flags_given(tmp_path):
    batch = batch_with_session(tmp_path)
    engines = Engines()
    app = make_app(batch_path=str(batch), start=True, engine_factory=engines, overrides={"concurrency": 2})
    async with app.run_test(size=(80, 24)) as pilot:
        await until_shown(pilot, RunScreen, "#workers")
        app.drain()
        notices = [n.message for n in app.view.notices]
        await pilot.press("q")
    (used,) = engines.settings
    assert (used.formats, used.concurrency) == (("txt", "md"), 2)
    assert any("concurrency 7 → 2" in n for n in notices), notices

