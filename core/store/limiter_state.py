"""The rate limiter's recent grants on disk, so a crash and an immediate resume cannot burst.

A sidecar JSON file beside the session is rewritten every few seconds (the session's own
`[limiter]` table only at checkpoints). Both are best effort: losing them costs a slower
start after a crash, never correctness, because the server's 429s are obeyed anyway.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .atomic import PRIVATE, atomic_write_text
from .format import limiter_path


def limiter_state_problem(session_path: Path | str) -> str:
    """Why the sidecar cannot be used ("" when it is readable or absent). Never raises."""
    try:
        state = json.loads(limiter_path(session_path).read_bytes())
    except FileNotFoundError:
        return ""
    except OSError as exc:
        return f"it cannot be read ({exc})"
    except (ValueError, RecursionError) as exc:
        return f"it is not JSON ({type(exc).__name__})"
    return "" if isinstance(state, dict) else f"it holds {type(state).__name__}, not an object"


def load_limiter_state(session_path: Path | str, fallback: dict[str, Any]) -> dict[str, Any]:
    """The newest saved state: the sidecar when readable, else `fallback` (the session's copy).
    Never raises; what is inside is checked by the limiter's own `restore`."""
    try:
        state = json.loads(limiter_path(session_path).read_bytes())
    except (OSError, ValueError, RecursionError):
        return fallback
    return state if isinstance(state, dict) else fallback


def save_limiter_state(session_path: Path | str, state: dict[str, Any]) -> None:
    """Write the sidecar atomically (sync: call it in a thread). Raises OSError."""
    atomic_write_text(limiter_path(session_path), json.dumps(state), mode=PRIVATE)
