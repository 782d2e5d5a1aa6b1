"""The `bulk-transcribe` command line: the parser and `main`, nothing else (commands.py does the work).

Each subcommand's module (commands.py, remote.py, the service's daemon) is imported inside
`main` when that subcommand runs: they pull in the engine, httpx and the service, which would
make `--help` and `completion` four times slower. Textual is imported only by the subcommands
that open the app (commands.py), so headless runs on a server stay light.

Exit codes: 0 every video done, 1 some failed or unfinished (or a batch line skipped), 2 a usage or
configuration error (nothing written), 128 + the signal when interrupted (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP; the session saved).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from .. import __version__
from ..core.arenas import cap_malloc_arenas
from ..core.config import CONFIG_KEYS, ENV_BASE, ENV_KEY, resolve_api_key
from ..core.paths import config_path, data_dir
from ..core.settings import (
    CAPTIONS,
    DEFAULT_API_BASE,
    FORMATS,
    LIMIT_MODES,
    MAX_CONCURRENCY,
    MODELS,
    ORDER_HELP,
    ORDERS,
    PLAN_CHOICES,
    SettingsError,
    parse_concurrency,
    redact_key,
)
from .completion import SCRIPTS
from .debuglog import start_debug_log, stop_debug_log
from .options import EXIT_INTERRUPTED, EXIT_USAGE, UsageError

EPILOG = f"""\
environment:
  {ENV_KEY}        your deAPI key (or api_key in the config file)
  {ENV_BASE}       the API's base URL (default {DEFAULT_API_BASE})
  BULK_TRANSCRIBE_CONFIG_DIR / BULK_TRANSCRIBE_DATA_DIR / BULK_TRANSCRIBE_CACHE_DIR
                   move the config / sessions / metadata cache folders

config file: {{config}} (TOML), e.g.
  concurrency = "auto"   (or a number)
  formats = ["txt", "md"]
  keys: {{keys}}
  (wait_limit is in seconds there; --wait-limit takes minutes)
precedence: config file < environment < command line. A resumed session (resume, or run of a
batch that has a session) keeps its own settings; flags given override them, and the run says so.
exit codes: 0 every video done; 1 some failed or unfinished, or a batch line skipped; 2 usage or
configuration error (nothing written); 130 interrupted (session saved)
"""


BATCH_HELP = "batch file: .txt (one URL per line) or .csv (a url column)"


def _formats(text: str) -> tuple[str, ...]:
    items = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    bad = [f for f in items if f not in FORMATS]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"formats are a comma list of {','.join(FORMATS)}")
    return items


def _concurrency(text: str) -> int:
    value = parse_concurrency(text)
    if not isinstance(value, int) or not 0 <= value <= MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(f"concurrency is auto or a whole number 1-{MAX_CONCURRENCY}")
    return value


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of minutes (e.g. --wait-limit 90)")
    return value


def add_pricing_options(g) -> None:
    """What a job is submitted with, so what it costs: every command that prices or runs."""
    g.add_argument("--api-base", metavar="URL", help=f"deAPI base URL (default {DEFAULT_API_BASE})")
    g.add_argument("--model", choices=list(MODELS), help="transcription model (default WhisperLargeV3)")
    g.add_argument("--timestamps", action=argparse.BooleanOptionalAction, default=None,
                   help="ask for segment timestamps (needed for srt/vtt, with WhisperLargeV3Ct2)")
    g.add_argument("--lang", metavar="CODE", help="spoken language, e.g. en (default: detect)")


def add_limit_options(g, *, run: bool) -> None:
    """How fast: the rate limits and the concurrency (the plan's time estimate uses them too)."""
    g.add_argument("--concurrency", "-c", type=_concurrency, metavar="auto|N",
                   help="videos in flight: auto (default) as many as the account's rate x the job time allows "
                        f"(Little's law), moved by 429s, errors and deAPI's queueing; N fixes it (1-{MAX_CONCURRENCY}; "
                        "1 = sequential)")
    g.add_argument("--max-concurrency", type=int, metavar="N",
                   help="the most videos in flight auto may reach (default 300)")
    g.add_argument("--plan", choices=list(PLAN_CHOICES),
                   help="auto (default): start at Basic's limits (every new account's) and learn the account's "
                        "from deAPI's answers; basic or premium: that plan's published limits, as a cap")
    if run:
        g.add_argument("--limit-mode", choices=list(LIMIT_MODES),
                       help="auto (default): per-endpoint, shared when deAPI's answers show one account bucket "
                            "(shared from the start on premium); shared: one account bucket; "
                            "per-endpoint: submit and status buckets")
    g.add_argument("--rpm", type=int, metavar="N",
                   help="requests per minute: the account (shared) or submit bucket; a cap learning never exceeds")
    g.add_argument("--status-rpm", type=int, metavar="N", help="status requests per minute (a cap, like --rpm)")
    g.add_argument("--submit-per-day", type=int, metavar="N",
                   help="daily submit limit, a cap (0 = none; default: the plan's, or learned under auto)")
    g.add_argument("--status-per-day", type=int, metavar="N",
                   help="daily status limit, a cap (0 = none; default: the plan's, or learned under auto)")


def add_source_options(g) -> None:
    """How the batch is read: order, the yt-dlp lookup."""
    g.add_argument("--order", choices=list(ORDERS),
                   help="; ".join(f"{name}: {text}" for name, text in ORDER_HELP.items())
                        + " (finish is the default; orders use the durations known)")
    g.add_argument("--no-metadata", dest="metadata", action="store_false", default=None,
                   help="skip the title/duration lookup (yt-dlp)")
    g.add_argument("--cookies", metavar="FILE", help="cookies file for yt-dlp (YouTube's 'confirm you're not a bot')")
    g.add_argument("--max-per-source", type=int, metavar="N",
                   help="only the first N videos of each playlist or channel line, in the site's order "
                        "(a channel's newest first), like yt-dlp's --playlist-end (default 0: all)")


def add_upload_options(g) -> None:
    """How a video's text is had besides deAPI fetching the link: chunked uploads, its own captions
    (the plan prices them too)."""
    g.add_argument("--upload-max-mb", type=float, metavar="MB",
                   help="deAPI's upload cap for audio (default 20); longer audio is uploaded in chunks under it")
    g.add_argument("--captions", choices=list(CAPTIONS),
                   help="the videos' own captions, free: first = take them where they exist and pay deAPI for "
                        "the rest, only = never pay (default off: sites block servers that scrape them)")
    g.add_argument("--captions-auto", action=argparse.BooleanOptionalAction, default=None,
                   help="with --captions: also take automatic (speech-recognised) captions, of lower quality")


def add_log_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("debugging")
    g.add_argument("--verbose", "-v", action="store_true",
                   help="a debug log (every event and HTTP request; never the key): on stderr for headless "
                        "commands, in the data folder's debug.log for the app")
    g.add_argument("--log", metavar="FILE", help="write the debug log to FILE (mode 0600) instead")


def add_run_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("run options")
    g.add_argument("--output", "-o", dest="output_dir", metavar="DIR", help="folder for transcripts (default: transcripts)")
    g.add_argument("--session", metavar="FILE", help="session file (default: one per batch in the data folder)")
    add_limit_options(g, run=True)
    add_pricing_options(g)
    g.add_argument("--format", "-f", dest="formats", type=_formats, metavar="LIST",
                   help=f"output formats, comma list of {','.join(FORMATS)} (default txt)")
    g.add_argument("--template", metavar="T", help="file name template (default '{title} [{id}]')")
    g.add_argument("--excel", action="store_true", default=None,
                   help="write the CSV report with a UTF-8 byte-order mark, for Excel (default: plain UTF-8)")
    g.add_argument("--max-attempts", type=int, metavar="N", help="submits per video at most (default 3)")
    g.add_argument("--retry-failed", action="store_true", default=None, help="retry permanent failures too")
    g.add_argument("--max-cost", type=float, metavar="USD",
                   help="stop submitting before the batch would spend more than this in all (default: only the balance)")
    g.add_argument("--resubmit-in-doubt", action="store_true",
                   help="submit again the videos whose earlier submit may have been paid (its answer was lost): "
                        "deAPI may charge them twice; this run only, never remembered")
    g.add_argument("--wait-limit", type=_minutes, metavar="MIN",
                   help="minutes to wait for one job (default 180; the job is kept)")
    add_source_options(g)
    g.add_argument("--upload-fallback", action="store_true", default=None,
                   help="download and upload a YouTube video whose deAPI job failed SOURCE_DOWNLOAD_FAILED twice "
                        "(links on hosts deAPI does not fetch are always uploaded)")
    add_upload_options(g)
    g.add_argument("--download-concurrency", type=int, metavar="N", help="audio downloads at once, 1-10 (default 2)")
    g.add_argument("--max-download-mb", type=float, metavar="MB",
                   help="refuse to download audio over this size (default 2000)")
    g.add_argument("--no-adaptive", dest="adaptive", action="store_false", default=None,
                   help="keep the concurrency fixed even under 429s and server errors")
    add_log_options(p)


def add_plan_options(p: argparse.ArgumentParser) -> None:
    """Only what changes a plan: what jobs are sent with (price), the limits (time), the lookup."""
    g = p.add_argument_group("what the plan assumes")
    add_pricing_options(g)
    add_limit_options(g, run=False)
    add_source_options(g)
    add_upload_options(g)
    add_log_options(p)


def add_app_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mouse", action=argparse.BooleanOptionalAction, default=None,
                   help="let the app use the mouse (default off, or `mouse = true` in the config file): "
                        "with it, the terminal reports every mouse move, a packet each over SSH, "
                        "and selecting text needs Shift")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bulk-transcribe",
        description="Transcribe batches of online video (YouTube videos, playlists, channels, X, Twitch, "
                    "Kick, TikTok) through deAPI, as fast as your account's rate limits allow.",
        epilog=EPILOG.format(config=config_path(), keys=", ".join(CONFIG_KEYS)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"bulk-transcribe {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="transcribe a batch headless (lines on stderr, or --json on stdout)")
    run.add_argument("batch", help=BATCH_HELP)
    run.add_argument("--json", action="store_true", help="JSON lines on stdout instead of readable lines")
    run.add_argument("--detach", "-d", action="store_true",
                     help="hand the batch to the service and return at once (follow it with attach or logs)")
    add_run_options(run)

    resume = sub.add_parser("resume", help="resume a session (the app, or --headless)")
    resume.add_argument("session_file", metavar="SESSION",
                        help="a session file (the resume prompt and every run's summary say where it is)")
    resume.add_argument("--headless", action="store_true", help="no app: lines on stderr")
    resume.add_argument("--json", action="store_true", help="with --headless: JSON lines on stdout")
    resume.add_argument("--detach", "-d", action="store_true",
                        help="with --headless: hand the session to the service and return at once")
    add_app_options(resume)
    add_run_options(resume)

    demo = sub.add_parser("demo", help="a sample batch against the built-in simulated deAPI, no key needed")
    demo.add_argument("--headless", action="store_true", help="no app: lines on stderr")
    demo.add_argument("--json", action="store_true", help="with --headless: JSON lines on stdout")
    demo.add_argument("--fresh", action="store_true", help="start the demo over instead of resuming it")
    add_app_options(demo)
    add_run_options(demo)

    plan = sub.add_parser("plan", help="expand, dedupe and price a batch without submitting anything")
    plan.add_argument("batch", help=BATCH_HELP)
    plan.add_argument("--json", action="store_true", help="one JSON object per video, then totals")
    add_plan_options(plan)

    completion = sub.add_parser("completion", help="print a shell completion script: eval \"$(bulk-transcribe "
                                                   "completion bash)\" in ~/.bashrc")
    completion.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell to complete in")

    ls = sub.add_parser("ls", help="the batches the service runs (and ran), and the saved sessions")
    ls.add_argument("--json", action="store_true", help="one JSON object per batch")

    attach = sub.add_parser("attach", help="follow a batch the service runs, live (Ctrl-C detaches)")
    attach.add_argument("name", help="the batch's name (as `ls` shows it), or its batch file")
    attach.add_argument("--json", action="store_true", help="JSON lines on stdout")

    logs = sub.add_parser("logs", help="a batch's recent events; --follow to keep following")
    logs.add_argument("name", help="the batch's name (as `ls` shows it), or its batch file")
    logs.add_argument("--follow", "-f", action="store_true", help="then follow its live events to the end")
    logs.add_argument("--json", action="store_true", help="JSON lines on stdout")

    stop = sub.add_parser("stop", help="stop a batch the service runs: no new submits, finish what is paid for")
    stop.add_argument("name", help="the batch's name (as `ls` shows it), or its batch file")
    stop.add_argument("--now", action="store_true", help="quit at once instead (saved; a run resumes it)")

    service = sub.add_parser("service", help="the per-user service that runs batches (the faces start it on their own)")
    service.add_argument("--stop", action="store_true", help="quit every batch (saved, resumable) and end the service")
    service.add_argument("--status", action="store_true", help="say whether it runs, its pid and its socket")

    tui = sub.add_parser("tui", help="the terminal app (the default with no command)")
    tui.add_argument("batch", nargs="?", help=BATCH_HELP + " (default: the resume prompt or the config screen)")
    tui.add_argument("--start", action="store_true", help="skip the config screen and begin at once")
    add_app_options(tui)
    add_run_options(tui)
    return parser


def _is_app(args: argparse.Namespace) -> bool:
    return args.command in (None, "tui") or (args.command in ("resume", "demo") and not args.headless)


def _debug_log(args: argparse.Namespace):
    """The debug log this command line asks for (`--log FILE`, `--verbose`), or None."""
    if not (getattr(args, "log", None) or getattr(args, "verbose", False)):
        return None
    path = args.log or (data_dir() / "debug.log" if _is_app(args) else None)   # the app owns the terminal
    key, where = resolve_api_key()
    try:
        handler = start_debug_log(path=path, stream=sys.stderr, secrets=(key,))
    except OSError as exc:
        raise UsageError(f"cannot write the debug log {path}: {exc.strerror}") from exc
    logging.getLogger("bulk_transcribe.cli").debug("bulk-transcribe %s %s; key %s (%s)", __version__, args.command,
                                                   redact_key(key), where or "none")
    return handler


def _service_command(args: argparse.Namespace) -> int:
    from ..core.service import RuntimeDirError

    try:
        return _service_command_in(args)
    except RuntimeDirError as exc:   # the service's folder is unsafe: what to do is in the message
        raise UsageError(str(exc)) from exc


def _service_command_in(args: argparse.Namespace) -> int:
    from . import remote

    if args.command == "ls":
        return remote.ls(json_lines=args.json)
    if args.command == "attach":
        return remote.attach(args.name, json_lines=args.json)
    if args.command == "logs":
        return remote.logs(args.name, follow=args.follow, json_lines=args.json)
    if args.command == "stop":
        return remote.stop(args.name, now=args.now)
    if args.stop:
        return remote.stop_service()
    if args.status:
        return remote.status()
    from ..core.service.daemon import main as service_main
    return service_main()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "completion":
        sys.stdout.write(SCRIPTS[args.shell](parser))
        return 0
    cap_malloc_arenas()   # before any thread: a long batch's memory stays flat (core/arenas.py)
    if args.command is None:
        args = parser.parse_args(["tui", *(argv if argv is not None else sys.argv[1:])])
    log = None
    try:
        log = _debug_log(args)
        if args.command == "run":
            from .commands import run_headless
            return run_headless(args)
        if args.command == "resume":
            if args.headless:
                from .commands import resume_headless
                return resume_headless(args)
            from .commands import open_app
            return open_app(args, resume=args.session_file)
        if args.command == "demo":
            from .commands import run_demo
            return run_demo(args)
        if args.command in ("ls", "attach", "logs", "stop", "service"):
            return _service_command(args)
        if args.command == "plan":
            from .commands import run_plan
            return run_plan(args)
        from .commands import open_app
        return open_app(args)
    except (UsageError, SettingsError) as exc:
        print(f"bulk-transcribe: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    finally:
        if log is not None:
            stop_debug_log(log)

