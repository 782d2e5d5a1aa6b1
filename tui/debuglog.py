"""The debug log behind `--verbose` and `--log FILE`: every engine event and HTTP request, never the key.

Python's logging carries it: core's `launch` logs each event of the stream at DEBUG
(`bulk_transcribe.events`), httpx logs each request at INFO. The handler's formatter replaces
every secret it was given (the API key) by its redacted form in the finished line, whatever
logger wrote it, so no path (an exception's text, a URL, a header) can put the key in the file.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import IO

from ..core.settings import redact_key

FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s"


class RedactingFormatter(logging.Formatter):
    """Formats as `FORMAT`, then replaces each secret by `redact_key(secret)`."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__(FORMAT, datefmt="%Y-%m-%dT%H:%M:%S")
        self.secrets = tuple(s for s in secrets if s and len(s) >= 4)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, redact_key(secret))
        return text


def open_log(path: str | Path) -> IO[str]:
    """Open (append) a log file only its owner can read: 0600 from the first byte. Raises OSError."""
    p = Path(path).expanduser()
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.chmod(p, 0o600)   # an older file with wider modes
    return os.fdopen(fd, "a", encoding="utf-8", buffering=1)


def start_debug_log(*, path: str | Path | None, stream: IO[str] | None, secrets: tuple[str, ...]) -> logging.Handler:
    """Send DEBUG and above of our loggers and httpx's (INFO) to `path`, or else `stream` (stderr).
    Returns the handler (remove it with `stop_debug_log`)."""
    handler = logging.StreamHandler(open_log(path) if path else (stream or sys.stderr))
    handler.setFormatter(RedactingFormatter(secrets))
    handler.setLevel(logging.DEBUG)
    for name, level in (("bulk_transcribe", logging.DEBUG), ("httpx", logging.INFO)):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.addHandler(handler)
    return handler


def stop_debug_log(handler: logging.Handler) -> None:
    for name in ("bulk_transcribe", "httpx"):
        logging.getLogger(name).removeHandler(handler)
    handler.flush()
    if isinstance(handler, logging.StreamHandler) and handler.stream not in (sys.stderr, sys.stdout):
        handler.close()
        handler.stream.close()
