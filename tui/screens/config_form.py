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
from ...core.sources.batch import read_batch

# Whisper's language codes (what deAPI's models take); empty means detect.
LANGUAGES = frozenset("""
af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha haw he hi hr ht
hu hy id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt my ne nl nn no oc pa pl
ps pt ro ru sa sd si sk sl sn so sq sr su sv sw ta te tg th tk tl tr tt uk ur uz vi yi yo yue zh
""".split())

NONE = "none"   # typed in a daily limit: no daily limit. An empty limit field means the plan's.

# name: (what the form calls it, lowest, highest); messages use these words, never the CLI flags.
NUMBERS = {
    "concurrency": ("Concurrency", 1, 1000),   # or "auto" (see _field)
    "max_attempts": ("Max attempts", 1, 20),
}
PER_MINUTE = {"rpm": "Submits per minute", "status_rpm": "Status checks per minute"}
PER_DAY = {"submit_per_day": "Submits per day", "status_per_day": "Status checks per day"}
STRIPPED_FIELDS = ("lang", "template", "cookies", "api_base")

# Which field a Settings.validate() message is about, for anything the form's own rules let
# through (it names the command-line flag).
_MESSAGE_FIELD = (   # most specific first: the srt/vtt message also names --model
    ("srt and vtt", "formats"), ("--concurrency", "concurrency"), ("--rpm", "rpm"), ("--status-rpm", "status_rpm"),
    ("submit per day", "submit_per_day"), ("status per day", "status_per_day"),
    ("--plan", "plan"), ("--limit-mode", "limit_mode"), ("--model", "model"),
    ("--format", "formats"), ("--max-attempts", "max_attempts"), ("--order", "order"),
    ("--api-base", "api_base"), ("template", "template"), ("--captions", "captions"),
)


def limit_text(name: str, value: int) -> str:
    """How a limit setting is shown in its field: empty for the plan's, `none` for no daily limit."""
    if name in PER_MINUTE:
        return "" if value == 0 else str(value)
    return "" if value == -1 else NONE if value == 0 else str(value)


def _whole(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _field(name: str, raw: Any, changes: dict[str, Any], errors: dict[str, str]) -> None:
    """Check one field's raw value: its setting into `changes`, or its problem into `errors`."""
    text = str(raw).strip() if not isinstance(raw, (bool, tuple)) else ""
    if name == "concurrency" and text.lower() in ("auto", ""):
        changes[name] = 0   # auto: the account's rate x the job time
    elif name in NUMBERS:
        label, low, high = NUMBERS[name]
        n = _whole(text)
        if n is None or not low <= n <= high:
            errors[name] = (f"{label} must be {'auto or ' if name == 'concurrency' else ''}a whole number from "
                            f"{low} to {high}" + (f" (got {text!r})" if text else ""))
        else:
            changes[name] = n
    elif name in PER_MINUTE:
        n = 0 if not text else _whole(text)
        if n is None or not 0 <= n <= 100_000 or (text and n == 0):
            errors[name] = f"{PER_MINUTE[name]}: a whole number from 1 to 100000, or empty for the plan's"
        else:
            changes[name] = n
    elif name in PER_DAY:
        n = -1 if not text else 0 if text.lower() == NONE else _whole(text)
        if n is None or n < -1 or (text and n in (-1, 0) and text.lower() != NONE):
            errors[name] = f"{PER_DAY[name]}: a whole number of at least 1, {NONE} for no daily limit, or empty for the plan's"
        else:
            changes[name] = n
    elif name == "output_dir":
        if not text:
            errors[name] = "give a folder for the transcripts"
        changes[name] = text
    elif name == "lang":
        if text and text.lower() not in LANGUAGES:
            errors[name] = f"not a language code: {text!r}; use one like en, de or pt, or leave it empty to detect"
        changes[name] = text.lower()
    elif name == "cookies":
        if text and not Path(text).expanduser().is_file():
            errors[name] = f"no such file: {text} (leave it empty for none)"
        changes[name] = text
    elif name == "api_base":
        if not text.startswith(("http://", "https://")):
            errors[name] = "the API base must be an http(s) URL, e.g. https://api.deapi.ai"
        changes[name] = text
    elif name == "template":
        if "{id}" not in text and "{title}" not in text:
            errors[name] = "file names need {id} or {title} in them, e.g. {title} [{id}]"
        changes[name] = text
    elif name == "formats":
        if not raw:
            errors[name] = "tick at least one format"
        changes[name] = tuple(raw)
    elif name in STRIPPED_FIELDS:
        changes[name] = text
    else:
        changes[name] = raw


def _checked(values: dict[str, Any], base: Settings) -> tuple[dict[str, Any], dict[str, str]]:
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, raw in values.items():
        _field(name, raw, changes, errors)
    formats = changes.get("formats", base.formats)
    timed = changes.get("captions", base.captions) == "only"   # captions always carry their times
    if "formats" not in errors and {"srt", "vtt"} & set(formats) and not timed and not (
            changes.get("timestamps", base.timestamps) and changes.get("model", base.model) == "WhisperLargeV3Ct2"):
        errors["formats"] = "srt and vtt need segment timestamps: tick Timestamps and pick the model WhisperLargeV3Ct2"
    return changes, errors


def parse_form(values: dict[str, Any], base: Settings) -> tuple[Settings | None, dict[str, str]]:
    """Settings from the form's raw values, or None and {field: explanation} for every field
    that is wrong at once, each in the form's words.

    `values` holds strings for text inputs, bools for check boxes and a tuple for formats;
    keys missing from it keep `base`'s value. Limits: empty means the plan's, `none` (daily
    limits) no limit. Never raises.
    """
    changes, errors = _checked(values, base)
    if errors:
        return None, errors
    try:
        settings = base.with_(**changes).validate()
    except SettingsError as exc:   # a rule the form does not know yet: still under its field
        message = str(exc)
        key = next((f for needle, f in _MESSAGE_FIELD if needle in message), "settings")
        return None, {key: message}
    return settings, {}


def hint_settings(values: dict[str, Any], base: Settings) -> Settings | None:
    """The settings the hints describe: `base` with every valid field of the form applied (so a
    hint follows its field even while another is wrong); None when they do not validate."""
    changes, errors = _checked(values, base)
    try:
        return base.with_(**{k: v for k, v in changes.items() if k not in errors}).validate()
    except SettingsError:
        return None


def rate_text(s: Settings) -> str:
    """What the concurrency implies for the request rate, in one or two short sentences (under
    `--plan auto`, at the limits a run starts with: Basic's, until deAPI's answers say more)."""
    submit = s.submit_rpm
    if s.auto_concurrency:
        text = (f"auto: as many at once as {submit} submits/min x the job time allow (up to "
                f"{s.max_concurrency}), fewer on 429s, errors or deAPI queueing")
        if s.learns_limits:
            text += " · until deAPI's answers tell the account's limits (then those)"
        return text
    c = s.concurrency
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
