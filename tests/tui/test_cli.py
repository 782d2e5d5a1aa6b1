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


@pytest.mark.parametrize("args, hint", [
    ([], "bulk-transcribe run BATCH"),
    (["tui", "b.txt", "--start"], "bulk-transcribe run BATCH"),
    (["demo"], "bulk-transcribe demo --headless"),
    (["resume", "s.toml"], "bulk-transcribe resume s.toml --headless"),
])
def test_the_app_without_a_terminal_says_so_and_exits_2(tmp_path, args, hint):
    """A cron line without `run` (stdin and stdout not a terminal): no full-screen app painted into
    a file, but a sentence saying what to run instead, exit 2, nothing written."""
    (tmp_path / "b.txt").write_text("https://youtu.be/dQw4w9WgXcQ\n")
    env = dict(os.environ, BULK_TRANSCRIBE_DATA_DIR=str(tmp_path / "data"),
               BULK_TRANSCRIBE_CONFIG_DIR=str(tmp_path / "config"), DEAPI_API_KEY="k-123456789")
    r = subprocess.run([sys.executable, "-m", "bulk_transcribe.tui", *args], env=env, cwd=tmp_path,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, (r.stdout[-500:], r.stderr)
    assert "needs a terminal" in r.stderr and hint in r.stderr, r.stderr
    assert r.stdout == "" and not (tmp_path / "data").exists()


@pytest.mark.parametrize("command", ["run", "plan", "tui"])
def test_a_binary_batch_is_refused_with_its_line_before_deapi_is_asked(tmp_path, command):
    """A batch holding a NUL byte: exit 2 naming the line, and not one connection to deAPI (the
    batch is checked before the balance is asked)."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    base = f"http://127.0.0.1:{silent.getsockname()[1]}"
    batch = tmp_path / "b.txt"
    batch.write_bytes(b"https://youtu.be/dQw4w9WgXcQ\n# fine\nhttps://youtu.be/\x00\x01\x02\n")
    try:
        r = run_cli(tmp_path, command, str(batch), "--api-base", base, "--no-metadata", key="k-123456789", timeout=60)
        silent.setblocking(False)
        with pytest.raises(BlockingIOError):
            silent.accept()
    finally:
        silent.close()
    assert r.returncode == 2, r.stderr
    assert "b.txt is not a text file: line 3 holds a NUL byte" in r.stderr, r.stderr
    assert not (tmp_path / "data").exists()


def test_a_folder_as_the_batch_is_called_a_folder(tmp_path):
    (tmp_path / "batches").mkdir()
    r = run_cli(tmp_path, "run", str(tmp_path / "batches"), key="k-123456789")
    assert r.returncode == 2 and "is a folder, not a batch file" in r.stderr, r.stderr


def test_json_run_with_a_rejected_line_says_so_and_exits_1(tmp_path):
    """A rejected line was not transcribed: `run --json` says how many in the closing event and
    exits 1 (some of the batch not done), not 0 with all videos done."""
    import json

    from bulk_transcribe.core.simulator import SimConfig, SimServer

    batch = tmp_path / "batch.txt"
    batch.write_text("https://youtu.be/aaaaaaaaaa1\nnot a url\nhttps://youtu.be/aaaaaaaaaa1\n", encoding="utf-8")
    with SimServer(SimConfig(latency=(0.1, 0.2))) as sim:
        r = run_cli(tmp_path, "run", str(batch), "--api-base", sim.base_url, "--no-metadata", "--json",
                    key="k-123456789")
    assert r.returncode == 1, r.stderr
    end = json.loads(r.stdout.splitlines()[-1])
    assert end["event"] == "BatchFinished" and end["done"] == 1 and end["failed"] == 0
    assert end["rejected"] == 1 and end["duplicates"] == 1


def test_python_m_bulk_transcribe_is_the_command(tmp_path):
    r = subprocess.run([sys.executable, "-m", "bulk_transcribe", "--version"], capture_output=True, text=True,
                       timeout=60, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("bulk-transcribe "), r.stderr


def test_the_debug_log_holds_events_and_requests_but_never_the_key(tmp_path):
    """`--log FILE` (mode 0600) and `--verbose` (stderr): every event and HTTP request, the key redacted."""
    from bulk_transcribe.core.simulator import SimConfig, SimServer

    key = "k-secret-0123456789abcdef"
    log = tmp_path / "logs" / "debug.log"
    with SimServer(SimConfig(latency=(0.1, 0.2))) as sim:
        r = run_cli(tmp_path, "run", str(_batch(tmp_path, ["aaaaaaaaaa1"])), "--api-base", sim.base_url,
                    "--no-metadata", "--log", str(log), key=key)
        verbose = run_cli(tmp_path, "run", str(_batch(tmp_path, ["aaaaaaaaaa1", "aaaaaaaaaa2"])), "--api-base",
                          sim.base_url, "--no-metadata", "--verbose", key=key)
    assert r.returncode == 0, r.stderr
    text = log.read_text()
    assert "HTTP Request: POST" in text and "VideoChanged" in text and "BatchFinished" in text, text[-2000:]
    assert key not in text and "k-se…cdef" in text    # the settings line names the key only redacted... or not at all
    assert (log.stat().st_mode & 0o777) == 0o600
    assert verbose.returncode == 0 and "HTTP Request: GET" in verbose.stderr and key not in verbose.stderr
    assert "DEBUG" not in r.stderr, "without --verbose, the log goes only to the file"


def test_shell_completion_is_generated_from_the_parser(tmp_path):
    script = run_cli(tmp_path, "completion", "bash")
    assert script.returncode == 0
    (tmp_path / "c.bash").write_text(script.stdout)

    def complete(*words: str) -> list[str]:
        line = " ".join(f"'{w}'" for w in words)
        r = subprocess.run(["bash", "-c", f"source {tmp_path / 'c.bash'}; COMP_WORDS=({line}); "
                                          f"COMP_CWORD={len(words) - 1}; _bulk_transcribe; printf '%s\\n' \"${{COMPREPLY[@]}}\""],
                           capture_output=True, text=True, timeout=30, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        return r.stdout.split()

    assert complete("bulk-transcribe", "pl") == ["plan"]
    assert complete("bulk-transcribe", "plan", "--no-m") == ["--no-metadata"]
    assert sorted(complete("bulk-transcribe", "run", "b.txt", "--plan", "")) == ["auto", "basic", "premium"]
    assert "--output" not in complete("bulk-transcribe", "plan", "--")   # the plan writes no transcripts
    zsh, fish = run_cli(tmp_path, "completion", "zsh"), run_cli(tmp_path, "completion", "fish")
    assert "bashcompinit" in zsh.stdout and "complete -F _bulk_transcribe bulk-transcribe" in zsh.stdout.replace(
        "-o filenames ", "")
    assert "complete -c bulk-transcribe -n '__fish_seen_subcommand_from run' -l wait-limit -x" in fish.stdout
    assert run_cli(tmp_path, "completion", "tcsh").returncode == 2


def test_plan_help_lists_only_what_changes_a_plan(tmp_path):
    out = run_cli(tmp_path, "plan", "--help").stdout
    for applies in ("--model", "--timestamps", "--lang", "--concurrency", "--plan", "--rpm", "--no-metadata",
                    "--cookies", "--order", "--json", "--api-base"):
        assert applies in out, applies
    for run_only in ("--output", "--session", "--format", "--template", "--max-attempts", "--retry-failed",
                     "--max-cost", "--resubmit-in-doubt", "--wait-limit", "--no-adaptive", "--limit-mode", "--excel"):
        assert run_only not in out, run_only


def test_every_positional_argument_has_help():
    import argparse

    from bulk_transcribe.tui.cli import build_parser

    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subs.choices.items():
        for action in sub._actions:
            if not action.option_strings:
                assert action.help, f"{name} {action.dest} has no help"


def test_a_negative_wait_limit_names_the_flag_and_the_value(tmp_path):
    (tmp_path / "b.txt").write_text("https://youtu.be/dQw4w9WgXcQ\n")
    r = run_cli(tmp_path, "run", "b.txt", "--wait-limit", "-5", key="k-123456789")
    assert r.returncode == 2 and "--wait-limit" in r.stderr and "'-5'" in r.stderr, r.stderr
    assert not (tmp_path / "data").exists()


def test_the_debug_log_formatter_redacts_the_key_whatever_writes_it():
    import logging

    from bulk_transcribe.tui.debuglog import RedactingFormatter

    key = "k-secret-0123456789abcdef"
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, "headers %s", ({"Authorization": f"Bearer {key}"},),
                               None)
    line = RedactingFormatter((key,)).format(record)
    assert key not in line and "Bearer k-se…cdef" in line


def test_excel_reaches_the_settings_and_is_off_by_default():
    from bulk_transcribe.core.config import load_settings
    from bulk_transcribe.tui.cli import build_parser
    from bulk_transcribe.tui.options import overrides

    parser = build_parser()
    assert load_settings(overrides(parser.parse_args(["run", "b.txt", "--excel"]))).excel is True
    assert load_settings(overrides(parser.parse_args(["run", "b.txt"]))).excel is False


@pytest.mark.parametrize("flags", [["--format", "srt"], ["--format", "txt,vtt", "--timestamps"],
                                   ["--format", "srt", "--model", "WhisperLargeV3Ct2"]])
def test_formats_the_model_cannot_produce_are_refused_before_deapi_is_asked_anything(tmp_path, flags):
    """srt/vtt need segments, which only WhisperLargeV3Ct2 with timestamps returns: refused with
    exit 2 before a single request (the simulator saw none), so nothing is paid for in vain."""
    from bulk_transcribe.core.simulator import SimConfig, SimServer

    (tmp_path / "b.txt").write_text("https://youtu.be/dQw4w9WgXcQ\n")
    with SimServer(SimConfig(latency=(0.1, 0.2))) as sim:
        r = run_cli(tmp_path, "run", "b.txt", "--api-base", sim.base_url, "--no-metadata", *flags,
                    key="k-123456789")
        seen = sim.arrivals("all")
    assert r.returncode == 2, r.stderr
    assert "srt and vtt need segment timestamps" in r.stderr
    assert seen == [] and sim.jobs_created() == 0


def test_a_resume_asking_for_formats_its_model_cannot_produce_pays_nothing(tmp_path):
    from bulk_transcribe.core.simulator import SimConfig, SimServer

    (tmp_path / "b.txt").write_text("https://youtu.be/dQw4w9WgXcQ\nhttps://youtu.be/aaaaaaaaaaa\n")
    session = tmp_path / "s.toml"
    with SimServer(SimConfig(latency=(0.1, 0.2))) as sim:
        common = ["--api-base", sim.base_url, "--session", str(session)]
        first = run_cli(tmp_path, "run", "b.txt", "--no-metadata", *common, key="k-123456789")
        before, jobs = len(sim.arrivals("all")), sim.jobs_created()
        r = run_cli(tmp_path, "resume", str(session), "--headless", "--format", "srt", *common[:2],
                    key="k-123456789")
        after = len(sim.arrivals("all"))
    assert first.returncode == 0 and jobs == 2, first.stderr
    assert r.returncode == 2, r.stderr
    assert "srt and vtt need segment timestamps" in r.stderr
    assert after == before and sim.jobs_created() == jobs


def test_headless_names_the_videos_in_doubt_with_their_cost_and_resubmits_only_when_asked(tmp_path):
    """A submit reset after deAPI made its job: headless exits 1 saying the video is in doubt, what it
    may have cost and how to pay again; the report lists it; a plain resume sends nothing; only
    --resubmit-in-doubt pays for it once more (the simulator's ledger)."""
    import csv

    from bulk_transcribe.core.simulator import SimConfig, SimServer

    fine, lost = "https://www.youtube.com/watch?v=fineaaaaaaa", "https://www.youtube.com/watch?v=lostaaaaaaa"
    (tmp_path / "b.txt").write_text(f"{fine}\n{lost}\n")
    session = tmp_path / "s.toml"
    with SimServer(SimConfig(latency=(0.1, 0.3), faults={"lostaaaaaaa": "reset:1"})) as sim:
        common = ["--api-base", sim.base_url, "--session", str(session)]
        first = run_cli(tmp_path, "run", "b.txt", "--no-metadata", "--order", "input", "-o", "out", *common,
                        key="k-123456789")
        with next((tmp_path / "out").glob("*.report.csv")).open(encoding="utf-8-sig") as f:
            rows = {r["url"]: r for r in csv.DictReader(f)}
        plain = run_cli(tmp_path, "resume", str(session), "--headless", *common[:2], key="k-123456789")
        after_plain = sim.submissions()
        asked = run_cli(tmp_path, "resume", str(session), "--headless", "--resubmit-in-doubt", *common[:2],
                        key="k-123456789")
        paid = sim.submissions()
    assert first.returncode == 1, first.stderr
    assert "1 video(s) in doubt" in first.stderr and "may have charged them (about $0.0" in first.stderr
    assert "--resubmit-in-doubt" in first.stderr
    assert (rows[lost]["status"], rows[lost]["category"], rows[lost]["possibly_paid"]) == ("failed", "in-doubt", "yes")
    assert rows[fine]["possibly_paid"] == "no"
    assert plain.returncode == 1 and after_plain == {fine: 1, lost: 1}, "a plain resume pays for nothing in doubt"
    assert asked.returncode == 0, asked.stderr
    assert paid == {fine: 1, lost: 2}, "asked: that video once more, nothing else"


def test_max_cost_stops_the_run_before_the_limit_and_says_so(tmp_path):
    """Headless, lengths not known (no lookups): each video is priced by deAPI's quote before it
    goes, so a limit with room for two and half of the third lets exactly two go, however long
    they are, and says why the rest did not. Reckoned at a typical length (ten minutes) instead,
    as the guard did before, a third video went and the batch ended past the limit."""
    from bulk_transcribe.core.prices import estimate_price
    from bulk_transcribe.core.simulator import SimConfig, SimServer
    from bulk_transcribe.core.simulator.content import duration_for

    def price(vid: str) -> float:   # what the simulator charges: its length for the URL submitted
        return estimate_price(duration_for(f"https://www.youtube.com/watch?v={vid}"))

    candidates = [f"mcost{i:06d}" for i in range(200)]
    long_one = next(v for v in candidates if price(v) > 3 * estimate_price(600.0))
    ids = [long_one] + [v for v in candidates if v != long_one][:4]
    prices = [price(v) for v in ids]
    limit = prices[0] + prices[1] + prices[2] / 2
    with SimServer(SimConfig(latency=(0.1, 0.3), pending_share=0.0)) as sim:
        r = run_cli(tmp_path, "run", str(_batch(tmp_path, ids)), "--api-base", sim.base_url, "--no-metadata",
                    "--concurrency", "1", "--order", "input", "--max-cost", f"{limit:.6f}", key="k-123456789")
        jobs, charged = sim.jobs_created(), sim.charged()
    assert jobs == 2 and charged <= limit, (jobs, charged, limit, r.stderr)
    assert r.returncode == 1, r.stderr
    said = r.stdout + r.stderr
    assert "submitting stopped before the batch would go over --max-cost" in said, said
    assert "raise --max-cost, then resume" in said, said
