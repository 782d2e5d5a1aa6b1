"""`python -m bulk_transcribe.core.simulator` flags for the strict-docs knobs, and one served run."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from bulk_transcribe.core.simulator.__main__ import build_parser, config_from_args


def config(*flags: str):
    return config_from_args(build_parser().parse_args(list(flags)))


def test_defaults_follow_the_docs():
    cfg = config()
    assert cfg.strict_booleans and not cfg.inline_structured and not cfg.shared_limits
    assert cfg.price_per_job == 0.005 and cfg.trickle_bytes_per_second == 0.0 and cfg.reset_share == 0.0
    assert cfg.trickle_endpoints == frozenset({"submit"}) and cfg.reset_endpoints == frozenset({"submit"})
    assert (cfg.upload_audio_max_bytes, cfg.upload_video_max_bytes, cfg.upload_over_cap_status) == \
        (20 * 1024 * 1024, 50 * 1024 * 1024, 413)


def test_flags_set_every_new_knob():
    cfg = config("--shared-limits", "--account-rpm", "120", "--account-per-day", "500", "--price-per-day", "9",
                 "--inline-structured", "--lenient-booleans", "--price-per-job", "0.01",
                 "--price-per-second", "0.0001", "--submit-answer-delay", "2", "--trickle", "50",
                 "--trickle-endpoint", "status", "--trickle-endpoint", "storage", "--reset-share", "0.5",
                 "--reset-endpoint", "price", "--fault", "abc=reset:2", "--fault", "def=failed-charged:retryable",
                 "--fault", "ghi=hold:3", "--fault", "jkl=trickle:10", "--upload-audio-max-kb", "100",
                 "--upload-video-max-kb", "200", "--upload-over-cap-status", "422")
    assert (cfg.upload_audio_max_bytes, cfg.upload_video_max_bytes, cfg.upload_over_cap_status) == \
        (102400, 204800, 422)
    assert cfg.shared_limits and (cfg.account_rpm, cfg.account_per_day, cfg.price_per_day) == (120, 500, 9)
    assert cfg.inline_structured and not cfg.strict_booleans
    assert (cfg.price_per_job, cfg.price_per_second) == (0.01, 0.0001)
    assert cfg.submit_answer_delay == 2.0 and cfg.trickle_bytes_per_second == 50.0
    assert cfg.trickle_endpoints == frozenset({"status", "storage"})
    assert cfg.reset_share == 0.5 and cfg.reset_endpoints == frozenset({"price"})
    assert cfg.faults == {"abc": "reset:2", "def": "failed-charged:retryable", "ghi": "hold:3", "jkl": "trickle:10"}


def test_bad_values_are_refused():
    with pytest.raises(ValueError):
        config("--fault", "abc=trickle:0")
    with pytest.raises(ValueError):
        config("--reset-share", "2")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--trickle-endpoint", "nowhere"])


@pytest.mark.slow
def test_served_from_the_command_line_with_basic_limits_in_the_headers():
    proc = subprocess.Popen([sys.executable, "-m", "bulk_transcribe.core.simulator", "--plan", "basic",
                             "--latency", "0.1", "0.2"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        answer = httpx.get(f"{base}/api/v2/jobs/00000000-0000-4000-8000-000000000000",
                           headers={"Authorization": "Bearer key"})
        assert answer.status_code == 404
        assert answer.headers["X-RateLimit-Limit"] == "50" and answer.headers["X-RateLimit-Source"] == "endpoint"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
