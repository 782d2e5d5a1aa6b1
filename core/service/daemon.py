"""The service process: `bulk-transcribe service` (started by the faces on demand).

It serves the socket (server.py) with the batch methods (batches.py) and runs every batch's
engine in its own task group, so a batch lives as long as the service, not as long as the
terminal that started it. It exits on its own once it has had no running batch and no face
attached for `idle_exit` seconds; SIGTERM, SIGINT, SIGHUP or a `shutdown` request quit every
batch first (each one saves its session and report: a later run resumes it).
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

import anyio

from ..arenas import cap_malloc_arenas
from .accounts import Accounts
from .batches import BatchService, EngineHook
from .listen import ServiceRunning
from .paths import RuntimeDirError, ServicePaths
from .server import Server

log = logging.getLogger(__name__)

ENV_IDLE = "BULK_TRANSCRIBE_SERVICE_IDLE"
IDLE_EXIT = 600.0    # seconds with no running batch and no face before the service leaves
IDLE_CHECK = 0.5


def idle_exit_from_env() -> float:
    try:
        return max(0.5, float(os.environ.get(ENV_IDLE, IDLE_EXIT)))
    except ValueError:
        return IDLE_EXIT


async def serve(paths: ServicePaths | None = None, *, idle_exit: float | None = None,
                accounts: Accounts | None = None, engine_hook: EngineHook | None = None,
                signals: bool = True, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
    """Run the service until it is idle for `idle_exit` seconds, a signal, or a `shutdown`.
    ServiceRunning if this user's service already runs."""
    idle_exit = idle_exit_from_env() if idle_exit is None else idle_exit
    handler = BatchService(accounts, engine_hook=engine_hook)
    server = Server(handler, paths)
    handler.publish = server.publish
    leave = anyio.Event()

    async def watch_idle() -> None:
        quiet_since = anyio.current_time()
        while True:
            await anyio.sleep(IDLE_CHECK)
            if handler.shutdown_asked:
                leave.set()
                return
            if handler.active or server.connections:
                quiet_since = anyio.current_time()
            elif anyio.current_time() - quiet_since >= idle_exit:
                log.info("idle for %.0f s: leaving", idle_exit)
                leave.set()
                return

    async def watch_signals() -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as received:
            async for signum in received:
                log.info("signal %s: quitting every batch (saved), then leaving", signum)
                leave.set()
                return

    async with anyio.create_task_group() as batches:
        handler.tg = batches
        async with anyio.create_task_group() as tg:
            found = await tg.start(server.serve)
            tg.start_soon(watch_idle)
            if signals:
                tg.start_soon(watch_signals)
            task_status.started(found)
            await leave.wait()
            with anyio.CancelScope(shield=True):
                await handler.quit_all()
            server.stop("the service is stopping (its batches are saved: run them again to resume)")
            # serve() ends once its connections have had their goodbye; the watchers end here
            with anyio.move_on_after(server.goodbye_grace + 1):
                while server.connections:
                    await anyio.sleep(0.05)
            tg.cancel_scope.cancel()
        batches.cancel_scope.cancel()


def main() -> int:
    """`bulk-transcribe service`: run this user's service in the foreground (the faces start it
    detached on their own; running it by hand is for debugging)."""
    cap_malloc_arenas()   # before any thread: the batches run in this process (core/arenas.py)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)   # a line per request would fill the log
    try:
        anyio.run(serve)
    except ServiceRunning as exc:
        print(f"bulk-transcribe service: {exc}", flush=True)
        return 0
    except RuntimeDirError as exc:
        print(f"bulk-transcribe service: {exc}", flush=True)
        return 2
    return 0
