"""A batch's process caps glibc's malloc arenas (core/arenas.py): counted by glibc itself, in a
fresh interpreter whose threads are all alive at once (each new thread takes a new arena while
the cap allows)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or not hasattr(os, "confstr"),
                                reason="glibc's arenas")

CHILD = """
import ctypes, sys, threading
from bulk_transcribe.core.arenas import cap_malloc_arenas
if sys.argv[1] == "cap":
    print(cap_malloc_arenas())
elif sys.argv[1] == "command":   # the command's own start: `bulk-transcribe plan <missing file>` (exit 2)
    from bulk_transcribe.tui.cli import main
    print(main(["plan", sys.argv[2]]))
gate = threading.Barrier(7)
threads = [threading.Thread(target=gate.wait) for _ in range(6)]
for t in threads:
    t.start()
gate.wait()
for t in threads:
    t.join()
ctypes.CDLL(None).malloc_stats()   # one "Arena N:" paragraph per arena, on stderr
"""


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (ValueError, OSError):
        return False


def arenas(mode: str, *args: str, **env: str) -> tuple[str, int]:
    base = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES")}
    got = subprocess.run([sys.executable, "-c", CHILD, mode, *args], env={**base, **env}, capture_output=True,
                         text=True, timeout=60)
    assert got.returncode == 0, got.stderr
    return got.stdout.strip(), len(re.findall(r"^Arena \d+:", got.stderr, re.M))


@pytest.mark.skipif(not _glibc(), reason="glibc only")
def test_capped_the_threads_share_two_arenas_where_glibc_alone_gives_each_its_own():
    assert arenas("plain")[1] > 2, "glibc's default: a new arena per thread alive at once"
    said, count = arenas("cap")
    assert said == "True" and count <= 2


@pytest.mark.skipif(not _glibc(), reason="glibc only")
def test_the_users_own_limit_wins():
    said, count = arenas("cap", MALLOC_ARENA_MAX="4")
    assert said == "False" and count == 4


@pytest.mark.skipif(not _glibc(), reason="glibc only")
def test_the_command_caps_them_before_it_does_anything(tmp_path):
    said, count = arenas("command", str(tmp_path / "missing.txt"))
    assert said.splitlines()[-1] == "2" and count <= 2
