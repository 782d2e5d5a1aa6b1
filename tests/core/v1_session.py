"""Writing a session in format version 1 (one TOML holding every video, and its JSON parse cache),
as bulk-transcribe wrote it before issue 15: the input of the migration tests."""

from __future__ import annotations

from pathlib import Path

import tomli_w

from bulk_transcribe.core.store.format import clean_settings, dump_doc, video_to_row, write_parse_cache
from bulk_transcribe.core.store.session import Session


def write_v1(path: Path, session: Session, *, cache: bool = True) -> bytes:
    """The v1 file of `session`'s state in memory, at `path` (and its parse cache). Returns its bytes."""
    header = {"version": 1, "batch": session.batch, "created": session.created, "seq": session._seq, "saved": 1.0,
              "settings": clean_settings(session.settings.to_dict()), "limiter": session.limiter, "meta": session.meta}
    doc = dump_doc(header, [video_to_row(v) for v in session.videos], session.rejected)
    data = tomli_w.dumps(doc).encode("utf-8")
    Path(path).write_bytes(data)
    if cache:
        write_parse_cache(path, data, doc)
    return data
