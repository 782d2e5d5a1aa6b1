"""The run view-model, fed by hand: folding, countdowns, bounds, literal text."""

from __future__ import annotations

from bulk_transcribe.core.durations import fmt_duration
from bulk_transcribe.core.events import Activity, ErrorLogged, Progress, VideoChanged, WorkerChanged
from bulk_transcribe.core.model import VideoState
from bulk_transcribe.core.sanitize import clean
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.tui.run_view import MAX_WORKER_ROWS, RunView, describe_worker
from bulk_transcribe.tui.screens.config_form import parse_form, rate_text
from bulk_transcribe.tui.text import fmt_bucket

from .fakes import HOSTILE, NOW, WALL, buckets, mid_batch, progress


def test_clean_strips_escapes_and_control_but_keeps_markup_text():
    assert clean(HOSTILE) == "Intro to [bold]markup[/] red [/] end"
    assert clean("a\tb\nc\r\n d") == "a b c d"
    assert clean("\x1b]0;title\x07x") == "x"
    assert clean("abcdefghij", 5) == "abcd…"


def test_durations():
    assert [fmt_duration(s) for s in (0, 59.9, 60, 185, 7260)] == ["0s", "59s", "1m00s", "3m05s", "2h01m"]
    assert fmt_duration(None) == fmt_duration(-1) == fmt_duration(float("inf")) == "—"


def test_bucket_text_shows_minute_day_and_pause():
    b = buckets()[0]
    assert fmt_bucket(b) == "submit 37/300 per min"
    from bulk_transcribe.core.events import BucketUsage
    assert fmt_bucket(BucketUsage("submit", 1, 1, 7, 10, paused_for=42)) == \
        "submit 1/1 per min, 7/10 today (paused 42s)"
    assert fmt_bucket(BucketUsage("submit", 1, 1, 7, 10, source="header")) == \
        "submit 1/1 per min (header), 7/10 today"
    assert fmt_bucket(BucketUsage("status", 3, 50, source="preset"), unit=False) == "status 3/50 (preset)"


def test_worker_descriptions_count_down_against_the_given_clock():
    wait = WorkerChanged(1, Activity.WAITING_RATE, "k", "t", until=NOW + 2.2, since=NOW - 4)
    assert describe_worker(wait, 1, NOW).doing == "waiting for the rate limit 3 s"
    assert describe_worker(wait, 1, NOW + 10).doing == "waiting for the rate limit 0 s"
    back = WorkerChanged(2, Activity.BACKING_OFF, "k", "", detail="503", until=NOW + 12, since=NOW - 20)
    line = describe_worker(back, 2, NOW)
    assert (line.slot, line.video, line.doing, line.elapsed) == ("3", "k", "backing off 12 s after 503", "20s")
    work = WorkerChanged(0, Activity.TRANSCRIBING, "k", "x", progress=45.4, since=NOW - 95)
    assert describe_worker(work, 0, NOW).progress == "45 %"
    polling = WorkerChanged(0, Activity.TRANSCRIBING, "k", "x", detail="next check in 9 s", until=NOW + 8.5)
    assert describe_worker(polling, 0, NOW).doing == "transcribing, next check 9 s"
    idle = describe_worker(None, 4, NOW)
    assert (idle.doing, idle.active, idle.video) == ("idle", False, "")


def test_folding_a_mid_batch_stream():
    view = RunView()
    view.apply_all(mid_batch())
    t = view.totals()
    assert (t.total, t.done, t.failed, t.in_flight, t.queued) == (120, 42, 3, 5, 70)
    assert view.slots() == 5
    lines = view.worker_lines(NOW)
    assert [w.doing.split()[0] for w in lines] == ["transcribing", "waiting", "backing", "downloading", "submitting"]
    assert "[bold]" in lines[1].video and "\x1b" not in lines[1].video
    assert view.bucket_text() == "submit 37/300 per min · status 120/300"
    spark = view.throughput()
    assert len(spark) == 40 and spark[:20] == [0.0] * 20 and all(v >= 0 for v in spark)
    assert spark[20] == 4.0  # one video in the first 15 s bin = 4 per minute


def test_error_log_is_bounded_but_counts_everything():
    view = RunView(error_limit=3)
    for i in range(10):
        view.apply(ErrorLogged(WALL + i, f"k{i}", "", "server", "boom"))
    assert view.errors_total == 10
    assert [e.key for e in view.errors] == ["k7", "k8", "k9"]


def test_ten_thousand_videos_fold_cheaply_and_rows_stay_per_worker():
    view = RunView()
    for i in range(10_000):
        view.apply(VideoChanged(f"k{i}", i, VideoState.DONE if i % 2 else VideoState.QUEUED, f"v{i}"))
    t = view.totals()   # before any Progress, the counts come from the videos
    assert (t.total, t.done, t.queued) == (10_000, 5_000, 5_000)
    view.apply(progress(5_000, 60.0, total=10_000))
    assert view.slots() == 5 and len(view.worker_lines(NOW)) == 5


def test_throughput_never_negative_after_a_resume():
    view = RunView(bin_seconds=10)
    for elapsed, done in ((1, 50), (11, 52), (21, 10), (31, 14)):
        view.apply(Progress(100, done, 0, 0, 0, elapsed, 0, None, (), 1, 1))
    assert view.throughput()[-3:] == [12.0, 0.0, 24.0]


def test_parse_form_maps_messages_to_fields():
    base = Settings()
    ok, errors = parse_form({"concurrency": "10", "formats": ("txt", "md")}, base)
    assert errors == {} and ok.concurrency == 10 and ok.formats == ("txt", "md")
    _, errors = parse_form({"concurrency": "ten"}, base)
    assert "concurrency" in errors
    _, errors = parse_form({"concurrency": "1001"}, base)
    assert list(errors) == ["concurrency"] and "auto or a whole number from 1 to 1000" in errors["concurrency"]
    ok, errors = parse_form({"concurrency": "auto"}, base)
    assert errors == {} and ok.auto_concurrency
    _, errors = parse_form({"formats": ("srt",)}, base)
    assert list(errors) == ["formats"] and "timestamps" in errors["formats"]
    _, errors = parse_form({"formats": ()}, base)
    assert list(errors) == ["formats"]
    _, errors = parse_form({"output_dir": "  "}, base)
    assert list(errors) == ["output_dir"]


def test_rate_text_says_what_auto_does():
    text = rate_text(Settings(plan="premium"))
    assert text.startswith("auto: as many at once as 300 submits/min x the job time allow (up to 300)")


def test_rate_text_explains_what_concurrency_implies():
    assert rate_text(Settings(plan="premium", concurrency=10)) == (
        "10 at once · 300 requests/min shared by submits and status checks · each job checked about every 2.0 s")
    auto = rate_text(Settings(concurrency=5))
    assert auto.startswith("5 at once · 1 submits/min, 50 status checks/min")
    assert auto.endswith("until deAPI's answers tell the account's limits (then those)")
    basic = rate_text(Settings(plan="basic", concurrency=5, limit_mode="per-endpoint"))
    assert "1 submits/min, 50 status checks/min" in basic
    assert "all 5 slots busy after 5 min" in basic and "at most 10 videos a day" in basic


def test_elapsed_counts_from_when_the_slot_took_the_video():
    view = RunView()
    view.apply(WorkerChanged(0, Activity.SUBMITTING, "k1", "one", since=NOW - 60))
    view.apply(WorkerChanged(0, Activity.TRANSCRIBING, "k1", "one", progress=50, since=NOW - 2))
    assert view.worker_lines(NOW)[0].elapsed == "1m00s"
    view.apply(WorkerChanged(0, Activity.SUBMITTING, "k2", "two", since=NOW - 1))
    assert view.worker_lines(NOW)[0].elapsed == "1s"
    view.apply(WorkerChanged(0, Activity.IDLE, since=NOW))
    assert view.worker_lines(NOW)[0].elapsed == ""


def test_parse_form_maps_the_run_options_to_their_fields(tmp_path):
    base = Settings()
    for values, field in (({"max_attempts": "21"}, "max_attempts"), ({"order": "random"}, "order"),
                          ({"api_base": "deapi.ai"}, "api_base"), ({"template": "{channel}"}, "template"),
                          ({"cookies": str(tmp_path / "none.txt")}, "cookies")):
        settings, errors = parse_form(values, base)
        assert settings is None and list(errors) == [field], values
    settings, errors = parse_form({"lang": " en ", "cookies": "", "metadata": False, "api_base": " http://x "}, base)
    assert errors == {} and (settings.lang, settings.cookies, settings.metadata, settings.api_base) == (
        "en", "", False, "http://x")


def test_the_eta_counts_the_daily_limit_as_the_plan_does():
    from bulk_transcribe.core.events import BucketUsage
    from bulk_transcribe.core.plan import estimate_seconds
    from bulk_transcribe.tui.headless import progress_line

    noon = 19_700 * 86400.0 + 12 * 3600   # a day's noon, UTC
    basic = (BucketUsage("submit", 1, 1, used_today=10, per_day=10), BucketUsage("status", 3, 50, 30, 200))
    # 30 still to submit, today's 10 spent: the engine's pace alone would say 22 minutes.
    p = Progress(40, 10, 0, 0, 30, 600.0, 2.0, 22 * 60.0, basic, 5, 5)
    view = RunView(wall=lambda: noon)
    view.apply(p)
    eta = view.totals().eta_seconds
    assert eta >= 12 * 3600 + 2 * 86400, fmt_duration(eta)   # midnight, then two more resets
    assert fmt_duration(eta).startswith("2d12h")
    # The plan of the whole 40 at the same noon (nothing sent yet) says the same.
    plan_says, basis = estimate_seconds([None] * 40, Settings(plan="basic"), now=noon)
    assert fmt_duration(plan_says).startswith("2d12h") and "3 more days" in basis
    assert "ETA 2d" in progress_line(p)   # headless too


def test_header_numbers_agree_with_each_other():
    view = RunView()
    view.begin(1, 0, 0)   # the first frame, before any Progress: the session's one video is queued
    t = view.totals()
    assert (t.total, t.done, t.in_flight, t.queued, t.videos_per_min) == (1, 0, 0, 1, None)
    # Held to 1 at once after 429s: the engine's "in flight" counts 4 more waiting for a slot.
    view = RunView()
    view.apply(Progress(50, 0, 0, 5, 45, 90.0, 1.0, None, buckets(), concurrency=1, max_concurrency=5))
    view.apply(WorkerChanged(0, Activity.TRANSCRIBING, "k0", "zero", since=NOW))
    for slot in range(1, 5):
        view.apply(WorkerChanged(slot, Activity.WAITING_SLOT, f"k{slot}", "v", detail="1 in flight for now"))
    t = view.totals()
    assert (t.in_flight, t.queued) == (1, 49) and t.done + t.failed + t.in_flight + t.queued == t.total
    # Right after a resume, re-attached jobs land at once: no "57.3/min" from five seconds.
    view = RunView()
    view.apply(Progress(50, 10, 0, 5, 35, 5.0, 57.3, None, buckets(), 5, 5))
    assert view.totals().videos_per_min is None
    view.apply(Progress(50, 12, 0, 5, 33, 61.0, 12.0, None, buckets(), 5, 5))
    assert view.totals().videos_per_min == 12.0


def test_summary_says_what_took_counts_and_how_to_start_afresh():
    from bulk_transcribe.tui.screens.summary import summary_text

    from .fakes import finished

    resumed = summary_text(finished(), "b.txt", 65.0, began=WALL).plain
    assert "this run took 1m05s (session begun 2023-11-14 22:13)" in resumed
    again = summary_text(finished(), "b.txt", 0.0, idle=True).plain
    assert again.startswith("Nothing to do: b.txt") and "took" not in again
    assert "delete the session file" in again and "--session FILE" in again


def test_auto_shows_the_slots_used_not_its_ceiling_and_folds_hundreds():
    """Under auto the level starts low below a ceiling of 300: rows follow the slots used; with
    hundreds in flight the panel stops at MAX_WORKER_ROWS, the last line counting the rest."""
    view = RunView()
    view.apply(Progress(500, 0, 0, 3, 497, 5.0, 0.0, None, buckets(), concurrency=3, max_concurrency=300))
    assert view.slots() == 3 and len(view.worker_lines(NOW)) == 3
    for slot in range(250):
        view.apply(WorkerChanged(slot, Activity.TRANSCRIBING, f"k{slot}", f"v{slot}", since=NOW))
    view.apply(WorkerChanged(249, Activity.IDLE))
    lines = view.worker_lines(NOW)
    assert len(lines) == MAX_WORKER_ROWS
    assert [w.slot for w in lines[-2:]] == [str(MAX_WORKER_ROWS - 1), "+"]
    assert (lines[-1].video, lines[-1].doing) == (f"{250 - MAX_WORKER_ROWS + 1} more slots", "150 of them busy")
