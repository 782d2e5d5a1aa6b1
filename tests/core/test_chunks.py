"""Cutting audio under the upload cap with PyAV: types deAPI takes, sizes under the cap, offsets
that are the chunks' real start times, and the same chunks again at the recorded offsets."""

from __future__ import annotations

import io

import av
import pytest

from bulk_transcribe.core.media.chunks import MediaError, chunk_for_upload

from .audio import seconds_of, tone


def _m4a(seconds: float) -> bytes:
    """AAC in an MP4 container (YouTube's m4a audio): a type deAPI does not list as audio."""
    src = av.open(io.BytesIO(tone(seconds, fmt="adts")))
    buf = io.BytesIO()
    with src, av.open(buf, "w", format="ipod") as out:
        ins = src.streams.audio[0]
        ost = out.add_stream_from_template(ins)
        for packet in src.demux(ins):
            if packet.dts is None:
                continue
            packet.stream = ost
            out.mux(packet)
    return buf.getvalue()


def test_a_file_under_the_cap_that_deapi_takes_is_sent_as_it_is(tmp_path):
    path = tmp_path / "media.mp3"
    path.write_bytes(tone(5.0))
    (only,) = chunk_for_upload(path, 10**6, tmp_path / "chunks")
    assert only.path == str(path) and only.content_type == "audio/mpeg" and only.offset == 0


def test_m4a_is_repacked_as_aac_even_under_the_cap(tmp_path):
    path = tmp_path / "media.m4a"
    path.write_bytes(_m4a(5.0))
    (only,) = chunk_for_upload(path, 10**6, tmp_path / "chunks")
    assert only.path.endswith(".aac") and only.content_type == "audio/aac"
    assert seconds_of(open(only.path, "rb").read()) == pytest.approx(5.0, abs=0.1)


@pytest.mark.parametrize("fmt, ext, ctype", [("mp3", "mp3", "audio/mpeg"), ("adts", "aac", "audio/aac"),
                                              ("ogg", "ogg", "audio/webm")])
def test_over_the_cap_chunks_are_under_it_and_start_at_their_offsets(tmp_path, fmt, ext, ctype):
    path = tmp_path / f"media.{ext}"
    path.write_bytes(tone(30.0, fmt=fmt))
    cap = 40_000
    chunks = chunk_for_upload(path, cap, tmp_path / "chunks")
    assert len(chunks) >= 3 and all(c.size <= cap and c.content_type == ctype for c in chunks)
    assert chunks[0].offset == 0
    for a, b in zip(chunks, chunks[1:]):
        assert b.offset == pytest.approx(a.offset + a.seconds, abs=0.05), "no gap, no overlap"
    total = sum(seconds_of(open(c.path, "rb").read()) for c in chunks)
    assert total == pytest.approx(30.0, abs=0.5)
    again = chunk_for_upload(path, cap, tmp_path / "again", [c.offset for c in chunks])
    assert [(c.offset, c.size) for c in again] == [(c.offset, c.size) for c in chunks]


def test_a_file_without_audio_says_so(tmp_path):
    path = tmp_path / "media.bin"
    path.write_bytes(b"\x00" * 5000)
    with pytest.raises(MediaError, match="cannot be read as media|no audio"):
        chunk_for_upload(path, 1000, tmp_path / "chunks")
