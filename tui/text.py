"""How the faces write things: rate-limit buckets, outages, and the plan as a table or JSON
(durations: core/durations.py).

Plain functions over core's records (no Textual), shared by the app, the headless printer and
the command line, so every face says a thing the same way. Untrusted text is cleaned by
`core.sanitize.clean` before it is shown.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterator
from typing import Any

from ..core.durations import fmt_clock, fmt_duration, for_words
from ..core.events import BucketUsage, Progress
from ..core.plan import Plan, PlanTotals, daily_limit_wait
from ..core.sanitize import clean


def run_eta(p: Progress, now_wall: float) -> float | None:
    """The run's ETA with the daily submit limit in it: the engine's estimate holds while today's
    allowance covers what is left; beyond it, the waits for the resets at midnight UTC (the
    plan's rule, `core.plan.daily_limit_wait`) plus the engine's pace for the last day's share."""
    submit = next((b for b in p.buckets if b.name == "submit"), None)
    if submit is None or not submit.per_day:
        return p.eta_seconds
    wait, resets, last = daily_limit_wait(p.queued, submit.per_day, submit.used_today, now=now_wall)
    if not resets:
        return p.eta_seconds
    remaining = p.total - p.done - p.failed
    pace = p.eta_seconds * (last + p.in_flight) / remaining if p.eta_seconds is not None and remaining else 0.0
    return wait + pace


def finding_text(p: Progress) -> str:
    """What expansion and metadata still have to do beside the run, in words ("" when nothing):
    the total grows while sources are pending, so the faces say why."""
    parts = []
    if p.sources_pending:
        parts.append(f"{p.sources_pending} playlist{'s' if p.sources_pending != 1 else ''}/channel"
                     f"{'s' if p.sources_pending != 1 else ''} still being listed")
    if p.lookups_pending:
        parts.append(f"{p.lookups_pending} lookup{'s' if p.lookups_pending != 1 else ''} pending")
    return ", ".join(parts)


def outage_text(p: Progress, now: float) -> str:
    """`deAPI answering 503 for 12 m; next try in 40 s` while deAPI has answered only server
    errors for a while ("" otherwise); `now` is on the engine's monotonic clock."""
    t = p.server_trouble
    if t is None:
        return ""
    what = f"answering {t.status}" if t.status else "answering with server errors"
    text = f"deAPI {what} for {for_words(now - t.since)}"
    if t.next_try is not None:
        text += f"; next try in {max(0, math.ceil(t.next_try - now))} s"
    return text


def fmt_bucket(b: BucketUsage, unit: bool = True) -> str:
    """`submit 37/300 per min (header)` (`unit=False`: without "per min"; the origin of the
    limit when known: deAPI's headers, the plan's preset or a flag), plus the daily use and
    any pause in force."""
    text = f"{b.name} {b.used_60s}/{b.per_minute}" + (" per min" if unit else "")
    if b.source:
        text += f" ({b.source})"
    if b.per_day:
        text += f", {b.used_today}/{b.per_day} today"
    if b.paused_for > 0:
        text += f" (paused {fmt_duration(b.paused_for)})"
    return text


def plan_rows_json(plan: Plan) -> Iterator[dict[str, Any]]:
    """One JSON-ready dict per row (keys url, id, key, title, duration, supported, done,
    price_estimate, price_quoted, model, line, source, captions, path: "deAPI fetches" / "upload" /
    "upload in N chunks", chunks), then one totals dict with `"totals": true`, `estimated_cost` null
    when no video to run has a known length, the price groups (how each was priced), notes, problems,
    duplicates and where the rate limits come from (`limits`, `limits_source`: "auto", "header",
    "preset", "flags" or "preset+flags"; `limit_origins`: each limit with its value, null for none,
    and origin "header", "preset" or "flag")."""
    for r in plan.rows:
        yield {"url": r.url, "id": r.id, "key": r.key, "title": r.title, "duration": r.duration,
               "supported": r.supported, "done": r.done_already, "price_estimate": r.price_estimate,
               "price_quoted": r.price_quoted, "model": r.model, "line": r.line, "source": r.source,
               "captions": r.captions, "path": r.path, "chunks": r.chunks}
    t = plan.totals
    yield {
        "totals": True, "videos": t.videos, "to_run": t.to_run, "done_already": t.done_already,
        "unsupported": t.unsupported, "audio_seconds": t.audio_seconds, "hours": round(t.hours, 4),
        "unknown_durations": t.unknown_durations,
        "estimated_cost": round(t.estimated_cost, 6) if plan_cost_known(t) else None,
        "cost_basis": t.cost_basis, "balance": t.balance, "exceeds_balance": t.exceeds_balance,
        "estimated_seconds": round(t.estimated_seconds, 1), "time_basis": t.time_basis,
        "price_groups": [{"platform": g.platform or None, "model": g.model, "videos": g.videos,
                          "quoted": g.quoted, "cost": round(g.cost, 6), "reason": g.reason}
                         for g in t.price_groups],
        "notes": list(t.notes),
        "limits": t.limits, "limits_source": t.limits_source,
        "limit_origins": [{"limit": lim.name, "per": lim.per, "value": lim.value, "origin": lim.origin}
                          for lim in t.limit_origins],
        "with_captions": t.with_captions, "captions_saving": round(t.captions_saving, 6),
        "captions_unknown": t.captions_unknown,
        "duplicates": [{"line": ln, "url": u, "key": k} for ln, u, k in plan.duplicates],
        "problems": [{"line": p.line, "url": p.url, "category": p.category, "message": p.message,
                      "key": p.key} for p in plan.problems],
    }


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def plan_cost_known(t: PlanTotals) -> bool:
    """False when there are videos to run and not one of them has a known length: the cost is
    then unknown (never "$0.0000"); JSON says null."""
    return not (t.to_run and t.unknown_durations >= t.to_run)


def cost_words(t: PlanTotals) -> tuple[str, str]:
    """(amount, where it comes from) in the user's words: `$0.0123`, "quoted by deAPI";
    `unknown`, "no video's length is known". No formula: the README explains the prices."""
    if not t.to_run:
        return "$0", "nothing to run"
    if not plan_cost_known(t):
        return "unknown", "no video's length is known: --no-metadata, or the lookups failed"
    quoted = [g for g in t.price_groups if g.quoted]
    if quoted and len(quoted) == len(t.price_groups):
        basis = "quoted by deAPI"
    elif quoted:
        basis = "partly quoted by deAPI, the rest from its published prices"
    else:
        basis = "from deAPI's published prices"
    if t.unknown_durations:
        basis += f"; {t.unknown_durations} more of unknown length not counted"
    return f"${t.estimated_cost:.4f}", basis


def _plan_columns(plan: Plan, width: int) -> list[tuple[str, int, bool]]:
    """(header, width, right-aligned) per column; "path" (fetch or upload) and "done" only when some row needs them."""
    cols = [("#", max(1, len(str(len(plan.rows)))), True), ("id", 11, False), ("length", 7, True),
            ("price", 7, True)]
    if any(not r.supported for r in plan.rows):
        cols.append(("path", 9, False))
    if any(r.done_already for r in plan.rows):
        cols.append(("done", 4, False))
    flexible = max(20, width - sum(w + 1 for _, w, _ in cols))
    title_w = flexible * 3 // 5
    return cols + [("title", title_w, False), ("url", flexible - title_w - 1, False)]


def format_plan_table(plan: Plan, width: int = 80) -> str:
    """The plan as plain text for a terminal `width` columns wide (80 by default: every line
    fits): rows, totals, problems."""
    cols = _plan_columns(plan, width)
    names = [c[0] for c in cols]

    def line(cells: dict[str, str]) -> str:
        out = [(_fit(cells.get(n, ""), w).rjust(w) if right else _fit(cells.get(n, ""), w).ljust(w))
               for n, w, right in cols]
        return " ".join(out).rstrip()

    out = [line({n: n for n in names})]
    for i, r in enumerate(plan.rows, 1):
        if r.done_already:
            price = "-"
        elif r.price_estimate is None:
            price = "?"
        else:
            price = "free" if r.captions and r.price_estimate == 0 else f"${r.price_estimate:.4f}"
        way = "fetch" if r.supported else ("upload" if r.chunks <= 1 else f"upload×{r.chunks}")
        out.append(line({"#": str(i), "id": clean(r.id), "length": fmt_clock(r.duration), "price": price,
                         "path": way, "done": "yes" if r.done_already else "",
                         "title": clean(r.title), "url": clean(r.url)}))
    t = plan.totals
    counts = [f"{t.to_run} to run"] + [f"{n} {what}" for n, what in (
        (t.done_already, "done already"), (t.unsupported, "uploaded (hosts deAPI does not fetch)"),
        (t.duplicates, "duplicate dropped" if t.duplicates == 1 else "duplicates dropped")) if n]
    notes = [f"videos: {t.videos} ({', '.join(counts)})"]
    unknown = f", {t.unknown_durations} of unknown length" if t.unknown_durations else ""
    notes.append(f"audio: {t.hours:.2f} h{unknown}")
    amount, basis = cost_words(t)
    notes.append(f"cost: {amount} ({basis})")
    if len(t.price_groups) > 1 or any(not g.quoted for g in t.price_groups):
        notes += [f"  {g.label} ({g.model}): {g.videos} video(s), ${g.cost:.4f}, "
                  + ("quoted by deAPI" if g.quoted else f"estimated ({g.reason})" if g.reason else "estimated")
                  for g in t.price_groups]
    notes += list(t.notes)
    if t.balance is not None:
        notes.append(f"balance: ${t.balance:.2f}" + ("  NOT ENOUGH for this batch" if t.exceeds_balance else ""))
    if t.limits:
        notes.append(f"rate limits: {t.limits}")
    notes.append(f"time: about {fmt_duration(t.estimated_seconds)} ({t.time_basis})")
    if plan.problems:
        notes.append(f"problems ({len(plan.problems)}):")
        for p in plan.problems:
            where = f"line {p.line}: " if p.line else ""
            notes.append("  " + clean(f"{where}[{p.category}] {p.url + ' - ' if p.url else ''}{p.message}"))
    out.append("")
    for note in notes:
        indent = "  " * (len(note) - len(note.lstrip(" ")) > 0)
        out += textwrap.wrap(note.lstrip(" "), width=width, initial_indent=indent, subsequent_indent=indent + "    ",
                             break_long_words=True) or [""]
    return "\n".join(out) + "\n"


METHOD_WORDS = {"captions": "own captions (free)", "captions-auto": "automatic captions (free)",
                "deapi-url": "deAPI from the link", "deapi-upload": "deAPI from an upload"}


def methods_text(methods) -> str:
    """How the done videos were transcribed ("2 own captions (free) · 3 deAPI from the link"), or ""
    when every one went the usual way (deAPI fetching the link): then it says nothing new."""
    counts = dict(methods)
    if not counts or set(counts) <= {"deapi-url"}:
        return ""
    return " · ".join(f"{n} {METHOD_WORDS.get(m, m)}" for m, n in sorted(counts.items()))
