"""The plan as the command line prints it: a table that fits its width, and JSON lines."""

from __future__ import annotations

import json

import anyio
import pytest

from bulk_transcribe.core.plan import build_plan
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.tui.text import format_plan_table, plan_rows_json
from tests.core.test_plan import IDS, seed_cache, watch, write_batch

pytestmark = pytest.mark.anyio


async def test_json_rows_then_totals_and_table(tmp_path):
    cache = tmp_path / "cache"
    seed_cache(cache, {IDS[0]: 3725.0})
    batch = write_batch(tmp_path, [watch(IDS[0]), watch(IDS[1]), "not a url at all"])
    plan = await build_plan(batch, Settings(metadata=False), cache_dir=cache)
    rows = list(plan_rows_json(plan))
    assert [r.get("totals") for r in rows] == [None, None, True]
    for row in rows[:-1]:
        assert {"url", "id", "title", "duration", "supported"} <= set(row)
        json.dumps(row)
    assert rows[0]["duration"] == 3725.0 and rows[1]["duration"] is None
    assert rows[-1]["videos"] == 2 and rows[-1]["unknown_durations"] == 1
    assert any(p["category"] == "input" and p["line"] == 3 for p in rows[-1]["problems"])
    json.dumps(rows[-1])

    table = format_plan_table(plan, width=100)
    assert all(len(line) <= 100 for line in table.splitlines())
    assert IDS[0] in table and "1:02:05" in table and "cost: $" in table and "line 3" in table


async def test_price_groups_and_notes_are_shown(tmp_path):
    from tests.core.test_plan import TIKTOK_A, X_A, FakeClient, seed_urls

    cache = tmp_path / "cache"
    seed_urls(cache, {watch(IDS[0]): 600.0, X_A: 60.0, TIKTOK_A: 30.0})
    plan = await build_plan(write_batch(tmp_path, [watch(IDS[0]), X_A, TIKTOK_A]), Settings(), cache_dir=cache,
                            client=FakeClient(fail_platforms=("twitter",)))
    rows = list(plan_rows_json(plan))
    totals = rows[-1]
    groups = {g["platform"]: g for g in totals["price_groups"]}
    assert groups["youtube"]["quoted"] and groups["tiktok"]["quoted"] and not groups["twitter"]["quoted"]
    assert groups["tiktok"]["model"] == "WhisperLargeV3Ct2"
    assert {r["url"]: r["price_quoted"] for r in rows[:-1]}[X_A] is False
    assert any("TikTok" in n for n in totals["notes"])
    json.dumps(totals)
    table = format_plan_table(plan, width=100)
    assert "twitter (WhisperLargeV3): 1 video(s)" in table and "estimated (price route failed" in table
    assert "quoted by deAPI" in table and "TikTok" in table
    # the default --plan auto: the totals say the limits will be learned
    assert rows[-1]["limits_source"] == "auto"
    assert rows[-1]["limits"] == "auto: starts at Basic's limits and learns the account's from deAPI's answers"
    assert "rate limits: auto: starts at Basic's limits and learns the account's from deAPI's" in table


async def test_the_plan_says_where_its_limits_come_from(tmp_path):
    batch = write_batch(tmp_path, [watch(IDS[0])])
    for settings, source, words in (
            (Settings(metadata=False, plan="premium"), "preset", "the premium plan's published limits"),
            (Settings(metadata=False, plan="basic", rpm=1, status_rpm=5, submit_per_day=3, status_per_day=9),
             "flags", "--rpm 1, --status-rpm 5, --submit-per-day 3, --status-per-day 9"),
            (Settings(metadata=False, plan="basic", rpm=1), "preset+flags", "--rpm 1, otherwise the basic plan's"),
            (Settings(metadata=False, rpm=60), "auto", "(--rpm 60 as a cap)")):
        totals = list(plan_rows_json(await build_plan(batch, settings, cache_dir=None)))[-1]
        assert totals["limits_source"] == source and words in totals["limits"], totals["limits"]
        submit = next(lim for lim in totals["limit_origins"] if lim["limit"] == "submit" and lim["per"] == "minute")
        assert submit == {"limit": "submit", "per": "minute", "value": settings.submit_rpm,
                          "origin": "flag" if settings.rpm else "preset"}
async def test_the_plan_table_and_json_show_hostile_titles_safely(tmp_path, capsys):
    """`bulk-transcribe plan` prints titles: cleaned in the table, escaped in JSON lines."""
    import argparse
    import dataclasses
    from unittest import mock

    from bulk_transcribe.tui import commands
    from tests.core.test_sanitize import FORBIDDEN, HOSTILE_TITLE

    batch = write_batch(tmp_path, [watch(IDS[0])])
    plan = await build_plan(batch, Settings(metadata=False), cache_dir=tmp_path / "cache")
    plan.rows[0] = dataclasses.replace(plan.rows[0], title=HOSTILE_TITLE)
    table = format_plan_table(plan, width=200)
    assert not FORBIDDEN.search(table.replace("\n", "")) and "gpj.exe" in table

    args = argparse.Namespace(batch=str(batch), json=True)
    with mock.patch.object(commands, "load_settings", return_value=Settings(metadata=False)), \
            mock.patch.object(commands, "resolve_api_key", return_value=("", "")), \
            mock.patch.object(commands, "build_plan", mock.AsyncMock(return_value=plan)):
        await anyio.to_thread.run_sync(commands.run_plan, args)   # it runs its own event loop
    lines = capsys.readouterr().out.splitlines()
    assert all(" " <= ch <= "~" for line in lines for ch in line)
    assert json.loads(lines[0])["title"] == HOSTILE_TITLE


async def test_the_plan_fits_80_columns_and_says_unknown_not_zero(tmp_path, capsys):
    """`bulk-transcribe plan` (issue 11): every line fits an 80-column terminal, a batch with no
    known length costs "unknown" (JSON null), never "$0.0000", and no price formula is printed."""
    import argparse
    from unittest import mock

    from bulk_transcribe.tui import commands

    batch = write_batch(tmp_path, [watch(IDS[0]), watch(IDS[1]), "https://www.youtube.com/watch?v=" + IDS[0],
                                   "not a url at all, with a long explanation after it that wraps"])
    plan = await build_plan(batch, Settings(metadata=False), cache_dir=tmp_path / "cache")
    args = argparse.Namespace(batch=str(batch), json=False)
    with mock.patch.object(commands, "load_settings", return_value=Settings(metadata=False)), \
            mock.patch.object(commands, "resolve_api_key", return_value=("", "")), \
            mock.patch.object(commands, "build_plan", mock.AsyncMock(return_value=plan)):
        await anyio.to_thread.run_sync(commands.run_plan, args)   # stdout is not a terminal: 80 columns
    table = capsys.readouterr().out
    assert max(len(line) for line in table.splitlines()) <= 80, table
    assert "$0.0000" not in table and "cost: unknown" in table, table
    for formula in ("per hour of audio", "per job", "assumed from", "s a job"):
        assert formula not in table, formula
    totals = list(plan_rows_json(plan))[-1]
    assert totals["estimated_cost"] is None and totals["unknown_durations"] == 2
    json.dumps(totals)


async def test_a_known_length_is_priced_and_the_unknown_ones_are_counted(tmp_path):
    cache = tmp_path / "cache"
    seed_cache(cache, {IDS[0]: 300.0})
    plan = await build_plan(write_batch(tmp_path, [watch(IDS[0]), watch(IDS[1])]), Settings(metadata=False),
                            cache_dir=cache)
    table = format_plan_table(plan)
    assert max(len(line) for line in table.splitlines()) <= 80
    assert "cost: $0.0089 (from deAPI's published prices; 1 more of unknown length" in table, table
    assert list(plan_rows_json(plan))[-1]["estimated_cost"] == pytest.approx(0.0089, abs=1e-4)


async def test_the_plan_shows_the_limits_its_answers_taught_with_their_origin(tmp_path):
    """A shared Premium-like account that tells its limits only in headers: JSON, table and the
    app's plan screen all say submits go at its 300/min, from a header."""
    from bulk_transcribe.core.simulator.config import SimConfig
    from bulk_transcribe.core.simulator.server import SimServer
    from bulk_transcribe.tui.screens.plan import totals_text

    cache = tmp_path / "cache"
    seed_cache(cache, {IDS[0]: 600.0})
    with SimServer(SimConfig(shared_limits=True, account_rpm=300)) as sim:
        plan = await build_plan(write_batch(tmp_path, [watch(IDS[0])]), Settings(api_base=sim.base_url),
                                api_key="test-key", cache_dir=cache)
    totals = list(plan_rows_json(plan))[-1]
    json.dumps(totals)
    assert totals["limits_source"] == "header"
    by = {(lim["limit"], lim["per"]): (lim["value"], lim["origin"]) for lim in totals["limit_origins"]}
    assert by[("submit", "minute")] == (300, "header") and by[("account", "minute")] == (300, "header")
    assert by[("status", "minute")][1] == "preset", "no status answer yet: still the start's"
    table = format_plan_table(plan, width=200)
    assert "rate limits: auto: at the limits deAPI's answers to the plan gave" in table
    assert "submit 300/min (header)" in table
    screen = totals_text(plan.totals).plain
    assert "at deAPI's 300 submits/min (header)" in screen and "Basic" not in screen
