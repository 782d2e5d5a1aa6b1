"""Split downloaded audio into files deAPI takes, each under the upload cap, without re-encoding.

PyAV (FFmpeg's libraries, bundled in its wheels: no binary needed) copies the audio stream's
packets into one new file per chunk, in a container deAPI lists for that codec (AAC as ADTS,
MP3, Opus in WebM, Vorbis in Ogg, FLAC, PCM in WAV). A chunk starts at the first packet at or
after its boundary, so the same file split at the same boundaries gives the same chunks (a
resumed session relies on that), and each chunk's `offset` is the time of its first packet:
what its transcript's times are shifted by. Synchronous: call it in a worker thread.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

# codec -> (muxer, file extension, content type) of a container deAPI accepts for it.
CONTAINERS: dict[str, tuple[str, str, str]] = {
    "aac": ("adts", "aac", "audio/aac"),
    "mp3": ("mp3", "mp3", "audio/mpeg"),
    "mp3float": ("mp3", "mp3", "audio/mpeg"),
    "opus": ("webm", "webm", "audio/webm"),
    "vorbis": ("ogg", "ogg", "audio/ogg"),
    "flac": ("flac", "flac", "audio/flac"),
    "pcm_s16le": ("wav", "wav", "audio/wav"),
    "pcm_u8": ("wav", "wav", "audio/wav"),
}
# Extensions deAPI takes as audio as they are (the file is sent untouched when under the cap).
AS_IS = {"aac": "audio/aac", "mp3": "audio/mpeg", "ogg": "audio/ogg", "opus": "audio/ogg", "webm": "audio/webm",
         "weba": "audio/webm", "wav": "audio/wav", "flac": "audio/flac"}
FILL = 0.9          # a chunk is planned at this share of the cap: bitrates vary along a file
MAX_TRIES = 4       # plans with more chunks when one still came out over the cap


class MediaError(Exception):
    """The file cannot be made into uploads; the message says why and what to do."""


@dataclass(frozen=True)
class ChunkFile:
    path: str
    offset: float        # seconds from the start of the original audio
    seconds: float
    size: int
    content_type: str


def _av():
    try:
        import av
    except ImportError as exc:   # pragma: no cover - av is a dependency; a broken install says so
        raise MediaError("PyAV is not installed (pip install av): it is needed to split audio over the "
                         "upload cap") from exc
    return av


def probe(path: str | Path) -> tuple[float, str]:
    """(length in seconds, audio codec name) of a media file. Raises MediaError."""
    av = _av()
    try:
        with av.open(str(path)) as container:
            stream = next(iter(container.streams.audio), None)
            if stream is None:
                raise MediaError(f"{Path(path).name} has no audio stream: nothing to transcribe")
            seconds = container.duration / 1_000_000 if container.duration else 0.0
            if not seconds and stream.duration and stream.time_base:
                seconds = float(stream.duration * stream.time_base)
            return seconds, stream.codec_context.name
    except MediaError:
        raise
    except Exception as exc:   # FFmpeg's errors (av.error.*) and odd files
        raise MediaError(f"{Path(path).name} cannot be read as media ({exc})") from exc


def plan_boundaries(seconds: float, size: int, cap: int, *, extra: int = 0) -> list[float]:
    """Start times of the chunks of a file of `size` bytes lasting `seconds`, each planned at
    FILL of `cap` (`extra` more chunks than that, after a chunk came out too big)."""
    count = max(1, math.ceil(size / (cap * FILL))) + extra
    return [round(i * seconds / count, 3) for i in range(count)]


def split(path: str | Path, boundaries: list[float], out_dir: str | Path) -> list[ChunkFile]:
    """The audio of `path` cut at `boundaries` (seconds, the first 0) into files in `out_dir`
    named chunk-NNN.<ext>. Raises MediaError for a file or codec that cannot be copied."""
    av = _av()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with av.open(str(path)) as inp:
            ins = next(iter(inp.streams.audio), None)
            if ins is None:
                raise MediaError(f"{Path(path).name} has no audio stream: nothing to transcribe")
            codec = ins.codec_context.name
            if codec not in CONTAINERS:
                raise MediaError(f"audio in {codec} cannot be split without re-encoding; install ffmpeg and "
                                 "convert it to mp3 or aac first")
            muxer, ext, ctype = CONTAINERS[codec]
            base = ins.time_base
            made: list[ChunkFile] = []
            out = ost = None
            first_pts = start = None
            index, last_end = -1, 0.0

            def close() -> None:
                if out is not None:
                    out.close()
                    p = out_dir / f"chunk-{index:03d}.{ext}"
                    made.append(ChunkFile(str(p), round(start, 3), round(max(0.0, last_end - start), 3),
                                          os.path.getsize(p), ctype))

            for packet in inp.demux(ins):
                if packet.pts is None or packet.dts is None:
                    continue   # the demuxer's flush packet
                if first_pts is None:
                    first_pts = packet.pts
                t = float((packet.pts - first_pts) * base)
                if out is None or (index + 1 < len(boundaries) and t >= boundaries[index + 1]):
                    close()
                    index += 1
                    start, shift = t, packet.pts
                    out = av.open(str(out_dir / f"chunk-{index:03d}.{ext}"), "w", format=muxer)
                    ost = out.add_stream_from_template(ins)
                dur = float(packet.duration * base) if packet.duration else 0.0
                last_end = max(last_end, t + dur)
                packet.pts -= shift
                packet.dts -= shift
                packet.stream = ost
                out.mux(packet)
            close()
    except MediaError:
        raise
    except Exception as exc:
        raise MediaError(f"{Path(path).name} could not be split ({exc})") from exc
    if not made:
        raise MediaError(f"{Path(path).name} holds no audio packets: nothing to transcribe")
    return made


def chunk_for_upload(path: str | Path, cap: int, out_dir: str | Path,
                     boundaries: list[float] | None = None) -> list[ChunkFile]:
    """The files to upload for `path`: the file itself when deAPI takes its type and it is under
    `cap` bytes, else its audio in chunks under `cap` (at `boundaries` when given: a resumed
    session's, so the chunks are the ones already planned). Raises MediaError."""
    path = Path(path)
    size = path.stat().st_size
    ext = path.suffix.lstrip(".").lower()
    if boundaries is None and size <= cap and ext in AS_IS:
        seconds = 0.0
        try:
            seconds, _codec = probe(path)
        except MediaError:
            pass   # deAPI reads it; our length is only for the plan
        return [ChunkFile(str(path), 0.0, round(seconds, 3), size, AS_IS[ext])]
    if boundaries is not None:
        return split(path, boundaries, out_dir)
    seconds, _codec = probe(path)
    for extra in range(MAX_TRIES):
        chunks = split(path, plan_boundaries(seconds, size, cap, extra=extra), out_dir)
        if all(c.size <= cap for c in chunks):
            return chunks
        for c in chunks:
            Path(c.path).unlink(missing_ok=True)
    raise MediaError(f"{path.name} could not be cut into pieces under {cap / 1e6:.1f} MB")
