"""The headless face as a client of the service: run (foreground or --detach), ls, attach, stop, logs.

A foreground `run` prints what the in-process run printed and exits with the same codes: its
batch runs in the service, this process only renders the service's events (HeadlessPrinter).
Ctrl-C (or SIGTERM) asks the service to quit the batch (saved, resumable) and exits 130 after
its summary; a second Ctrl-C exits at once (the service still saves). Losing the terminal
(SIGHUP) leaves the batch running: `bulk-transcribe attach NAME` follows it again.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import anyio

from ..core.events import BatchFinished, Notice
from ..core.paths import session_path_for, sessions_dir
from ..core.service import RequestFailed, RuntimeDirError, ServiceDisconnected, ServiceNotRunning, call, connect
from ..core.service.paths import runtime_dir_candidate
from ..core.service.spawn import ServiceStartFailed, ensure_service, ping
from ..core.settings import Settings
from .headless import HeadlessPrinter
from .options import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UsageError

LOST = ("lost the bulk-transcribe service ({reason}); the batch's session holds every request id: "
        "run the same command again to resume it")


def _exit_code(finished: BatchFinished | None, interrupted: bool) -> int:
    if interrupted:
        return EXIT_INTERRUPTED
    if finished is None or finished.failed or finished.remaining:
        return EXIT_FAILED
    return EXIT_OK


def _start_service() -> None:
    try:
        ensure_service()
    except (ServiceStartFailed, RuntimeDirError) as exc:
        raise UsageError(str(exc)) from exc


def run_in_service(*, settings: Settings, key: str, session_path: Path, batch: str | None, json_lines: bool,
                   detach: bool, resubmit_in_doubt: bool = False, notices: tuple[Notice, ...] = ()) -> int:
    """Hand a batch (or, with `batch` None, a saved session) to the service; follow it unless `detach`."""
    _start_service()
    args: dict[str, Any] = {
        "session": str(session_path.resolve()), "resume": batch is None,
        "batch": str(Path(batch).resolve()) if batch else None, "settings": settings.to_dict(),
        "api_key": key, "notices": [n.message for n in notices], "resubmit_in_doubt": resubmit_in_doubt,
        "follow": not detach,
    }
    printer = HeadlessPrinter(json_lines=json_lines)
    state: dict[str, Any] = {"interrupted": False, "finished": None}

    async def main() -> None:
        async with connect(client="headless") as service:
            try:
                started = await service.request("start", **args)
            except RequestFailed as exc:
                raise UsageError(exc.message) from None
            name = started["name"]
            if detach:
                print(f"started {name} in the background (bulk-transcribe service)\n"
                      f"  follow it:  bulk-transcribe attach {name}\n"
                      f"  its log:    bulk-transcribe logs {name} --follow\n"
                      f"  stop it:    bulk-transcribe stop {name}", file=sys.stderr)
                return
            await _follow(service, name, printer, state, on_interrupt="quit")

    try:
        anyio.run(main)
    except (ServiceDisconnected, ServiceNotRunning) as exc:
        printer(Notice(0, "error", LOST.format(reason=getattr(exc, "message", str(exc)))))
        return EXIT_FAILED
    if detach:
        return EXIT_OK
    return _exit_code(state["finished"], state["interrupted"])


async def _follow(service, name: str, printer: HeadlessPrinter, state: dict[str, Any], *, on_interrupt: str) -> None:
    """Print `name`'s events until its BatchFinished. On Ctrl-C: `quit` asks the service to quit
    the batch (then waits for its summary); `detach` leaves it running."""
    async with anyio.create_task_group() as tg:
        async def watch() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    if state["interrupted"]:
                        os._exit(EXIT_INTERRUPTED)   # second Ctrl-C: at once (the service still saves)
                    state["interrupted"] = True
                    if on_interrupt == "quit":
                        printer(Notice(0, "warning", "interrupted: saving the session (Ctrl-C again to quit at once)"))
                        try:
                            await service.request("control", name=name, action="quit")
                        except RequestFailed:
                            pass   # it ended meanwhile: its summary is on the way
                    else:
                        printer(Notice(0, "info", f"detached: {name} keeps running in the service "
                                                  f"(bulk-transcribe attach {name})"))
                        tg.cancel_scope.cancel()
                        return

        tg.start_soon(watch)
        async for batch, event in service.events():
            if batch != name:
                continue
            printer(event)
            if isinstance(event, BatchFinished):
                state["finished"] = event
                break
        tg.cancel_scope.cancel()


def _resolve_name(name: str) -> str:
    """A batch file's path stands for its session's name."""
    if Path(name).is_file() and not name.endswith(".toml"):
        return session_path_for(name).stem
    return Path(name).stem if name.endswith(".toml") else name


def attach(name: str, *, json_lines: bool) -> int:
    """Follow a batch of the service: its recent events, then live until it ends. Ctrl-C detaches."""
    if ping() is None:
        raise UsageError(f"no bulk-transcribe service is running, so {name!r} is not running: "
                         "`bulk-transcribe ls` lists the saved sessions to resume")
    printer = HeadlessPrinter(json_lines=json_lines)
    state: dict[str, Any] = {"interrupted": False, "finished": None}

    async def main() -> None:
        async with connect(client="headless") as service:
            try:
                info = await service.request("attach", name=_resolve_name(name), replay=True)
            except RequestFailed as exc:
                raise UsageError(exc.message) from None
            await _follow(service, info["name"], printer, state, on_interrupt="detach")

    try:
        anyio.run(main)
    except ServiceDisconnected as exc:
        printer(Notice(0, "error", LOST.format(reason=exc.message)))
        return EXIT_FAILED
    if state["interrupted"]:
        return EXIT_OK
    return _exit_code(state["finished"], False)


def logs(name: str, *, follow: bool, json_lines: bool) -> int:
    """A batch's recent events (JSON lines with --json) and, with `follow`, its live ones to the end."""
    if follow:
        return attach(name, json_lines=json_lines)
    if ping() is None:
        raise UsageError("no bulk-transcribe service is running: a batch's full story is in its report "
                         "and session files")
    printer = HeadlessPrinter(json_lines=json_lines, every=0.0)

    async def main() -> None:
        async with connect(client="headless") as service:
            try:
                info = await service.request("attach", name=_resolve_name(name), replay=True)
                await service.request("detach", name=info["name"])
            except RequestFailed as exc:
                raise UsageError(exc.message) from None
            left = info["replayed"]
            if left:
                async for _, event in service.events():
                    printer(event)
                    left -= 1
                    if not left:
                        break

    anyio.run(main)
    return EXIT_OK


def stop(name: str, *, now: bool) -> int:
    action = "quit" if now else "stop"
    try:
        result = call("control", name=_resolve_name(name), action=action)
    except (ServiceNotRunning, FileNotFoundError):
        raise UsageError(f"no bulk-transcribe service is running, so {name!r} is not running") from None
    except RequestFailed as exc:
        raise UsageError(exc.message) from None
    if now:
        print(f"quitting {result['name']}: its session and report are saved; run it again to resume", file=sys.stderr)
    else:
        print(f"stopping {result['name']}: no new submits; the jobs already paid for are followed to the end "
              f"(bulk-transcribe attach {result['name']} to watch)", file=sys.stderr)
    return EXIT_OK


def ls(*, json_lines: bool) -> int:
    """The service's batches (running or ended since it started), then the saved sessions."""
    rows: list[dict[str, Any]] = []
    if ping() is not None:
        rows = call("list")
    running = {r["name"] for r in rows}
    saved = sorted(p for p in sessions_dir().glob("*.toml")) if sessions_dir().is_dir() else []
    if json_lines:
        for r in rows:
            print(json.dumps(r, ensure_ascii=True))
        for p in saved:
            if p.stem not in running:
                print(json.dumps({"name": p.stem, "state": "saved", "session": str(p)}))
        return EXIT_OK
    if not rows and not saved:
        print("no batches: the service runs none, and no session is saved")
        return EXIT_OK
    for r in rows:
        counts = f"{r.get('done', 0) + r.get('failed', 0)}/{r.get('total', '?')} ({r.get('failed', 0)} failed)"
        flags = " paused" if r.get("paused") else (" stopping" if r.get("stopping") and r["state"] == "running" else "")
        since = time.strftime("%H:%M", time.localtime(r.get("started", 0)))
        print(f"{r['name']:<40} {r['state'] + flags:<18} {counts:<20} since {since}  ${r.get('cost', 0):.4f}")
    for p in saved:
        if p.stem not in running:
            print(f"{p.stem:<40} {'saved':<18} resume: bulk-transcribe resume {p} --headless")
    return EXIT_OK


def stop_service() -> int:
    """`bulk-transcribe service --stop`: quit every batch (saved) and end the service."""
    try:
        result = call("shutdown")
    except (ServiceNotRunning, FileNotFoundError):
        print("no bulk-transcribe service is running", file=sys.stderr)
        return EXIT_OK
    print(f"stopping the service: {result['batches']} running batch(es) saved, resumable", file=sys.stderr)
    return EXIT_OK


def status() -> int:
    """`bulk-transcribe service --status`."""
    answer = ping()
    folder = runtime_dir_candidate()
    if answer is None:
        print(f"no bulk-transcribe service is running (its socket would be {folder / 'service.sock'})")
        return EXIT_FAILED
    print(f"the bulk-transcribe service runs: pid {answer['pid']}, version {answer['server_version']}, "
          f"socket {folder / 'service.sock'}")
    return EXIT_OK
