"""What deAPI calls our hosts, and the model and options each host's jobs are sent with."""

from __future__ import annotations

import pytest

from bulk_transcribe.core.settings import MODELS, Settings
from bulk_transcribe.core.simulator import rules
from bulk_transcribe.core.sources.platforms import (
    CT2,
    JobOptions,
    job_options,
    model_for,
    price_platform,
    ts_level_for,
)
from bulk_transcribe.core.sources.urls import SUPPORTED_HOSTS, normalize


@pytest.mark.parametrize("url, platform", [
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "youtube"),
    ("https://x.com/someone/status/1234567890", "twitter"),
    ("https://twitter.com/someone/status/1234567890", "twitter"),
    ("https://www.twitch.tv/videos/123456789", "twitch"),
    ("https://kick.com/someone/videos/abc", "kick"),
    ("https://www.tiktok.com/@someone/video/7234567890123456789", "tiktok"),
    ("https://x.com/i/spaces/1OwxWzYbRkNGQ", None),     # an X Space: the enum has no value for it
    ("https://example.com/talk.mp3", None),
])
def test_price_platform_uses_deapis_names(url, platform):
    n = normalize(url)
    assert price_platform(n.host, n.url) == platform


def test_every_platform_we_send_is_in_deapis_enum():
    sent = {price_platform(h) for h in SUPPORTED_HOSTS}
    assert sent == set(rules.PRICE_PLATFORMS)


@pytest.mark.parametrize("settings_model", MODELS)
def test_tiktok_is_always_ct2_and_other_hosts_keep_the_settings_model(settings_model):
    assert model_for("tiktok", settings_model) == CT2
    for host in ("youtube", "x", "twitch", "kick", "other", "unknown"):
        assert model_for(host, settings_model) == settings_model


def test_ts_level_only_with_timestamps_on_ct2():
    assert ts_level_for(CT2, True) == "segment"
    assert ts_level_for(CT2, False) is None
    assert ts_level_for("WhisperLargeV3", True) is None


def test_job_options_follow_the_host():
    s = Settings(model="WhisperLargeV3", timestamps=True, lang="en")
    assert job_options("youtube", s) == JobOptions("WhisperLargeV3", True, None, "en")
    assert job_options("tiktok", s) == JobOptions(CT2, True, "segment", "en")


@pytest.mark.parametrize("settings_model", MODELS)
@pytest.mark.parametrize("timestamps", [False, True])
@pytest.mark.parametrize("url", [
    "https://www.tiktok.com/@someone/video/7234567890123456789",
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
    "https://x.com/someone/status/1234567890",
])
def test_what_we_send_passes_deapis_rules(settings_model, timestamps, url):
    """The simulator's rules are deAPI's documented ones: a submit and a duration quote built
    from job_options are never refused, TikTok included."""
    n = normalize(url)
    o = job_options(n.host, Settings(model=settings_model, timestamps=timestamps))
    fields = {"model": o.model, "include_ts": "1" if o.include_ts else "0"}
    if o.ts_level:
        fields["ts_level"] = o.ts_level
    assert rules.validate_submit({**fields, "source_url": n.url}, n.url, o.model, o.ts_level or "") == {}
    quote = {**fields, "duration_seconds": "90", "platform": price_platform(n.host, n.url) or ""}
    assert rules.validate_price(quote) == {}
