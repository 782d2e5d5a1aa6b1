"""The journal's checksums and what a reopened session says about what it skipped."""

from __future__ import annotations

import json

import anyio

from bulk_transcribe.core.model import Video, VideoState
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.store.journal import read_journal
from bulk_transcribe.core.store.session import Session


def _videos(n=3):
    return [Video(key=f"youtube:v{i:09d}", url=f"https://youtu.be/v{i:09d}", vid=f"v{i:09d}") for i in range(n)]


def _crashed_with_records(tmp_path):
    """A session whose last three changes are only in the journal (a kill before any checkpoint)."""
    s = Session.create(tmp_path / "s.toml", batch="b", settings=Settings(), videos=_videos())

    async def work():
        for i, v in enumerate(s.videos):
            await s.record(v, state=VideoState.SUBMITTED, request_id=f"req-{i}")

    anyio.run(work)
    s._journal.close()
    s._lock.release()
    s._closed = True
    return tmp_path / "s.toml", tmp_path / "s.toml.journal"


def test_every_line_carries_a_checksum_and_a_changed_line_is_skipped_and_said(tmp_path):
    path, jpath = _crashed_with_records(tmp_path)
    lines = jpath.read_bytes().splitlines(keepends=True)
    assert all(json.loads(line)["c"] for line in lines)
    lines[1] = lines[1].replace(b"req-1", b"req-X")   # still valid JSON: only the checksum knows
    jpath.write_bytes(b"".join(lines))

    s = Session.open(path)
    assert [v.request_id for v in s.videos] == ["req-0", "", "req-2"]
    assert len(s.warnings) == 1 and "checksum did not match 2" in s.warnings[0] and "copy was kept" in s.warnings[0]
    assert list(tmp_path.glob("s.toml.journal.corrupt-*"))
    s.close()


def test_records_without_a_checksum_from_older_versions_are_read(tmp_path):
    path, jpath = _crashed_with_records(tmp_path)
    old = [json.loads(line) for line in jpath.read_bytes().splitlines()]
    for rec in old:
        del rec["c"]
    jpath.write_text("".join(json.dumps(r) + "\n" for r in old))
    s = Session.open(path)
    assert [v.request_id for v in s.videos] == ["req-0", "req-1", "req-2"] and not s.warnings
    s.close()


def test_a_zero_filled_tail_is_skipped_and_said_once(tmp_path):
    path, jpath = _crashed_with_records(tmp_path)
    with open(jpath, "ab") as f:
        f.write(b"\x00" * 4096)   # the file grew but its last block was never written
    got = read_journal(jpath)
    assert got.zero_tail and got.tail_bytes == 4096 and len(got.records) == 3 and not got.damaged

    s = Session.open(path)
    assert [v.request_id for v in s.videos] == ["req-0", "req-1", "req-2"]
    assert len(s.warnings) == 1 and "zero-filled tail of 4096 bytes" in s.warnings[0]
    assert not list(tmp_path.glob("*.corrupt-*")), "a crash's tail is no damage worth a copy"
    s._journal.close()
    s._lock.release()
    s._closed = True
    again = Session.open(path)   # the tail was cut off: nothing more to say
    assert not again.warnings
    again.close()


def test_zeros_between_good_lines_are_damage(tmp_path):
    path, jpath = _crashed_with_records(tmp_path)
    lines = jpath.read_bytes().splitlines(keepends=True)
    jpath.write_bytes(lines[0] + b"\x00" * 512 + lines[1] + lines[2])
    s = Session.open(path)
    assert [v.request_id for v in s.videos] == ["req-0", "req-1", "req-2"]
    assert "512 zero bytes between lines" in s.warnings[0] and "copy was kept" in s.warnings[0]
    s.close()
