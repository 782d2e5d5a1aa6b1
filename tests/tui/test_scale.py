"""A 10,000-video session opens through the real resume path and repaints cheaply."""

from __future__ import annotations

import asyncio

import pytest

from bulk_transcribe.core.events import Activity, VideoChanged, WorkerChanged
from bulk_transcribe.core.model import Video
from bulk_transcribe.core.paths import sessions_dir
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.store.session import Session
from bulk_transcribe.tui.screens.run import RunScreen
from bulk_transcribe.tui.widgets.table import ErrorTable, WorkerTable

from .fakes import NOW, FakeEngine, make_app, progress

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
N = 10_000


class Watched(dict):
    """The view's video states, counting every walk over them."""

    walks = 0

    def _walked(self):
        self.walks += 1

    def __iter__(self):
        self._walked()
        return super().__iter__()

    def values(self):
        self._walked()
        return super().values()

    def items(self):
        self._walked()
        return super().items()


class FloodEngine(FakeEngine):
    """Announces every video of the session at once, as a resumed engine would."""

    def __init__(self, session, *, api_key, sink) -> None:
        super().__init__()
        self.session, self.sink = session, sink

    async def run(self):
        for i, v in enumerate(self.session.videos):
            self.sink(VideoChanged(v.key, i, v.state, v.label))
            self.sink(WorkerChanged(i % 5, Activity.TRANSCRIBING, v.key, v.label, progress=50.0, since=NOW))
        self.sink(progress(0, 1.0, total=N, failed=0, in_flight=5))
        try:
            return await super().run()
        finally:
            self.session.close()


async def test_ten_thousand_videos_open_and_stay_light(tmp_path):
    path = sessions_dir() / "big.toml"
    path.parent.mkdir(parents=True)
    videos = [Video(key=f"youtube:big{i:08d}", url=f"https://youtu.be/big{i:08d}", vid=f"big{i:08d}",
                    title=f"[b]{i}[/b]") for i in range(N)]
    Session.create(path, batch="big.txt", settings=Settings(), videos=videos, rejected=[]).close()

    app = make_app(session_path=str(path), start=True, engine_factory=FloodEngine)
    async with app.run_test(size=(80, 24)) as pilot:
        while not isinstance(app.screen, RunScreen) or app.view.progress is None:
            await pilot.pause(0.05)
            app.repaint_now()
        # Light means a repaint's work does not grow with the batch: it never walks the
        # videos once the engine's Progress has the counts (a wall clock would be noise here).
        watched = Watched(app.view.video_states)
        app.view.video_states = watched
        app.repaint_now()
        assert watched.walks == 0, "a repaint walked all 10,000 videos"
        assert app.view.totals().total == N
        assert app.screen.query_one(WorkerTable).row_count == 5
        assert app.screen.query_one(ErrorTable).row_count == 0
        # Still answering keys.
        await pilot.press("question_mark")
        await pilot.press("escape")
        assert isinstance(app.screen, RunScreen)
        await pilot.press("q", "y")
        await asyncio.wait_for(app.workers.wait_for_complete(), 10)
