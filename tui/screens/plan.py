"""The plan before spending: what a new batch will run, cost and take, shown before anything is paid.

The plan is core's (`core.plan.build_plan`); this screen builds it in a worker (it may call
yt-dlp for every video), shows what it is doing meanwhile, then renders the rows a chunk at a
time, the totals and the problems. Enter starts; a plan whose estimate exceeds the balance
starts only after an explicit yes. With `auto_start` (the command line's `--start`) a plan
within the balance starts by itself and only one beyond it stops to ask.
"""

from __future__ import annotations

from typing import Awaitable, Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, LoadingIndicator, Static

from ...core.durations import fmt_duration
from ...core.plan import Plan, PlanTotals
from ...core.sanitize import clean
from ..messages import PlanAccepted, PlanDismissed, StartNowRequested
from ..text import cost_words, plan_cost_known
from ..widgets.plan_table import PlanTable
from ..widgets.table import literal
from .modals import Confirm

PlanBuilder = Callable[[Callable[[str], None]], Awaitable[Plan]]
MAX_PROBLEMS = 200   # problem rows shown; the rest are counted


def totals_text(t: PlanTotals) -> Text:
    """The plan's totals in four short lines (80 columns), plus one per note (TikTok's model)."""
    text = Text()
    text.append(f"{t.videos} video{'' if t.videos == 1 else 's'}", style="bold")
    text.append(f": {t.to_run} to run")
    dropped = f"duplicate{'' if t.duplicates == 1 else 's'} dropped"
    for n, what in ((t.done_already, "done already"), (t.unsupported, "uploaded (hosts deAPI does not fetch)"),
                    (t.duplicates, dropped)):
        if n:
            text.append(f" · {n} {what}")
    unknown = f" ({t.unknown_durations} of unknown length)" if t.unknown_durations else ""
    text.append(f"\naudio {t.hours:.2f} h{unknown} · time about {fmt_duration(t.estimated_seconds)}")
    submit = t.limit("submit")
    if t.limits_source == "auto":
        text.append(" at Basic's limits (learns the account's)")
    elif t.limits_source == "header" and submit is not None and submit.value:
        text.append(f" at deAPI's {submit.value} submits/min (header)")
    if plan_cost_known(t):
        text.append(f"\ncost about ${t.estimated_cost:.4f}", style="bold")
        text.append(f" ({t.cost_basis})")
    else:
        amount, basis = cost_words(t)
        text.append(f"\ncost {amount}", style="bold")
        text.append(f" ({basis})")
    for note in t.notes:
        text.append(f"\n{note}")
    if t.balance is None:
        text.append("\nbalance not known")
    elif t.exceeds_balance:
        text.append(f"\nbalance ${t.balance:.2f}: NOT ENOUGH for this batch, starting asks first",
                    style="bold reverse")
    else:
        text.append(f"\nbalance ${t.balance:.2f}")
    return text


def over_balance(t: PlanTotals) -> Confirm:
    return Confirm(
        f"Estimated ${t.estimated_cost:.2f} exceeds your balance ${t.balance or 0:.2f}: start anyway?",
        "deAPI refuses submits once the balance runs out; videos after that fail and can be "
        "retried after a top-up. Nothing is spent before you say yes.",
        yes="start anyway", no="back to the plan")


class PlanScreen(Screen):
    BINDINGS = [
        Binding("enter,s", "start", "start"),
        Binding("n", "start_now", "start now"),
        Binding("escape", "back", "back"),
    ]
    HELP = (("↑ ↓", "move through the videos (more load as you go)"),
            ("enter, s", "start (asks first when the estimate exceeds the balance)"),
            ("escape", "back to the settings; nothing is spent"))
    HELP_TITLE = "Keys on the plan"

    def __init__(self, build: PlanBuilder, *, title: str, auto_start: bool = False, output_dir: str = "") -> None:
        super().__init__()
        self.build, self.plan_title, self.auto_start = build, title, auto_start
        self.output_dir = output_dir   # where the transcripts will go (absolute), shown with the totals
        self.plan: Plan | None = None
        self.started = False
        self._progress = ""

    def compose(self) -> ComposeResult:
        yield Static(Text(f"Plan: {clean(self.plan_title, 70)}", style="bold"), id="plan-title")
        with Vertical(id="plan-loading"):
            yield LoadingIndicator()
            yield Static("reading the batch…", id="plan-progress", markup=False)
        yield Static("", id="plan-totals", markup=False)
        yield PlanTable(id="plan-rows")
        yield Static("", id="plan-more", markup=False)
        yield DataTable(id="plan-problems", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        for widget in ("#plan-totals", "#plan-rows", "#plan-more", "#plan-problems"):
            self.query_one(widget).display = False
        problems = self.query_one("#plan-problems", DataTable)
        problems.add_column("line", key="line", width=5)
        problems.add_column("problem", key="problem", width=12)
        problems.add_column("source and reason", key="message", width=55)   # 80 columns
        self.set_interval(0.25, self._show_progress)   # progress lines repaint at a bounded rate
        self.run_worker(self._build(), group="plan", exclusive=True, exit_on_error=False)

    # -- building -----------------------------------------------------------------------
    def _say(self, line: str) -> None:
        self._progress = line

    def _show_progress(self) -> None:
        if self.plan is None and self._progress:
            self.query_one("#plan-progress", Static).update(clean(self._progress, 200))

    async def _build(self) -> None:
        try:
            plan = await self.build(self._say)
        except Exception as exc:   # BatchError and any other: say it, stay, esc goes back
            self.query_one(LoadingIndicator).display = False
            self.query_one("#plan-progress", Static).update(
                clean(f"No plan: {exc}. Press escape to go back.", 300))
            return
        self.show_plan(plan)
        if self.auto_start:
            self.action_start()

    def show_plan(self, plan: Plan) -> None:
        self.plan = plan
        self.query_one("#plan-loading").display = False
        totals = totals_text(plan.totals)
        if self.output_dir:
            totals.append(f"\ntranscripts to {clean(self.output_dir, 300)}")
        self.query_one("#plan-totals", Static).update(totals)
        self.query_one("#plan-totals").display = True
        table = self.query_one(PlanTable)
        table.display = True
        table.show(plan.rows)
        if plan.problems:
            problems = self.query_one("#plan-problems", DataTable)
            rows = [(literal(str(p.line or "")), literal(p.category),
                     literal(clean(f"{p.url} - {p.message}" if p.url else p.message, 400)))
                    for p in plan.problems[:MAX_PROBLEMS]]
            if len(plan.problems) > MAX_PROBLEMS:
                rows.append((literal(""), literal(""), literal(f"… {len(plan.problems) - MAX_PROBLEMS} more")))
            problems.add_rows(rows)
            problems.display = True
        table.focus()

    def on_plan_table_loaded(self, event: PlanTable.Loaded) -> None:
        more = self.query_one("#plan-more", Static)
        left = event.total - event.shown
        more.update(f"… {left} more (move down to load them)" if left else "")
        more.display = bool(left)

    # -- keys ---------------------------------------------------------------------------
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()   # enter on a row means start, as everywhere on this screen
        self.action_start()

    def action_start(self) -> None:
        plan = self.plan
        if plan is None or self.started:
            return
        if not plan.videos:
            self.notify("Nothing to run: the batch has no video to submit.", severity="warning")
            return
        if plan.totals.exceeds_balance:
            if not isinstance(self.app.screen, Confirm):
                self.app.push_screen(over_balance(plan.totals), self._answered)
            return
        self._go(plan)

    def _answered(self, yes: bool | None) -> None:
        if yes and self.plan is not None:
            self._go(self.plan)

    def _go(self, plan: Plan) -> None:
        self.started = True
        self.post_message(PlanAccepted(plan))

    def action_start_now(self) -> None:
        """Begin submitting now; the lookups the plan has not done yet go on inside the run
        (its spending guard watches the balance)."""
        if self.started:
            return
        self.started = True
        self.workers.cancel_group(self, "plan")
        self.post_message(StartNowRequested())

    def action_back(self) -> None:
        self.workers.cancel_group(self, "plan")
        self.post_message(PlanDismissed())
