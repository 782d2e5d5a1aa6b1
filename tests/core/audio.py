"""Small real audio files for the upload tests, encoded with PyAV (no ffmpeg binary needed)."""

from __future__ import annotations

import io
import math
from array import array

import av


def tone(seconds: float, *, fmt: str = "mp3", rate: int = 16000, bitrate: int = 32000) -> bytes:
    """`seconds` of a quiet 440 Hz tone as an mp3 (or "adts" AAC, "ogg" Opus) file's bytes."""
    codec = {"mp3": "libmp3lame", "adts": "aac", "ogg": "libopus"}[fmt]
    if codec == "libopus":
        rate = 48000
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        stream.bit_rate = bitrate
        fmt_name = stream.codec_context.format.name   # the encoder's sample format (planar float, s16p ...)
        total, step = int(seconds * rate), 1152
        for start in range(0, total, step):
            n = min(step, total - start)
            wave = [0.1 * math.sin(2 * math.pi * 440 * (start + i) / rate) for i in range(n)]
            if fmt_name.startswith("s16"):
                samples = array("h", (int(x * 32767) for x in wave))
            else:
                samples = array("f", wave)
            frame = av.AudioFrame(format=fmt_name, layout="mono", samples=n)
            frame.planes[0].update(samples.tobytes())
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def seconds_of(data: bytes) -> float:
    """The length of a media file's bytes, as PyAV reads it."""
    with av.open(io.BytesIO(data)) as c:
        return c.duration / 1_000_000
