"""What deAPI calls our hosts, and the options a job on each host is sent with.

Pure functions over the host names of `urls.NormalizedUrl.host` (youtube, x, twitch, kick,
tiktok, other); no I/O. The plan's price quotes and the engine's submits both take their
options from here, so a quote is always for the job that will be submitted.

- `price_platform`: deAPI's `platform` for a duration quote (`x` is `twitter`; X Spaces and
  "other" hosts have none, deAPI's enum lists no value for them).
- `model_for`: deAPI accepts TikTok only with WhisperLargeV3Ct2, so TikTok videos are always
  submitted and priced with it, whatever the settings' model; every other host uses the
  settings' model.
- `ts_level_for`: segment timestamps when timestamps are on and the model is Ct2 (the only
  level the tool asks for; segment timestamps cost nothing extra).
- `job_options`: the four together, for a host and the run's settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import Settings

CT2 = "WhisperLargeV3Ct2"
# Our host name -> deAPI's price-route platform (its enum: youtube, twitter, twitch, kick, tiktok).
PRICE_PLATFORMS: dict[str, str] = {"youtube": "youtube", "x": "twitter", "twitch": "twitch",
                                   "kick": "kick", "tiktok": "tiktok"}
# Hosts that deAPI accepts only with one model.
_MODEL_OF_HOST: dict[str, str] = {"tiktok": CT2}


def price_platform(host: str, url: str = "") -> str | None:
    """deAPI's `platform` for a duration-only price quote of a video on `host`, or None (quote
    without a platform: the model's base rate). `url` lets an X Space (an audio room on x.com,
    for which the enum has no value) go without one."""
    if host == "x" and "/i/spaces/" in url:
        return None
    return PRICE_PLATFORMS.get(host)


def model_for(host: str, settings_model: str) -> str:
    """The model a video on `host` is submitted and priced with: WhisperLargeV3Ct2 for TikTok
    (deAPI refuses TikTok with any other model, a 422 on submit and on price), else
    `settings_model` unchanged. Never raises; an unknown host keeps `settings_model`."""
    return _MODEL_OF_HOST.get(host, settings_model)


def ts_level_for(model: str, include_ts: bool) -> str | None:
    """The `ts_level` to send: "segment" when timestamps are wanted on WhisperLargeV3Ct2, else
    None (not sent: WhisperLargeV3 has segment timestamps only and takes no level)."""
    return "segment" if include_ts and model == CT2 else None


@dataclass(frozen=True)
class JobOptions:
    """What a submit (and its price quote) sends besides the source."""

    model: str
    include_ts: bool
    ts_level: str | None    # None: not sent
    lang: str               # "": not sent (auto-detect)


def job_options(host: str, settings: Settings) -> JobOptions:
    """The options for a video on `host` under `settings`: `model_for`, `settings.timestamps`,
    `ts_level_for` and `settings.lang`."""
    model = model_for(host, settings.model)
    return JobOptions(model=model, include_ts=settings.timestamps,
                      ts_level=ts_level_for(model, settings.timestamps), lang=settings.lang)
