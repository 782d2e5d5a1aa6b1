"""The on-disk metadata cache: one small JSON file per video key, so a reopened session never
asks yt-dlp again.

Only metadata that was read gets written; failures are deliberately not cached: they are mostly
transient (network, YouTube's bot check until the user adds cookies) and retrying costs one
bounded call. Every operation is best effort: a damaged file or a full disk only loses the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_META_FIELDS = ("title", "duration", "channel", "upload_date")


def cache_path(cache_dir: Path, key: str) -> Path:
    """One file per video key: readable prefix plus a hash, safe on every file system."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", key)[:60]
    return cache_dir / f"{safe}-{hashlib.sha1(key.encode()).hexdigest()[:10]}.json"


def read_cached(cache_dir: Path, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Cached metadata by key; unreadable or foreign files are ignored (they will be refetched)."""
    found: dict[str, dict[str, Any]] = {}
    if not cache_dir.is_dir():   # no cache yet: not one failed open per video of a 100,000-video batch
        return found
    for key in keys:
        try:
            data = json.loads(cache_path(cache_dir, key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("key") == key:
            found[key] = {k: data.get(k) for k in _META_FIELDS}
    return found


def write_cached(cache_dir: Path, entries: dict[str, dict[str, Any]]) -> None:
    """Write each entry atomically (temp file + rename); a full disk only loses the cache."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    for key, meta in entries.items():
        path = cache_path(cache_dir, key)
        try:
            fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"key": key, **{k: meta.get(k) for k in _META_FIELDS}}, fh)
            os.replace(tmp, path)
        except OSError:
            try:
                os.unlink(tmp)
            except (OSError, UnboundLocalError):
                pass
