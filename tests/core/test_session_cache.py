"""The parse cache speeds up reopening, and the TOML always wins."""

from __future__ import annotations

import anyio

from bulk_transcribe.core.model import Video, VideoState
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.store.format import parse_cache_path
from bulk_transcribe.core.store.session import Session


def _session(tmp_path, n=3):
    videos = [Video(key=f"youtube:{i:011d}", url=f"https://youtu.be/{i:011d}", vid=f"{i:011d}") for i in range(n)]
    return Session.create(tmp_path / "s.toml", batch="b", settings=Settings(), videos=videos)


def test_a_hand_edited_toml_wins_over_the_cache(tmp_path):
    s = _session(tmp_path)
    s.close()
    path = tmp_path / "s.toml"
    assert parse_cache_path(path).exists()
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('batch = "b"', 'batch = "edited"'), encoding="utf-8")
    s = Session.open(path)
    assert s.batch == "edited"
    s.close()


def test_cache_and_toml_agree_and_a_broken_cache_is_ignored(tmp_path):
    s = _session(tmp_path)

    async def work():
        async with s.running():
            await s.record(s.videos[1], state=VideoState.DONE, request_id="r1", outputs=["a.txt"], attempts=1)

    anyio.run(work)
    path = tmp_path / "s.toml"
    via_cache = Session.open(path)
    rows = [(v.key, v.state, v.request_id, v.outputs) for v in via_cache.videos]
    via_cache.close()
    parse_cache_path(path).write_text("{not json", encoding="utf-8")
    via_toml = Session.open(path)
    assert [(v.key, v.state, v.request_id, v.outputs) for v in via_toml.videos] == rows
    assert rows[1][1] is VideoState.DONE
    via_toml.close()
