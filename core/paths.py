"""Where things live: the config file, the data folder, sessions, caches, and the one rule that
names a batch's session.

The one module that knows the platform's folders (platformdirs), with environment overrides
for tests and unusual setups. Nothing here creates a folder: callers create what they write.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from platformdirs import user_cache_dir, user_config_dir, user_data_dir

APP = "bulk-transcribe"
ENV_CONFIG_DIR = "BULK_TRANSCRIBE_CONFIG_DIR"
ENV_DATA_DIR = "BULK_TRANSCRIBE_DATA_DIR"
ENV_CACHE_DIR = "BULK_TRANSCRIBE_CACHE_DIR"
SESSION_SUFFIX = ".toml"


def config_dir() -> Path:
    return Path(os.environ.get(ENV_CONFIG_DIR) or user_config_dir(APP))


def config_path() -> Path:
    return config_dir() / "config.toml"


def data_dir() -> Path:
    return Path(os.environ.get(ENV_DATA_DIR) or user_data_dir(APP))


def sessions_dir() -> Path:
    return data_dir() / "sessions"


def cache_dir() -> Path:
    """The metadata and yt-dlp caches: `BULK_TRANSCRIBE_CACHE_DIR`, else the platform's cache folder
    (`$XDG_CACHE_HOME/bulk-transcribe`, by default ~/.cache/bulk-transcribe), so backups and disk
    cleaners treat it as the throwaway it is. Earlier versions kept it in the data folder: the one
    exception to "nothing here creates a folder" is moving that old cache here the first time (or,
    when it cannot be moved, e.g. across file systems, going on using it where it is)."""
    explicit = os.environ.get(ENV_CACHE_DIR)
    if explicit:
        return Path(explicit)
    new = Path(user_cache_dir(APP))
    old = data_dir() / "cache"
    if old.is_dir() and not new.exists():
        try:
            new.parent.mkdir(parents=True, exist_ok=True)
            os.replace(old, new)
        except OSError:
            return old
    return new


def session_path_for(batch_path: str | Path) -> Path:
    """The session of a batch file: a readable name plus a hash of its absolute path, so the
    same batch always maps to the same session and two `links.txt` in different folders do not."""
    p = Path(batch_path).resolve()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", p.stem)[:40] or "batch"
    digest = hashlib.sha1(str(p).encode()).hexdigest()[:8]
    return sessions_dir() / f"{stem}-{digest}{SESSION_SUFFIX}"
