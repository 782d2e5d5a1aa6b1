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
