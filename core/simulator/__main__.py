"""Serve the simulated deAPI until interrupted: `python -m bulk_transcribe.core.simulator --help`.

Prints the base URL on the first line of stdout (flushed), so scripts can read it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .config import FAULT_KINDS, PLANS, SimConfig, parse_fault, plan_limits
from .server import SimServer
from .wire import WIRE_ENDPOINTS


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bulk_transcribe.core.simulator",
                                description="A simulated deAPI on 127.0.0.1 for tests, benchmarks and demos.")
    p.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    p.add_argument("--latency", type=float, nargs=2, metavar=("MIN", "MAX"), default=(20.0, 80.0),
                   help="seconds a job takes, drawn per job between MIN and MAX (default 20 80)")
    p.add_argument("--window", type=float, default=60.0,
                   help="seconds in a rate 'minute' (default 60; shorter only to scale time in benchmarks)")
    p.add_argument("--submit-rpm", type=int, default=300)
    p.add_argument("--status-rpm", type=int, default=300)
    p.add_argument("--price-rpm", type=int, default=300)
    p.add_argument("--submit-per-day", type=int, default=None)
    p.add_argument("--status-per-day", type=int, default=None)
    p.add_argument("--price-per-day", type=int, default=None)
    p.add_argument("--plan", choices=tuple(PLANS), help="deAPI's published limits (overrides the per-endpoint flags)")
    p.add_argument("--shared-limits", action="store_true",
                   help="submit, status and price draw on one account bucket (X-RateLimit-Source: account)")
    p.add_argument("--account-rpm", type=int, default=300, help="the shared bucket's per-minute limit")
    p.add_argument("--account-per-day", type=int, default=None, help="the shared bucket's daily limit")
    p.add_argument("--result-ttl", type=float, default=5 * 3600.0, help="seconds a result link stays valid")
    p.add_argument("--no-inline", action="store_true", help="never put the result in the job status")
    p.add_argument("--inline-structured", action="store_true",
                   help="a structured (Ct2) job's inline result is its JSON object, not its text")
    p.add_argument("--lenient-booleans", action="store_true",
                   help='accept the strings "true"/"false" as booleans (deAPI\'s rule refuses them)')
    p.add_argument("--server-errors", type=float, default=0.0, metavar="SHARE", help="share of requests answered 5xx")
    p.add_argument("--slow-share", type=float, default=0.0)
    p.add_argument("--slow-seconds", type=float, default=0.0)
    p.add_argument("--fault", action="append", default=[], metavar="SUBSTRING=KIND",
                   help="e.g. --fault private=private --fault dQw4=flaky:2 --fault abc=reset:1 (repeatable; "
                        "kinds: " + ", ".join(sorted(FAULT_KINDS)) + ")")
    p.add_argument("--balance", type=float, default=100.0)
    p.add_argument("--price-per-job", type=float, default=SimConfig.price_per_job, help="USD per job (default 0.005)")
    p.add_argument("--price-per-second", type=float, default=SimConfig.price_per_second,
                   help="USD per second of media (default 0.046875/3600)")
    p.add_argument("--submit-answer-delay", type=float, default=0.0, metavar="SECONDS",
                   help="hold every submit's answer this long after its job is created")
    p.add_argument("--trickle", type=float, default=0.0, metavar="BYTES_PER_SECOND",
                   help="send answer bodies of --trickle-endpoint at this rate, headers first")
    p.add_argument("--trickle-endpoint", action="append", choices=sorted(WIRE_ENDPOINTS), default=[],
                   help="an endpoint whose answers trickle (repeatable; default submit)")
    p.add_argument("--reset-share", type=float, default=0.0, metavar="SHARE",
                   help="share of --reset-endpoint answers replaced by a TCP reset (the work is done)")
    p.add_argument("--reset-endpoint", action="append", choices=sorted(WIRE_ENDPOINTS), default=[],
                   help="an endpoint whose answers may be reset (repeatable; default submit)")
    p.add_argument("--upload-audio-max-kb", type=int, default=SimConfig.upload_audio_max_bytes // 1024,
                   help="source_file cap for audio in KB (default 20480, deAPI's 20 MB)")
    p.add_argument("--upload-video-max-kb", type=int, default=SimConfig.upload_video_max_bytes // 1024,
                   help="source_file cap for video in KB (default 51200)")
    p.add_argument("--upload-over-cap-status", type=int, choices=(413, 422), default=413,
                   help="the answer to a file over its cap: 413 (the limits page) or 422 (as deAPI was measured)")
    p.add_argument("--api-key", action="append", default=[], help="accept only these keys (repeatable)")
    p.add_argument("--retry-after-date", action="store_true", help="send Retry-After as an HTTP date")
    p.add_argument("--seed", type=int, default=0)
    return p


def config_from_args(args: argparse.Namespace) -> SimConfig:
    """A SimConfig from parsed flags; raises ValueError on a bad fault or value."""
    faults = {}
    for item in args.fault:
        key, sep, kind = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--fault takes SUBSTRING=KIND (got {item!r})")
        parse_fault(kind)
        faults[key] = kind
    limits = dict(submit_rpm=args.submit_rpm, status_rpm=args.status_rpm, price_rpm=args.price_rpm,
                  submit_per_day=args.submit_per_day, status_per_day=args.status_per_day,
                  price_per_day=args.price_per_day)
    if args.plan:
        limits.update(plan_limits(args.plan))
    return SimConfig(
        latency=tuple(args.latency), result_ttl=args.result_ttl, inline_result=not args.no_inline,
        server_error_share=args.server_errors, slow_share=args.slow_share, slow_seconds=args.slow_seconds,
        faults=faults, balance=args.balance, api_keys=frozenset(args.api_key) or None,
        retry_after_as_date=args.retry_after_date, seed=args.seed, window=args.window, **limits,
        shared_limits=args.shared_limits, account_rpm=args.account_rpm, account_per_day=args.account_per_day,
        inline_structured=args.inline_structured, strict_booleans=not args.lenient_booleans,
        price_per_job=args.price_per_job, price_per_second=args.price_per_second,
        submit_answer_delay=args.submit_answer_delay, trickle_bytes_per_second=args.trickle,
        trickle_endpoints=frozenset(args.trickle_endpoint or ["submit"]), reset_share=args.reset_share,
        reset_endpoints=frozenset(args.reset_endpoint or ["submit"]),
        upload_audio_max_bytes=args.upload_audio_max_kb * 1024, upload_video_max_bytes=args.upload_video_max_kb * 1024,
        upload_over_cap_status=args.upload_over_cap_status,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with SimServer(config, port=args.port) as sim:
        print(sim.base_url, flush=True)
        print(f"simulated deAPI serving; any bearer key {'in --api-key ' if config.api_keys else ''}works. "
              "Ctrl+C to stop.", file=sys.stderr, flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
