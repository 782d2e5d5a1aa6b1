"""The command line: exit codes, clear messages, and nothing written on a usage error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(tmp_path: Path, *args: str, key: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("DEAPI_API_KEY", None)
    env.update(BULK_TRANSCRIBE_DATA_DIR=str(tmp_path / "data"), BULK_TRANSCRIBE_CONFIG_DIR=str(tmp_path / "config"))
    if key:
        env["DEAPI_API_KEY"] = key
    return subprocess.run([sys.executable, "-m", "bulk_transcribe.tui", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=timeout)


def test_missing_key_says_how_to_set_it_and_writes_nothing(tmp_path):
    batch = tmp_path / "b.txt"
    batch.write_text("https://youtu.be/dQw4w9WgXcQ\n")
    r = run_cli(tmp_path, "run", str(batch))
    assert r.returncode == 2
    assert "DEAPI_API_KEY" in r.stderr and "bulk-transcribe demo" in r.stderr
    assert not (tmp_path / "data").exists() and not (tmp_path / "transcripts").exists()


@pytest.mark.parametrize("args, words", [
    (["run", "nope.txt"], "no batch file"),
    (["run", "b.txt", "--concurrency", "1001"], "concurrency is auto or a whole number 1-1000"),
    (["run", "b.txt", "--concurrency", "lots"], "concurrency is auto or a whole number 1-1000"),
    (["run", "b.txt", "--format", "srt"], "srt and vtt need segment timestamps"),
])
def test_usage_errors_exit_2_with_a_clear_message(tmp_path, args, words):
    (tmp_path / "b.txt").write_text("https://youtu.be/dQw4w9WgXcQ\n")
    r = run_cli(tmp_path, *args, key="k-123456789")
    assert r.returncode == 2, r.stderr
    assert words in r.stderr
    assert not (tmp_path / "data").exists()


def test_help_documents_every_run_option(tmp_path):
    r = run_cli(tmp_path, "run", "--help")
    for opt in ("--output", "--session", "--concurrency", "--plan", "--limit-mode", "--rpm", "--status-rpm",
                "--api-base", "--model", "--format", "--max-attempts", "--retry-failed", "--json"):
        assert opt in r.stdout


@pytest.mark.slow
def test_demo_headless_runs_without_a_key(tmp_path):
    r = run_cli(tmp_path, "demo", "--headless", "--output", str(tmp_path / "demo-out"), timeout=300)
    assert r.returncode == 1, r.stderr          # the demo batch has deliberate permanent failures
    assert "Finished:" in r.stderr
    txts = list((tmp_path / "demo-out").glob("*.txt"))
    assert len(txts) >= 20
    assert "demo-key" not in "".join(p.read_text() for p in (tmp_path / "data").rglob("*.toml"))


def _batch(tmp_path: Path, ids: list[str]) -> Path:
    p = tmp_path / "batch.txt"
    p.write_text("".join(f"https://youtu.be/{i}\n" for i in ids), encoding="utf-8")
    return p


def test_json_lines_and_exit_1_when_some_failed(tmp_path):
    import json

    from bulk_transcribe.core.simulator import SimConfig, SimServer

    ids = ["aaaaaaaaaa1", "aaaaaaaaaa2", "aaaaaaaaaa3"]
    with SimServer(SimConfig(latency=(0.1, 0.3), faults={"aaaaaaaaaa2": "private"})) as sim:
        r = run_cli(tmp_path, "run", str(_batch(tmp_path, ids)), "--api-base", sim.base_url, "--no-metadata",
                    "--json", key="k-123456789")
    assert r.returncode == 1, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    kinds = {e["event"] for e in events}
    assert {"VideoChanged", "Progress", "BatchFinished"} <= kinds
    end = events[-1]
    assert end["event"] == "BatchFinished" and (end["done"], end["failed"]) == (2, 1)
    failed = [e for e in events if e["event"] == "VideoChanged" and e["state"] == "failed"]
    assert failed and failed[0]["category"] == "job-failed"


def test_retry_failed_resubmits_a_refused_video_on_request(tmp_path):
    from bulk_transcribe.core.simulator import SimConfig, SimServer

    ids = ["bbbbbbbbbb1", "bbbbbbbbbb2"]
    batch = _batch(tmp_path, ids)
    with SimServer(SimConfig(latency=(0.1, 0.3), faults={"bbbbbbbbbb2": "private"})) as sim:
        args = ["run", str(batch), "--api-base", sim.base_url, "--no-metadata"]
        assert run_cli(tmp_path, *args, key="k-123456789").returncode == 1
        again = run_cli(tmp_path, *args, key="k-123456789")           # same batch: resumes, keeps the failure
        assert again.returncode == 1
        assert sim.submissions()["https://www.youtube.com/watch?v=bbbbbbbbbb2"] == 1
        sim.set_config(faults={})                                       # the video became public
        retried = run_cli(tmp_path, *args, "--retry-failed", key="k-123456789")
        subs = sim.submissions()
    assert retried.returncode == 0, retried.stderr
    assert subs["https://www.youtube.com/watch?v=bbbbbbbbbb2"] == 2
    assert subs["https://www.youtube.com/watch?v=bbbbbbbbbb1"] == 1, "done videos are never submitted again"


@pytest.mark.slow
def test_ctrl_c_saves_the_session_and_exits_130(tmp_path):
    import signal
    import time

    from bulk_transcribe.core.simulator import SimConfig, SimServer
    from bulk_transcribe.core.store.session import Session

    ids = [f"ccccccccc{i:02d}" for i in range(12)]
    env = dict(os.environ, DEAPI_API_KEY="k-123456789", BULK_TRANSCRIBE_DATA_DIR=str(tmp_path / "data"),
               BULK_TRANSCRIBE_CONFIG_DIR=str(tmp_path / "config"))
    session = tmp_path / "s.toml"
    with SimServer(SimConfig(latency=(3.0, 5.0))) as sim:
        proc = subprocess.Popen([sys.executable, "-m", "bulk_transcribe.tui", "run", str(_batch(tmp_path, ids)),
                                 "--api-base", sim.base_url, "--no-metadata", "--session", str(session)],
                                env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sum(sim.submissions().values()) < 3:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        submitted = sum(sim.submissions().values())
    assert proc.returncode == 130, err
    assert "interrupted" in err
    s = Session.open(session)
    try:
        with_ids = [v for v in s.videos if v.request_id]
        assert len(with_ids) == submitted, "every paid job's request id was saved"
    finally:
        s.close()
    assert list((tmp_path / "transcripts").glob("*.report.csv"))


def test_a_second_process_on_the_same_session_is_refused_clearly(tmp_path):
    import time

    from bulk_transcribe.core.simulator import SimConfig, SimServer

    batch = _batch(tmp_path, [f"ddddddddd{i:02d}" for i in range(4)])
    env = dict(os.environ, DEAPI_API_KEY="k-123456789", BULK_TRANSCRIBE_DATA_DIR=str(tmp_path / "data"),
               BULK_TRANSCRIBE_CONFIG_DIR=str(tmp_path / "config"))
    with SimServer(SimConfig(latency=(4.0, 5.0))) as sim:
        args = ["run", str(batch), "--api-base", sim.base_url, "--no-metadata"]
        first = subprocess.Popen([sys.executable, "-m", "bulk_transcribe.tui", *args], env=env, cwd=tmp_path,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not sim.submissions():
                time.sleep(0.05)
            second = run_cli(tmp_path, *args, key="k-123456789")
            subs_during = sum(sim.submissions().values())
        finally:
            first.kill()
            first.wait()
    assert second.returncode == 2, second.stderr
    assert "pid" in second.stderr.lower() and str(first.pid) in second.stderr
    assert subs_during <= 4, "the refused process submitted nothing"


def test_running_the_same_batch_again_keeps_the_session_settings_and_says_what_flags_change(tmp_path):
    import tomllib

    from bulk_transcribe.core.paths import session_path_for
    from bulk_transcribe.core.simulator import SimConfig, SimServer

    ids = ["eeeeeeeeee1", "eeeeeeeeee2"]
    batch = _batch(tmp_path, ids)
    with SimServer(SimConfig(latency=(0.1, 0.3), faults={"eeeeeeeeee2": "private"})) as sim:
        base = ["run", str(batch), "--api-base", sim.base_url, "--no-metadata"]
        first = run_cli(tmp_path, *base, "-c", "7", "--format", "txt,md", key="k-123456789")
        assert first.returncode == 1, first.stderr
        again = run_cli(tmp_path, *base, "-c", "3", key="k-123456789")
    assert "concurrency 7 → 3" in again.stderr, again.stderr
    settings = tomllib.loads(session_path_for(batch).read_text())["settings"]
    assert settings["formats"] == ["txt", "md"] and settings["concurrency"] == 3


@pytest.mark.parametrize("command", ["run", "plan"])
def test_an_empty_batch_says_so_and_exits_2(tmp_path, command):
    batch = tmp_path / "EMPTY.txt"
    batch.write_text("# only a comment\n\n   \n")
    r = run_cli(tmp_path, command, str(batch), key="k-123456789")
    assert r.returncode == 2, r.stderr
    assert "EMPTY.txt holds no URLs" in r.stderr and "add one URL per line" in r.stderr
    assert not (tmp_path / "data").exists()


def test_a_busy_session_is_refused_before_deapi_is_asked_anything(tmp_path):
    """The lock is taken before the balance is read: against an API that accepts and never answers,
    the refused run never even connects to it (it used to wait there 15 s before refusing)."""
    import socket

    from bulk_transcribe.core.model import Video
    from bulk_transcribe.core.settings import Settings
    from bulk_transcribe.core.store.session import Session

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    base = f"http://127.0.0.1:{silent.getsockname()[1]}"
    batch = _batch(tmp_path, ["eeeeeeeee01"])
    session_file = tmp_path / "s.toml"
    holder = Session.create(session_file, batch=str(batch), settings=Settings().with_(api_base=base),
                            videos=[Video(key="youtube:eeeeeeeee01", url="https://youtu.be/eeeeeeeee01",
                                          vid="eeeeeeeee01", line=1)])
    try:
        r = run_cli(tmp_path, "run", str(batch), "--session", str(session_file), "--api-base", base,
                    "--no-metadata", key="k-123456789", timeout=60)
    finally:
        holder.close()
    silent.setblocking(False)
    try:
        conn, _ = silent.accept()
        conn.close()
        connected = True
    except BlockingIOError:
        connected = False
    finally:
        silent.close()
    assert r.returncode == 2, r.stderr
    assert "in use by another bulk-transcribe" in r.stderr and str(os.getpid()) in r.stderr
    assert not connected, "the refused run connected to deAPI before taking the session's lock"


def test_a_refused_key_exits_2_and_leaves_no_session_behind(tmp_path):
    """The key is checked after the session is taken (see above); a refused one still leaves
    nothing: the new session is discarded and the next run starts afresh."""
    from bulk_transcribe.core.simulator import SimConfig, SimServer

    batch = _batch(tmp_path, ["fffffffff01"])
    session_file = tmp_path / "s.toml"
    with SimServer(SimConfig(api_keys=frozenset({"k-the-right-one"}))) as sim:
        r = run_cli(tmp_path, "run", str(batch), "--session", str(session_file), "--api-base", sim.base_url,
                    "--no-metadata", key="k-123456789", timeout=60)
        assert sim.jobs_created() == 0
    assert r.returncode == 2, r.stderr
    assert "refused the key" in r.stderr
    assert not session_file.exists()


def test_a_session_never_chooses_where_the_key_goes(tmp_path):
    """A session saved against host A, resumed with the default or another host in force, is
    refused with what to do, and A hears nothing (no request, so no key); naming A again resumes."""
    from bulk_transcribe.core.model import Video
    from bulk_transcribe.core.settings import Settings
    from bulk_transcribe.core.simulator import SimConfig, SimServer
    from bulk_transcribe.core.store.session import Session

    batch = _batch(tmp_path, ["ggggggggg01"])
    session_file = tmp_path / "s.toml"
    with SimServer(SimConfig(latency=(0.2, 0.3))) as a, SimServer(SimConfig(latency=(0.2, 0.3))) as b:
        Session.create(session_file, batch=str(batch), settings=Settings().with_(api_base=a.base_url, metadata=False,
                                                                                   output_dir=str(tmp_path / "out")),
                       videos=[Video(key="youtube:ggggggggg01", url="https://youtu.be/ggggggggg01",
                                     vid="ggggggggg01", line=1)]).close()
        default = run_cli(tmp_path, "resume", "--headless", str(session_file), key="k-123456789", timeout=60)
        other = run_cli(tmp_path, "resume", "--headless", str(session_file), "--api-base", b.base_url,
                        key="k-123456789", timeout=60)
        rerun = run_cli(tmp_path, "run", str(batch), "--session", str(session_file), key="k-123456789", timeout=60)
        assert a.arrivals("all") == [], "the key went to the session's host, which the user did not choose"
        assert b.arrivals("all") == [], "a refused resume asks nothing of the host in force either"
        for r in (default, other, rerun):
            assert r.returncode == 2, r.stderr
            assert f"this session was run against {a.base_url}" in r.stderr
            assert f"pass --api-base {a.base_url} to use it again" in r.stderr
        again = run_cli(tmp_path, "resume", "--headless", str(session_file), "--api-base", a.base_url,
                        key="k-123456789", timeout=120)
        assert again.returncode == 0, again.stderr
        assert a.jobs_created() == 1 and b.arrivals("all") == []
