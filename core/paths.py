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

from platformdirs import user_config_dir, user_data_dir

APP = "bulk-transcribe"
ENV_CONFIG_DIR = "BULK_TRANSCRIBE_CONFIG_DIR"
ENV_DATA_DIR = "BULK_TRANSCRIBE_DATA_DIR"
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
    return data_dir() / "cache"


def session_path_for(batch_path: str | Path) -> Path:
    """The session of a batch file: a readable name plus a hash of its absolute path, so the
    same batch always maps to the same session and two `links.txt` in different folders do not."""
    p = Path(batch_path).resolve()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", p.stem)[:40] or "batch"
    digest = hashlib.sha1(str(p).encode()).hexdigest()[:8]
    return sessions_dir() / f"{stem}-{digest}{SESSION_SUFFIX}"
