"""The config screen: choose the batch and the run's settings, see what is wrong, start.

Every change re-validates through `parse_form` (the form's rules, then `Settings.validate()`);
every problem is shown at once under its field, in the form's words, the field and its label are
marked, and Start stays disabled; a failed Start moves the focus to the first of them. The batch file is counted in a thread,
debounced, so typing a path never blocks the event loop even for a huge file.
"""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, Label, Select, Static

from ...core.sanitize import clean
from ...core.settings import FORMATS, LIMIT_MODES, MODELS, PLAN_CHOICES, PLANS, Settings
from ..messages import StartRequest, StartRequested
from ..widgets.field import Field
from ..widgets.key_input import ENTERED, KeyInput, key_status
from ..widgets.tick import Tick
from .config_form import NONE, BatchSummary, hint_settings, limit_text, parse_form, rate_text, summarise_batch

TEXT_FIELDS = ("concurrency", "rpm", "status_rpm", "submit_per_day", "status_per_day", "output_dir",
               "lang", "template", "max_attempts", "cookies", "api_base")
ORDER_CHOICES = (("finish soonest (longest first)", "finish"), ("shortest first", "shortest"),
                 ("input order", "input"))
CAPTION_CHOICES = (("off", "off"), ("first", "first"), ("only", "only"))
# Rows holding more than one field: which fields make the row's label red.
ROWS = {"plan": {"plan", "limit_mode"}, "rpm": {"rpm", "status_rpm"},
        "submit_per_day": {"submit_per_day", "status_per_day"}}
# The fields in the order the form shows them (where focus goes on a failed Start).
FOCUS_ORDER = ("batch", "key", "plan", "limit_mode", "rpm", "status_rpm", "submit_per_day", "status_per_day",
               "concurrency", "model", "formats", "output_dir", "template", "lang", "captions", "max_attempts",
               "order", "cookies", "api_base")


def plan_hint(plan: str) -> str:
    if plan not in PLANS:
        submit, submit_day, _, _ = PLANS["basic"]
        return (f"{plan}: starts at Basic's {submit} submit/min, {submit_day}/day and learns the account's "
                f"limits from deAPI's answers")
    submit, submit_day, status, status_day = PLANS[plan]
    daily = f", {submit_day} submits/day" if submit_day else ", no daily limit"
    return f"{plan}: {submit} submits/min, {status} status/min{daily}"


class ConfigScreen(Screen):
    BINDINGS = [Binding("ctrl+s", "start", "start", priority=True)]
    HELP = (("tab", "next field (shift+tab: back)"), ("space", "tick or untick a box; open a drop-down"),
            ("ctrl+s", "start: shows the plan first, nothing is spent before it"),
            ("", "each problem is shown under its field; Start waits for none"))
    HELP_TITLE = "Keys on the config screen"

    def __init__(self, *, settings: Settings, api_key: str | None, key_source: str,
                 batch_path: str = "", key_required: bool = True) -> None:
        super().__init__()
        self.base = settings
        self.api_key = api_key
        self.key_source = key_source
        self.batch_path = batch_path
        self.key_required = key_required
        self.batch: BatchSummary | None = None
        self.errors: dict[str, str] = {}
        self.settings: Settings | None = settings
        self.busy = False   # a Start is being prepared

    # -- layout ---------------------------------------------------------------------
    def _row(self, label: str, *widgets: Widget, name: str = "") -> ComposeResult:
        with Horizontal(classes="row", id=f"row-{name}" if name else None):
            yield Label(label, classes="field-label")
            yield from widgets
        if name:
            yield Static("", id=f"err-{name}", classes="field-error", markup=False)

    def compose(self) -> ComposeResult:
        s = self.base
        with VerticalScroll(id="form"):
            yield Static(Text("New batch", style="bold"), id="form-title")
            yield from self._row("Batch file", Field(self.batch_path, id="batch", compact=True,
                                 placeholder="text file, one video URL per line"), name="batch")
            yield Static("", id="batch-info", markup=False)
            yield from self._row("API key", Static("", id="key-status", markup=False), name="key")
            yield from self._row("", KeyInput(id="key"))
            yield from self._row("", Tick("save this key in the config file (0600)",
                                 id="save_key", compact=True))
            plans = [(p, p) for p in PLAN_CHOICES]
            yield from self._row("Plan", Select(plans, value=s.plan, allow_blank=False, id="plan", compact=True),
                                 Label("limits", classes="sub"),
                                 Select([(m, m) for m in LIMIT_MODES], value=s.limit_mode, allow_blank=False,
                                        id="limit_mode", compact=True), name="plan")
            yield Static("", id="err-limit_mode", classes="field-error", markup=False)
            yield Static(plan_hint(s.plan), id="plan-hint", classes="hint", markup=False)
            # One convention for every limit: empty is the plan's (its value shows dimmed), none is no limit.
            submit, submit_day, status, status_day = s.preset   # under auto: Basic's, where it starts
            yield from self._row("Per minute", Label("submit", classes="sub"),
                                 Field(limit_text("rpm", s.rpm), id="rpm", compact=True, classes="num",
                                       placeholder=str(submit)),
                                 Label("status", classes="sub"),
                                 Field(limit_text("status_rpm", s.status_rpm), id="status_rpm", compact=True,
                                       classes="num", placeholder=str(status)), name="rpm")
            yield Static("", id="err-status_rpm", classes="field-error", markup=False)
            yield from self._row("Per day", Label("submit", classes="sub"),
                                 Field(limit_text("submit_per_day", s.submit_per_day), id="submit_per_day",
                                       compact=True, classes="num", placeholder=str(submit_day or NONE)),
                                 Label("status", classes="sub"),
                                 Field(limit_text("status_per_day", s.status_per_day), id="status_per_day",
                                       compact=True, classes="num", placeholder=str(status_day or NONE)),
                                 name="submit_per_day")
            yield Static("", id="err-status_per_day", classes="field-error", markup=False)
            yield Static(f"empty: the plan's limit (shown dim) · {NONE}: no daily limit", id="limits-hint",
                         classes="hint", markup=False)
            yield from self._row("Concurrency", Field("auto" if s.auto_concurrency else str(s.concurrency),
                                 id="concurrency", compact=True, classes="num"),
                                 Label("auto or 1-1000", classes="sub hint"), name="concurrency")
            yield Static("", id="rate", classes="hint", markup=False)
            yield from self._row("Model", Select([(m, m) for m in MODELS], value=s.model, allow_blank=False,
                                 id="model", compact=True), name="model")
            yield from self._row("Timestamps", Tick("segment timestamps", s.timestamps,
                                 id="timestamps", compact=True))
            yield from self._row("Formats", *(Tick(f, f in s.formats, id=f"fmt-{f}", compact=True,
                                 classes="fmt") for f in FORMATS), name="formats")
            yield from self._row("Output folder", Field(s.output_dir, id="output_dir", compact=True),
                                 name="output_dir")
            yield from self._row("File names", Field(s.template, id="template", compact=True,
                                 placeholder="{title} [{id}]"), name="template")
            yield from self._row("Language", Field(s.lang, id="lang", compact=True, classes="num",
                                                          placeholder="detect"),
                                 Label("a code like en or de; empty: detect", classes="sub hint"), name="lang")
            yield from self._row("Captions", Select(CAPTION_CHOICES, value=s.captions, allow_blank=False,
                                 id="captions", compact=True),
                                 Tick("automatic too (lower quality)", s.captions_auto, id="captions_auto",
                                      compact=True), name="captions")
            yield Static("a video's own captions, free: first = else deAPI, only = never pay; sites block "
                         "servers that fetch many and have flagged the cookies' accounts",
                         id="captions-hint", classes="hint", markup=False)
            yield from self._row("Max attempts", Field(str(s.max_attempts), id="max_attempts", compact=True,
                                 classes="num"), Label("submits per video, 1-20", classes="sub hint"),
                                 name="max_attempts")
            yield from self._row("Order", Select(ORDER_CHOICES, value=s.order, allow_blank=False, id="order",
                                 compact=True), name="order")
            yield from self._row("Metadata", Tick("read titles and durations first (yt-dlp)", s.metadata,
                                 id="metadata", compact=True))
            yield from self._row("Cookies file", Field(s.cookies, id="cookies", compact=True,
                                 placeholder="optional: for YouTube's bot check"), name="cookies")
            yield from self._row("API base", Field(s.api_base, id="api_base", compact=True), name="api_base")
            yield Static("", id="err-settings", classes="field-error", markup=False)
            with Horizontal(classes="row", id="start-row"):
                yield Button("Start", id="start", variant="primary", compact=True)
                yield Tick("remember these settings", True, id="remember", compact=True)
            yield Static("", id="status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        if getattr(self.app, "testing", False):
            for field in self.query(Input):
                field.cursor_blink = False
        self._show_key()
        self.revalidate()
        self._count_batch(self.batch_path, delay=0.0)
        self.query_one("#batch", Input).focus()

    # -- reacting -------------------------------------------------------------------
    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "batch":
            self._count_batch(event.value)
        elif event.input.id == "key":
            self._show_key()
        self.revalidate()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "plan" and event.value in PLAN_CHOICES:
            self.query_one("#plan-hint", Static).update(plan_hint(str(event.value)))
            submit, submit_day, status, status_day = PLANS.get(str(event.value), PLANS["basic"])
            for name, value in (("rpm", submit), ("status_rpm", status), ("submit_per_day", submit_day),
                                ("status_per_day", status_day)):
                self.query_one(f"#{name}", Field).placeholder = str(value or NONE)
        self.revalidate()

    def on_checkbox_changed(self, event: Tick.Changed) -> None:
        self.revalidate()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.action_start()

    def _count_batch(self, path: str, delay: float = 0.25) -> None:
        self.batch = None
        self.query_one("#batch-info", Static).update("counting…" if path.strip() else "")
        self.run_worker(self._count(path, delay), group="batch", exclusive=True)

    async def _count(self, path: str, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)   # debounce: count once the user stops typing
        try:
            summary = await asyncio.to_thread(summarise_batch, path)
        except ImportError:
            summary = BatchSummary(error="this build cannot read batch files yet")
        self.batch = summary
        self._show_batch(summary)
        self.revalidate()

    def _show_batch(self, b: BatchSummary) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        if not b.error:
            text.append(f"{b.valid} valid · {b.invalid} invalid · {b.duplicates} duplicate")
            for number, line, why in b.bad:   # one screen line each, whatever the input
                text.append("\n" + clean(f"  line {number}: {clean(line, 24)} - {why}", 62))
        self.query_one("#batch-info", Static).update(text)

    def _show_key(self) -> None:
        typed = self.query_one("#key", Input).value.strip()
        self.query_one("#key-status", Static).update(
            key_status(typed, self.api_key, self.key_source, self.key_required))

    def form_values(self) -> dict:
        values: dict = {name: self.query_one(f"#{name}", Input).value for name in TEXT_FIELDS}
        for name in ("plan", "limit_mode", "model", "order", "captions"):
            values[name] = self.query_one(f"#{name}", Select).value
        values["timestamps"] = self.query_one("#timestamps", Tick).value
        values["metadata"] = self.query_one("#metadata", Tick).value
        values["captions_auto"] = self.query_one("#captions_auto", Tick).value
        values["formats"] = tuple(f for f in FORMATS if self.query_one(f"#fmt-{f}", Tick).value)
        return values

    def revalidate(self) -> None:
        """Re-check everything; show each problem under its field; enable Start only when clean."""
        self.settings, errors = parse_form(self.form_values(), self.base)
        if self.batch is None:
            errors.setdefault("batch", "")        # still counting: not an error, but not ready
        elif self.batch.error:
            errors["batch"] = self.batch.error
        elif not self.batch.valid:
            errors["batch"] = "the batch has no valid video URL"
        if self.key_required and not (self.api_key or self.query_one("#key", Input).value.strip()) \
                and self.form_values()["captions"] != "only":   # captions only pays nothing: no key needed
            errors["key"] = "an API key is needed to start"
        self.errors = errors
        shown = {(w.id or "")[4:] for w in self.query(".field-error")}
        orphans = [m for k, m in errors.items() if (k not in shown or k == "settings") and m]
        for widget in self.query(".field-error"):
            name = (widget.id or "")[4:]
            message = errors.get(name, "") if name != "settings" else "; ".join(orphans)
            widget.update(message)
            widget.display = bool(message)
        # Every wrong field is marked at once: its row's label, and the field itself.
        bad = {name for name, message in errors.items() if message}
        for row in self.query(".row"):
            row.set_class(bool(ROWS.get((row.id or "")[4:], {(row.id or "")[4:]}) & bad), "invalid")
        for widget in self.query(".row Field, .row Select, .row Tick.fmt"):
            name = "formats" if (widget.id or "").startswith("fmt-") else widget.id
            widget.set_class(name in bad, "invalid")
        # The hints follow the fields even while another one is wrong.
        hinted = self.settings or hint_settings(self.form_values(), self.base)
        self.query_one("#rate", Static).update(rate_text(hinted) if hinted is not None and "concurrency" not in bad
                                               else "")
        self.query_one("#start", Button).disabled = bool(errors) or self.busy

    def first_invalid(self) -> Widget | None:
        """The first field, in the form's order, that is wrong (None when none is)."""
        for name in FOCUS_ORDER:
            if self.errors.get(name):
                return self.query_one(f"#{'fmt-' + FORMATS[0] if name == 'formats' else name}")
        return None

    def preparing(self, message: str | None) -> None:
        """Show what preparing the batch is doing; `None` when it ended (Start works again)."""
        self.busy = message is not None
        self.query_one("#status", Static).update(clean(message or "", 200))
        self.query_one("#start", Button).disabled = self.busy or bool(self.errors)

    def action_start(self) -> None:
        if self.busy:
            return
        self.revalidate()
        if self.errors or self.settings is None:
            first = self.first_invalid()
            if first is not None:
                first.focus()
                first.scroll_visible(animate=False)
            self.notify("Fix the fields marked in red first (each says what is wrong under it).",
                        severity="warning")
            return
        typed = self.query_one("#key", Input).value.strip()
        self.post_message(StartRequested(StartRequest(
            settings=self.settings,
            batch_path=self.query_one("#batch", Input).value.strip(),
            api_key=typed or self.api_key,
            key_source=ENTERED if typed else self.key_source,
            save_key=bool(typed) and self.query_one("#save_key", Tick).value,
            remember=self.query_one("#remember", Tick).value,
            overrides=self.changed(),
        )))

    def changed(self) -> dict:
        """The settings the user changed on this screen (what a resumed session takes from it)."""
        if self.settings is None:
            return {}
        return {name: getattr(self.settings, name) for name in Settings.__dataclass_fields__
                if getattr(self.settings, name) != getattr(self.base, name)}
