"""How a run is wired for every face (core/launch.py): what the user is told before the first submit."""

from __future__ import annotations

from types import SimpleNamespace

from bulk_transcribe.core.launch import over_balance_notice
from bulk_transcribe.core.model import Video, VideoState


def test_warns_when_the_estimate_exceeds_the_balance():
    videos = [Video(key=f"k{i}", url="u", vid="v", duration=3600.0 * 10) for i in range(3)]
    videos[0].state = VideoState.DONE
    warning = over_balance_notice(SimpleNamespace(videos=videos), 0.5)
    # 2 videos to go, each $0.005 + 10 h x $0.046875 (deAPI's documented shape, core/prices.py)
    assert warning is not None and "$0.95" in warning.message and "exceeds the balance $0.50" in warning.message
    assert over_balance_notice(SimpleNamespace(videos=videos), 5.0) is None


def test_every_face_says_the_same_things_in_the_same_order_before_the_engine(tmp_path):
    """begin_run is the one tail of the wiring (headless and the service through open_run, the
    app's own runs directly): the balance, the face's notices, the over-balance warning, then
    the session's opening notices; the engine is built last, not run."""
    from bulk_transcribe.core.events import Notice
    from bulk_transcribe.core.launch import begin_run
    from tests.core.engine_harness import make_session

    session = make_session(tmp_path, ["https://youtu.be/v0000000001", "https://youtu.be/v0000000002"],
                           "http://127.0.0.1:9")
    try:
        for v in session.videos:
            v.duration = 36000.0
        said: list = []
        built = []
        engine = begin_run(session, api_key="k", sink=said.append, resumed=False, balance=0.5,
                           notices=(Notice(0, "info", "changed: concurrency 7 → 3"),),
                           factory=lambda s, **kw: built.append(s) or "engine")
    finally:
        session.close()
    assert engine == "engine" and built == [session]
    words = [n.message for n in said]
    assert words[0] == "deAPI balance: $0.50" and words[1] == "changed: concurrency 7 → 3"
    assert "exceeds the balance $0.50" in words[2]
    assert words[-1].startswith("starting ") and words[-1].endswith("0 of 2 done")
    said.clear()
    again = make_session(tmp_path / "b", ["https://youtu.be/v0000000001"], "http://127.0.0.1:9")
    try:
        begin_run(again, api_key="k", sink=said.append, resumed=True, balance=None, factory=lambda s, **kw: None)
    finally:
        again.close()
    assert not any("balance" in n.message for n in said), "no balance read: none said"
