"""What the command line's parts share: exit codes, the usage error, flags to settings, the key.

Exit codes: 0 every video done, 1 some failed or unfinished (or a batch line skipped), 2 a usage or configuration
error (nothing written), 130 interrupted by Ctrl-C (session saved; SIGTERM and SIGHUP
give 143 and 129: signals.py).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..core.config import ENV_KEY, face_option, resolve_api_key
from ..core.paths import config_path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad command line or configuration: exit 2 with this message."""


RUN_KEYS = ("output_dir", "concurrency", "max_concurrency", "plan", "limit_mode", "rpm", "status_rpm", "submit_per_day",
            "status_per_day", "api_base", "model", "timestamps", "lang", "formats", "template", "max_attempts",
            "retry_failed", "order", "metadata", "cookies", "max_per_source", "adaptive", "max_cost", "captions", "captions_auto",
            "upload_fallback", "upload_max_mb", "download_concurrency", "max_download_mb", "excel")


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    out = {k: getattr(args, k, None) for k in RUN_KEYS}
    if getattr(args, "wait_limit", None) is not None:
        out["wait_limit"] = args.wait_limit * 60.0
    return out


def mouse_wanted(args: argparse.Namespace) -> bool:
    """Mouse support for the app: the flag, else the config file's `mouse`, else off (keyboard
    only: no mouse tracking, so moving the mouse over SSH sends nothing and text selects as usual)."""
    flag = getattr(args, "mouse", None)
    return flag if flag is not None else face_option("mouse", False)


def need_terminal(headless_hint: str) -> None:
    """The full-screen app needs a terminal on stdin and stdout: refuse (exit 2) instead of painting
    escape codes into a file or waiting for keys that never come (a cron line without `run`)."""
    missing = [name for name, stream in (("stdin", sys.stdin), ("stdout", sys.stdout))
               if stream is None or not stream.isatty()]
    if missing:
        raise UsageError(f"the app needs a terminal, and {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
                         f"not one (a script, a pipe or cron?): use {headless_hint} instead")


def need_key(settings) -> tuple[str, str]:
    """The deAPI key and where it came from. `--captions only` never pays, so it needs none
    ("", "") unless one is set (a resumed session may still hold deAPI jobs to follow)."""
    key, where = resolve_api_key()
    if not key and getattr(settings, "captions", "off") == "only":
        return "", ""
    if not key:
        raise UsageError(
            f"no deAPI key: set {ENV_KEY}=<your key> (or api_key = \"...\" in {config_path()}), "
            "or try the built-in demo: bulk-transcribe demo"
        )
    return key, where
