"""Checks before paying: a run whose output folder cannot take a file, or has no room, halts
before its first submit and says which folder and what to do."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bulk_transcribe.core.model import VideoState
from bulk_transcribe.core.output.preflight import MIN_FREE_BYTES, PROBE_NAME, folder_problem
from bulk_transcribe.core.settings import Settings
from bulk_transcribe.core.simulator import SimConfig, SimServer
from bulk_transcribe.core.store.session import Session
from bulk_transcribe.tui.headless import summary_text

from .engine_harness import run_engine, videos_for, yt

FAST = dict(latency=(0.2, 0.5), pending_share=0.2)


def _session(tmp_path: Path, base_url: str, output_dir: Path) -> Session:
    s = Settings(api_base=base_url, output_dir=str(output_dir), metadata=False).validate()
    urls = [yt(i) for i in range(3)]
    return Session.create(tmp_path / "session.toml", batch="test", settings=s, videos=videos_for(urls))


def _mount_tmpfs(folder: Path, options: str) -> None:
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")


def _umount(folder: Path) -> None:
    subprocess.run(["umount", str(folder)], check=False)


def _assert_halted_before_paying(sim: SimServer, finished, session: Session, folder: Path, words: str) -> None:
    assert sim.jobs_created() == 0 and sim.charged() == 0
    assert str(folder) in finished.halted and words in finished.halted
    assert "nothing was submitted" in finished.halted
    assert all(v.state is VideoState.QUEUED for v in session.videos), "every video is left for a resume"
    assert f"submitting stopped: {finished.halted}" in summary_text(finished), "the headless summary says why"


def test_an_output_path_through_a_file_halts_before_any_submit(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder\n")
    out = blocker / "out"
    with SimServer(SimConfig(**FAST)) as sim:
        session = _session(tmp_path, sim.base_url, out)
        finished, _ = run_engine(session)
        _assert_halted_before_paying(sim, finished, session, out, "cannot be written")
    assert finished.done == 0 and finished.remaining == 3


def test_a_read_only_output_folder_halts_before_any_submit(tmp_path):
    ro = tmp_path / "ro"
    _mount_tmpfs(ro, "ro,size=1m")
    try:
        with SimServer(SimConfig(**FAST)) as sim:
            session = _session(tmp_path, sim.base_url, ro)
            finished, _ = run_engine(session)
            _assert_halted_before_paying(sim, finished, session, ro, "cannot be written")
    finally:
        _umount(ro)


def test_an_output_folder_without_room_halts_before_any_submit(tmp_path):
    small = tmp_path / "small"
    _mount_tmpfs(small, "size=1m")   # writable, but far below MIN_FREE_BYTES
    try:
        with SimServer(SimConfig(**FAST)) as sim:
            session = _session(tmp_path, sim.base_url, small)
            finished, _ = run_engine(session)
            _assert_halted_before_paying(sim, finished, session, small, "MB free")
        assert not any(p.name.startswith(PROBE_NAME) for p in small.iterdir()), "the probe file is removed"
    finally:
        _umount(small)


def test_a_good_folder_passes_and_keeps_no_probe(tmp_path):
    out = tmp_path / "new" / "out"
    assert folder_problem(out, "output folder", min_free=1) is None
    assert out.is_dir() and list(out.iterdir()) == []
    assert "MB free" in folder_problem(out, "output folder", min_free=2**62)
    assert MIN_FREE_BYTES >= 1024 * 1024

