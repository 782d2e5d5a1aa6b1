"""Whether a done video's transcripts are still whole on disk (for resume)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..model import Video


def _nonempty_file(path: str | Path) -> bool:
    try:
        st = os.stat(path)
    except (OSError, ValueError):   # missing, unreadable, or a name the OS refuses (NUL)
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size > 0


def outputs_intact(video: Video, output_dir: str | Path) -> bool:
    """True when every one of `video.outputs` is a regular file of at least one byte, and there
    is at least one. Each path is taken as written (absolute, or relative to the working
    folder) or else relative to `output_dir`, as the outputs were recorded. Every format we
    write has at least a newline, so an empty file is a write that never completed (or a
    placeholder a crash left): the video should be fetched again (free while deAPI keeps the
    result). One stat per output; never raises."""
    if not video.outputs:
        return False
    # Plain strings to os.stat, no Path per output: a resume checks 50,000 done videos this way.
    return all(_nonempty_file(p) or _nonempty_file(os.path.join(output_dir, p)) for p in video.outputs)
