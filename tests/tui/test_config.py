"""The config screen: inline validation blocks Start, the key stays out of files unless asked."""

from __future__ import annotations

import os
import tomllib

import pytest
from textual.widgets import Button, Input, Select

from bulk_transcribe.core.paths import config_path
from bulk_transcribe.tui.screens import config as config_screen
from bulk_transcribe.tui.screens.config import ConfigScreen
from bulk_transcribe.tui.screens.config_form import BatchSummary

from .fakes import make_app, settle, text

pytestmark = pytest.mark.anyio



def recording_starts(monkeypatch, **app_args):
    """An app whose Start records the request instead of showing the plan: (app, requests)."""
    started: list = []
    app = make_app(**app_args)
    monkeypatch.setattr(app, "show_plan", lambda request, auto_start=False: started.append(request))
    return app, started

@pytest.fixture
def batch_counts(monkeypatch):
    """Batch reading is core.batch's job (tested there); here a fixed count per path."""
    def fake(path: str, show_bad: int = 5) -> BatchSummary:
        if path == "good.txt":
            return BatchSummary(valid=3, invalid=1, duplicates=1, bad=[(4, "not a url", "not a video URL")])
        if path == "empty.txt":
            return BatchSummary(valid=0, invalid=2)
        return BatchSummary(error=f"no such file: {path}")
    monkeypatch.setattr(config_screen, "summarise_batch", fake)




async def type_into(pilot, selector: str, value: str) -> None:
    field = pilot.app.screen.query_one(selector, Input)
    field.value = value
    await settle(pilot)


async def test_problems_are_explained_inline_and_block_start(batch_counts):
    app = make_app(api_key=None, key_source="")
    async with app.run_test(size=(80, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ConfigScreen)
        start = screen.query_one("#start", Button)
        assert start.disabled
        assert "no such file" in text(screen, "#err-batch")
        assert "API key is needed" in text(screen, "#err-key")

        await type_into(pilot, "#batch", "good.txt")
        assert "3 valid · 1 invalid · 1 duplicate" in text(screen, "#batch-info")
        assert "line 4: not a url" in text(screen, "#batch-info")
        await type_into(pilot, "#key", "sk-run-only-1234567890")
        assert "entered for this run" in text(screen, "#key-status")
        assert "sk-run-only" not in text(screen, "#key-status")
        assert not start.disabled

        await type_into(pilot, "#concurrency", "1001")
        assert "auto or a whole number from 1 to 1000" in text(screen, "#err-concurrency") and start.disabled
        await type_into(pilot, "#concurrency", "ten")
        assert "whole number" in text(screen, "#err-concurrency")
        await type_into(pilot, "#concurrency", "10")
        assert "10 at once" in text(screen, "#rate") and not start.disabled

        screen.query_one("#fmt-srt").value = True
        await settle(pilot)
        assert "timestamps" in text(screen, "#err-formats") and start.disabled
        screen.query_one("#fmt-srt").value = False
        await type_into(pilot, "#batch", "empty.txt")
        assert "no valid video URL" in text(screen, "#err-batch") and start.disabled


async def test_start_saves_settings_and_the_key_only_when_asked(batch_counts, monkeypatch):
    app, started = recording_starts(monkeypatch, batch_path="good.txt")
    async with app.run_test(size=(80, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        await type_into(pilot, "#concurrency", "7")
        screen.query_one("#plan", Select).value = "basic"
        await settle(pilot)
        assert "basic: 1 submits/min" in text(screen, "#plan-hint")
        await pilot.press("ctrl+s")
        await settle(pilot)
    request = started[0]
    assert request.settings.concurrency == 7 and request.settings.plan == "basic"
    assert request.api_key == "sk-test-0123456789abcdef" and request.key_source == "DEAPI_API_KEY"
    saved = tomllib.loads(config_path().read_text())
    assert saved["concurrency"] == 7 and "api_key" not in saved
    assert os.stat(config_path()).st_mode & 0o777 == 0o600


async def test_a_key_entered_for_the_run_is_saved_only_with_the_box_ticked(batch_counts, monkeypatch):
    app, started = recording_starts(monkeypatch, api_key=None, key_source="", batch_path="good.txt")
    async with app.run_test(size=(80, 40)) as pilot:
        await settle(pilot)
        await type_into(pilot, "#key", "sk-typed-abcdefghijkl")
        app.screen.query_one("#save_key").value = True
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert started[0].key_source == "entered for this run" and started[0].save_key
    assert tomllib.loads(config_path().read_text())["api_key"] == "sk-typed-abcdefghijkl"


async def test_the_run_options_are_on_the_form_validated_inline(batch_counts, monkeypatch, tmp_path):
    app, started = recording_starts(monkeypatch, batch_path="good.txt")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        start = screen.query_one("#start", Button)
        assert not start.disabled
        for field, bad, needle in (("#max_attempts", "0", "1 to 20"), ("#max_attempts", "x", "whole number"),
                                   ("#api_base", "ftp://deapi", "http(s) URL"), ("#template", "{channel}", "{id}"),
                                   ("#cookies", str(tmp_path / "missing.txt"), "no such file")):
            good = screen.query_one(field, Input).value
            await type_into(pilot, field, bad)
            assert needle in text(screen, f"#err-{field[1:]}") and start.disabled, field
            await type_into(pilot, field, good)
            assert not start.disabled, field
        cookies = tmp_path / "cookies.txt"
        cookies.write_text("# Netscape HTTP Cookie File\n")
        await type_into(pilot, "#cookies", str(cookies))
        await type_into(pilot, "#lang", " de ")
        await type_into(pilot, "#max_attempts", "5")
        await type_into(pilot, "#template", "{id}")
        screen.query_one("#order", Select).value = "input"
        screen.query_one("#metadata").value = False
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
    s = started[0].settings
    assert (s.lang, s.max_attempts, s.template, s.order, s.metadata, s.cookies) == (
        "de", 5, "{id}", "input", False, str(cookies))


async def test_remember_writes_only_what_was_changed_on_the_screen(batch_counts, monkeypatch):
    from bulk_transcribe.core.config import load_settings

    monkeypatch.setenv("DEAPI_BASE_URL", "http://env.example")
    # settings as the command line builds them
    app, started = recording_starts(monkeypatch, batch_path="good.txt", settings=load_settings({}))
    async with app.run_test(size=(80, 40)) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#api_base", Input).value == "http://env.example"
        await type_into(pilot, "#concurrency", "7")
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert started and started[0].settings.api_base == "http://env.example"   # used for this run
    assert tomllib.loads(config_path().read_text()) == {"concurrency": 7}   # but not remembered


async def test_every_wrong_field_is_marked_at_once_in_the_forms_words_and_start_focuses_the_first(batch_counts):
    from textual.widgets import Label

    app = make_app(batch_path="good.txt")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        await type_into(pilot, "#lang", "english")
        await type_into(pilot, "#concurrency", "9")
        assert text(screen, "#rate").startswith("9 at once"), "the hint follows its field while another is wrong"
        for field, bad in (("#concurrency", "1001"), ("#max_attempts", "0"), ("#submit_per_day", "-1")):
            await type_into(pilot, field, bad)
        errors = {name: text(screen, f"#err-{name}") for name in ("lang", "concurrency", "max_attempts",
                                                                 "submit_per_day")}
        assert all(errors.values()), errors                      # all four at once
        assert not any("--" in m for m in errors.values()), errors   # the form's words, not flags
        assert "Concurrency must be auto or a whole number from 1 to 1000" in errors["concurrency"]
        assert "none for no daily limit, or empty for the plan's" in errors["submit_per_day"]
        assert "not a language code" in errors["lang"]
        assert text(screen, "#rate") == "", "no hint for a concurrency that is wrong"
        for row in ("#row-lang", "#row-concurrency", "#row-max_attempts", "#row-submit_per_day"):
            assert screen.query_one(row).has_class("invalid"), row
        assert not screen.query_one("#row-model").has_class("invalid")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert screen.query_one("#submit_per_day").has_focus   # the first wrong one, in the form's order
        assert "limits" in [str(w.render()) for w in screen.query_one("#row-plan").query(Label)]


async def test_limits_read_empty_for_the_plans_and_none_for_no_limit(batch_counts, monkeypatch):
    from bulk_transcribe.core.settings import Settings

    app, started = recording_starts(monkeypatch, batch_path="good.txt",
                                    settings=Settings(plan="premium", submit_per_day=0, rpm=0))
    async with app.run_test(size=(80, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert screen.query_one("#rpm", Input).value == "" and screen.query_one("#rpm", Input).placeholder == "300"
        assert screen.query_one("#submit_per_day", Input).value == "none"
        assert screen.query_one("#status_per_day", Input).value == ""
        screen.query_one("#plan", Select).value = "basic"
        await settle(pilot)
        assert screen.query_one("#status_per_day", Input).placeholder == "200"   # what empty means now
        await type_into(pilot, "#status_rpm", "40")
        await pilot.press("ctrl+s")
        await settle(pilot)
    s = started[0].settings
    assert (s.rpm, s.status_rpm, s.submit_per_day, s.status_per_day) == (0, 40, 0, -1)


async def test_the_captions_switch_reaches_the_run(batch_counts, monkeypatch):
    app, started = recording_starts(monkeypatch, batch_path="good.txt")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert screen.query_one("#captions", Select).value == "off", "off until the user asks"
        assert "sites block" in text(screen, "#captions-hint")
        screen.query_one("#captions", Select).value = "only"
        screen.query_one("#captions_auto").value = True
        screen.query_one("#fmt-srt").value = True   # captions carry their times: no deAPI segments needed
        await settle(pilot)
        assert not screen.query_one("#start", Button).disabled
        await pilot.press("ctrl+s")
        await settle(pilot)
    s = started[0].settings
    assert (s.captions, s.captions_auto, "srt" in s.formats) == ("only", True, True)


async def test_captions_only_needs_no_key_to_start(batch_counts):
    """`--captions only` never pays, so the form asks for no key when it is chosen."""
    app = make_app(api_key=None, key_source="", batch_path="good.txt")
    async with app.run_test(size=(80, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert "API key is needed" in text(screen, "#err-key")
        screen.query_one("#captions", Select).value = "only"
        await settle(pilot)
        assert text(screen, "#err-key") == ""
        assert not screen.query_one("#start", Button).disabled
