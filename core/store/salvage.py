"""What a lost or damaged session still knows, so starting the batch over pays for nothing twice.

A session moved away because it was damaged leaves things beside its path: the copy kept when
it was found damaged (``.corrupt-*``), the journal of its last minutes (renamed, never emptied,
by `Session.create`: ``.journal.orphan-*``), its pages folder (renamed too: ``.pages.orphan-*``;
read line by line, damaged or not) and, for a version 1 file, the JSON parse cache of its last
good TOML. Each
may hold the request ids of jobs that were paid for. `salvage` reads them all, tolerantly (a
damaged TOML is scanned line by line), and returns what each video key is known to have:
its request id, and whether it was done with which outputs. Never raises.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .atomic import orphan_name
from .format import journal_path, parse_cache_path, read_parse_cache
from .journal import read_journal
from .pages import generation, pages_dir, scan_rows

_KEY = re.compile(r'^\s*key\s*=\s*"((?:[^"\\]|\\.)*)"\s*$')
_FIELD = re.compile(r'^\s*(request_id|state|submitted_at)\s*=\s*(.+?)\s*$')


@dataclass
class Salvaged:
    """What was known of one video: its newest request id and state (and outputs when done)."""

    request_id: str = ""
    state: str = ""
    outputs: list[str] = field(default_factory=list)
    submitted_at: float = 0.0


def orphan_journal_name(path: Path) -> Path:
    """A fresh ``<name>.journal.orphan-<timestamp>`` beside the session (never an existing file)."""
    return orphan_name(journal_path(path))


def _merge(found: dict[str, Salvaged], key: str, values: dict[str, Any]) -> None:
    item = found.setdefault(key, Salvaged())
    if isinstance(values.get("request_id"), str):
        item.request_id = values["request_id"] or item.request_id
    if isinstance(values.get("state"), str):
        item.state = values["state"]
    if isinstance(values.get("outputs"), list):
        item.outputs = [o for o in values["outputs"] if isinstance(o, str)]
    if isinstance(values.get("submitted_at"), (int, float)):
        item.submitted_at = float(values["submitted_at"])


def _from_rows(found: dict[str, Salvaged], rows: Any) -> None:
    for row in rows if isinstance(rows, list) else ():
        if isinstance(row, dict) and isinstance(row.get("key"), str):
            _merge(found, row["key"], row)


def _from_damaged_toml(found: dict[str, Salvaged], text: str) -> None:
    """Scan [[videos]] entries line by line: whatever survived of each entry is used."""
    key = None
    for line in text.splitlines():
        if line.strip() == "[[videos]]":
            key = None
            continue
        m = _KEY.match(line)
        if m:
            try:
                key = json.loads(f'"{m.group(1)}"') if "\\" in m.group(1) else m.group(1)
            except ValueError:   # an escape JSON does not know (TOML's \U0001F600, or damage)
                key = None
            continue
        m = _FIELD.match(line)
        if key and m:
            try:
                value = json.loads(m.group(2))
            except (ValueError, RecursionError):
                continue
            _merge(found, key, {m.group(1): value})


def _from_pages(found: dict[str, Salvaged], folder: Path) -> None:
    """Every page file in `folder`, oldest generation first (a crash may have left superseded ones)."""
    try:
        files = sorted((p for p in folder.iterdir() if generation(p.name) >= 0 or ".corrupt-" in p.name),
                       key=lambda p: (generation(p.name.split(".corrupt-")[0]), p.name))
    except OSError:
        return
    for page in files:
        try:
            _from_rows(found, scan_rows(page.read_bytes()))
        except OSError:
            continue


def salvage(path: Path | str) -> dict[str, Salvaged]:
    """Everything the files beside `path` know of each video key (see the module docstring)."""
    path = Path(path)
    found: dict[str, Salvaged] = {}
    cached = read_parse_cache(parse_cache_path(path))
    if cached is not None:
        _from_rows(found, cached[1].get("videos"))
    try:
        old_pages = sorted(path.parent.glob(f"{pages_dir(path).name}.orphan-*"), key=lambda p: p.stat().st_mtime)
    except OSError:
        old_pages = []
    for folder in [*old_pages, pages_dir(path)]:
        _from_pages(found, folder)
    try:
        aside = sorted(path.parent.glob(f"{path.name}.corrupt-*"), key=lambda p: p.stat().st_mtime)
        orphans = sorted(path.parent.glob(f"{journal_path(path).name}.orphan-*"), key=lambda p: p.stat().st_mtime)
    except OSError:
        aside, orphans = [], []
    for copy in aside:
        try:
            _from_damaged_toml(found, copy.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
    if not path.exists() and journal_path(path).exists():
        orphans.append(journal_path(path))   # the journal of a session moved away: its newest records
    for orphan in orphans:   # a journal is newer than any TOML it followed
        try:
            records = sorted(read_journal(orphan).records, key=lambda r: r["seq"])
        except OSError:
            continue
        for rec in records:
            _merge(found, rec["key"], rec["set"])
    return {k: v for k, v in found.items() if v.request_id or v.state == "done"}
