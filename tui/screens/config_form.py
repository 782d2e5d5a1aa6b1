"""The config screen's logic without the screen: parse the form, explain what is wrong.

Pure functions over plain values so they are tested directly; the screen only moves values
between widgets and these functions. Validation itself is `Settings.validate()`: this module
adds nothing but the mapping of its message to the field it concerns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...core.settings import Settings, SettingsError

INT_FIELDS = {
    "concurrency": "concurrency",
    "rpm": "per-minute limit",
    "status_rpm": "status per-minute limit",
    "submit_per_day": "submits per day",
    "status_per_day": "status checks per day",
    "max_attempts": "max attempts",
}
STRIPPED_FIELDS = ("lang", "template", "cookies", "api_base")

# Which field a Settings.validate() message is about (it names the command-line flag).
_MESSAGE_FIELD = (   # most specific first: the srt/vtt message also names --model
    ("srt and vtt", "formats"), ("--concurrency", "concurrency"), ("--rpm", "rpm"), ("--status-rpm", "status_rpm"),
    ("submit per day", "submit_per_day"), ("status per day", "status_per_day"),
    ("--plan", "plan"), ("--limit-mode", "limit_mode"), ("--model", "model"),
    ("--format", "formats"), ("--max-attempts", "max_attempts"), ("--order", "order"),
    ("--api-base", "api_base"), ("template", "template"),
)


def parse_form(values: dict[str, Any], base: Settings) -> tuple[Settings | None, dict[str, str]]:
    """Settings from the form's raw values, or None and {field: explanation}.

    `values` holds strings for text inputs, bools for check boxes and a tuple for formats;
    keys missing from it keep `base`'s value. Never raises.
    """
    errors: dict[str, str] = {}
    changes: dict[str, Any] = {}
    for name, raw in values.items():
        if name in INT_FIELDS:
            text = str(raw).strip()
            try:
                changes[name] = int(text)
            except ValueError:
                errors[name] = f"{INT_FIELDS[name]} must be a whole number (got {text!r})"
        elif name == "output_dir":
            if not str(raw).strip():
                errors[name] = "give a folder for the transcripts"
            changes[name] = str(raw).strip()
        elif name in STRIPPED_FIELDS:
            changes[name] = str(raw).strip()
            if name == "cookies" and changes[name] and not Path(changes[name]).expanduser().is_file():
                errors[name] = f"no such file: {changes[name]} (leave empty for none)"
        elif name == "formats":
            changes[name] = tuple(raw)
        else:
            changes[name] = raw
    if errors:
        return None, errors
    try:
        settings = base.with_(**changes).validate()
    except SettingsError as exc:
        message = str(exc)
        key = next((f for needle, f in _MESSAGE_FIELD if needle in message), "settings")
        return None, {key: message}
    return settings, {}


def rate_text(s: Settings) -> str:
    """What the concurrency implies for the request rate, in one or two short sentences (under
    `--plan auto`, at the limits a run starts with: Basic's, until deAPI's answers say more)."""
    c = s.concurrency
    submit = s.submit_rpm
    if s.effective_limit_mode == "shared":
        checks = submit
        shared = f"{submit} requests/min shared by submits and status checks"
    else:
        checks = s.effective_status_rpm
        shared = f"{submit} submits/min, {checks} status checks/min"
    every = c * 60 / checks if checks else math.inf
    text = f"{c} at once · {shared} · each job checked about every {every:.1f} s"
    fill = c * 60 / submit if submit else math.inf
    if fill >= 60:
        text += f" · all {c} slots busy after {fill / 60:.0f} min"
    if s.submit_daily:
        text += f" · at most {s.submit_daily} videos a day"
    if s.learns_limits:
        text = f"{text} · until deAPI's answers tell the account's limits (then those)"
    return text


@dataclass
class BatchSummary:
    """What the batch file holds, for the live counts under its path."""

    valid: int = 0
    invalid: int = 0
    duplicates: int = 0
    bad: list[tuple[int, str, str]] = field(default_factory=list)   # (line number, text, why)
    error: str = ""


def summarise_batch(path: str, *, show_bad: int = 5) -> BatchSummary:
    """Read the batch file through core.batch and count its lines. Never raises: problems
    (missing file, unreadable) come back in `.error`."""
    from ...core.sources.batch import read_batch

    p = Path(path).expanduser()
    if not path.strip():
        return BatchSummary(error="give the path of a text file with one video URL per line")
    if not p.is_file():
        return BatchSummary(error=f"no such file: {p}")
    try:
        batch = read_batch(p)
    except (OSError, ValueError) as exc:   # BatchError is a ValueError or carries the reason
        return BatchSummary(error=str(exc) or f"cannot read {p}")
    # Counted from the lines themselves (blank and comment lines have neither url nor error).
    valid = invalid = duplicates = 0
    bad: list[tuple[int, str, str]] = []
    for line in batch.lines:
        if line.error:
            invalid += 1
            if len(bad) < show_bad:
                bad.append((line.line, line.raw, str(line.error)))
        elif line.duplicate_of:
            duplicates += 1
        elif line.url is not None:
            valid += 1
    return BatchSummary(valid, invalid, duplicates, bad)
