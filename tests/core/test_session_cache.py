"""Format version 1 (one TOML with every video, and its JSON parse cache) still opens: through the
cache when it was made from exactly those bytes, the TOML winning otherwise, and is migrated to
the head and pages of version 2 on open."""

from __future__ import annotations

import tomllib

from bulk_transcribe.core.model import Video, VideoState
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.store.format import parse_cache_path
from bulk_transcribe.core.store.journal import encode_record
from bulk_transcribe.core.store.pages import PAGE_SIZE, pages_dir
from bulk_transcribe.core.store.session import RejectedLine, Session

from .v1_session import write_v1


def _v1(tmp_path, n=3, *, cache=True):
    """A version 1 session at s.toml: its videos, one of them done, and a journal record on top."""
    path = tmp_path / "build" / "s.toml"
    path.parent.mkdir()
    videos = [Video(key=f"youtube:{i:011d}", url=f"https://youtu.be/{i:011d}", vid=f"{i:011d}") for i in range(n)]
    s = Session.create(path, batch="b", settings=Settings(concurrency=9), videos=videos,
                       rejected=[RejectedLine(7, "nope", "not a URL")])
    s.record_nowait(s.videos[1], state=VideoState.DONE, request_id="r1", outputs=["a.txt"], attempts=1)
    s._seq = 1
    target = tmp_path / "s.toml"
    write_v1(target, s, cache=cache)
    s.close()
    return target


def _seen(s):
    return [(v.key, v.state, v.request_id, v.outputs) for v in s.videos]


def test_a_hand_edited_toml_wins_over_the_cache(tmp_path):
    path = _v1(tmp_path)
    assert parse_cache_path(path).exists()
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('batch = "b"', 'batch = "edited"'), encoding="utf-8")
    s = Session.open(path)
    assert s.batch == "edited"
    s.close()


def test_cache_and_toml_agree_and_a_broken_cache_is_ignored(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    via_cache = Session.open(_v1(tmp_path / "a"))
    rows = _seen(via_cache)
    via_cache.close()
    path = _v1(tmp_path / "b")
    parse_cache_path(path).write_text("{not json", encoding="utf-8")
    via_toml = Session.open(path)
    assert _seen(via_toml) == rows
    assert rows[1][1] is VideoState.DONE
    via_toml.close()


def test_a_version_1_session_is_migrated_on_open_with_its_journal(tmp_path):
    """Its journal's records are replayed first, then it is rewritten as a head and pages: the
    same state, the journal folded and emptied, the parse cache gone, version 2 from then on."""
    n = PAGE_SIZE + 5
    path = _v1(tmp_path, n)
    assert tomllib.loads(path.read_text())["version"] == 1
    path.with_name("s.toml.journal").write_bytes(
        encode_record({"seq": 2, "key": "youtube:00000001004", "set": {"state": "submitted", "request_id": "r-last"}}))

    s = Session.open(path)
    assert s.by_key("youtube:00000001004").request_id == "r-last" and s.by_key("youtube:00000000001").outputs == ["a.txt"]
    assert [r.raw for r in s.rejected] == ["nope"] and s.settings.concurrency == 9
    want = _seen(s)
    s.close()

    head = tomllib.loads(path.read_text())
    assert head["version"] == 2 and head["seq"] == 2 and "videos" not in head
    assert [p["count"] for p in head["pages"]] == [PAGE_SIZE, 5]
    assert sorted(f.name for f in pages_dir(path).iterdir()) == sorted([p["file"] for p in head["pages"]]
                                                                       + [head["rejected"]["file"]])
    assert path.with_name("s.toml.journal").stat().st_size == 0
    assert not parse_cache_path(path).exists()
    again = Session.open(path)
    assert _seen(again) == want and again.by_key("youtube:00000001004").state is VideoState.SUBMITTED
    again.close()
