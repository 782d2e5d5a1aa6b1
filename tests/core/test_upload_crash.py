"""kill -9 while a long file's chunks are being uploaded, then resume: nothing lost, and no chunk
paid twice beyond the one whose upload was on the wire (the ledger of the simulated deAPI, which
runs here and survives the kill, says what was paid)."""

from __future__ import annotations

import csv
import subprocess
import time
from pathlib import Path

import pytest

from bulk_transcribe.core.simulator import SimConfig, SimServer

from .audio import tone
from .media_server import media_server
from .test_crash_resume import _cli, _env
from .test_upload import CAP, CAP_MB, _srt_times


def _wait(cond, proc, seconds=60.0):
    deadline = time.monotonic() + seconds
    while not cond():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.slow
def test_kill_9_during_a_chunked_upload_then_resume(tmp_path):
    files = {"/media/long.mp3": ("audio/mpeg", tone(30.0)), "/media/short.mp3": ("audio/mpeg", tone(3.0))}
    with media_server(files) as media, SimServer(SimConfig(
            latency=(0.2, 0.6), upload_audio_max_bytes=CAP, faults={"chunk-002": "hold:30"})) as sim:
        batch = tmp_path / "batch.txt"
        batch.write_text(f"{media.url('/media/long.mp3')}\n{media.url('/media/short.mp3')}\n", encoding="utf-8")
        out, session = tmp_path / "out", tmp_path / "s.toml"
        common = ["--api-base", sim.base_url, "--session", str(session), "--output", str(out), "--no-metadata",
                  "--upload-max-mb", f"{CAP_MB:.6f}", "--model", "WhisperLargeV3Ct2", "--timestamps",
                  "--format", "txt,srt,json", "--concurrency", "1"]
        proc = subprocess.Popen(_cli("run", str(batch), *common), env=_env(tmp_path),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Two chunks go through; the third is created at deAPI and its answer held: kill it there.
        _wait(lambda: any("chunk-002" in s for s in sim.submissions()), proc)
        time.sleep(0.2)
        proc.kill()
        proc.wait()
        proc.stderr.close()
        sim.set_config(faults={})
        at_kill = dict(sim.submissions())
        assert sum("chunk-" in s for s in at_kill) == 3 and set(at_kill.values()) == {1}
        assert (tmp_path / "s.uploads").is_dir(), "the chunks wait beside the session"

        plain = subprocess.run(_cli("resume", str(session), "--headless", *common[:2]), env=_env(tmp_path),
                               capture_output=True, text=True, timeout=120)
        after_plain = dict(sim.submissions())
        rows = {Path(r["url"]).name: r for r in csv.DictReader(next(out.glob("*.report.csv")).open(encoding="utf-8-sig"))}
        assert rows["long.mp3"]["category"] == "in-doubt" and rows["long.mp3"]["possibly_paid"] == "yes", rows
        assert rows["short.mp3"]["status"] == "done"
        assert plain.returncode == 1 and "--resubmit-in-doubt" in plain.stderr
        assert set(after_plain.values()) == {1}, f"a plain resume pays for no chunk twice: {after_plain}"
        assert set(at_kill) <= set(after_plain)

        again = subprocess.run(_cli("resume", str(session), "--headless", "--resubmit-in-doubt", *common[:2]),
                               env=_env(tmp_path), capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        final = dict(sim.submissions())

    twice = [s for s, n in final.items() if n > 1]
    assert len(twice) == 1 and final[twice[0]] == 2, f"only the chunk on the wire at the kill is paid twice: {final}"
    assert twice[0].startswith("upload://chunk-002"), "it is the chunk held at the kill"
    chunk_sources = [s for s in final if "chunk-" in s]
    assert len(chunk_sources) == 4, "the other chunks were re-attached or sent once"
    srt = next(p for p in out.glob("*.srt") if "long" in p.name)
    starts = [a for a, _ in _srt_times(srt.read_text())]
    assert starts == sorted(starts) and starts[-1] > 20, "the whole 30 s is there, in order"
    assert not (tmp_path / "s.uploads" / "long").exists() or not any((tmp_path / "s.uploads").rglob("*.mp3"))
