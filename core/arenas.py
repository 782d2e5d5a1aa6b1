"""Fewer glibc malloc arenas for a process that runs batches, so a long batch's memory stays flat.

glibc gives each new thread an arena of its own, up to 8 per core, and gives memory freed in an
arena back to the system only from the arena's top. A run's threads come and go (anyio's
worker threads end after 10 s idle; yt-dlp's calls, downloads, uploads and the journal's writes
run in them), each leaving holes in the arena it used. Scenario 11 of the benchmarks (pages read
by yt-dlp, their audio uploaded), 2,000 pages: the run grew 5.2 MB per 1,000 videos with glibc's
default (malloc's free holes 6 -> 13 MB, its memory in use flat at 30 MB) and 2.4 with two
arenas (holes 1 -> 3.5 MB), peak 128-130 -> 120 MB. The threads share the GIL: two arenas cost
no speed (CPU 241 and 222 s before, 220 s after).

`cap_malloc_arenas` is called by the command and the service at their start, before any thread.
A user who set ``MALLOC_ARENA_MAX`` (or ``glibc.malloc.arena_max`` in ``GLIBC_TUNABLES``) keeps
theirs: glibc read it when the process started.
"""

from __future__ import annotations

import os
import sys

ARENAS = 2
_M_ARENA_MAX = -8   # glibc's <malloc.h>


def user_chose() -> bool:
    """Whether the environment already sets glibc's arena limit."""
    return "MALLOC_ARENA_MAX" in os.environ or "malloc.arena_max" in os.environ.get("GLIBC_TUNABLES", "")


def cap_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Limit glibc to `arenas` malloc arenas for the threads started from now on. Returns whether
    the limit was set: False off Linux, off glibc, or when the user chose (`user_chose`). Never raises."""
    if not sys.platform.startswith("linux") or user_chose():
        return False
    try:
        os.confstr("CS_GNU_LIBC_VERSION")   # raises ValueError off glibc (musl has no arenas to cap)
        import ctypes  # only here: ~8 ms, and only on the path that needs it

        return bool(ctypes.CDLL(None).mallopt(_M_ARENA_MAX, arenas))
    except (ValueError, OSError, AttributeError):
        return False
