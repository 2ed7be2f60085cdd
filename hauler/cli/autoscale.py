"""``hauler autoscale`` (the process) and ``hauler scale`` (a manual override)."""

from __future__ import annotations

import argparse
import logging
import re
import signal
import threading
from typing import Any

from hauler.cli.common import need_database, need_redis, settings
from hauler.errors import InvalidArgument
from hauler.queues import check_queue

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("autoscale", help="run the autoscaler (one leader at a time)")
    parser.add_argument("--backend", choices=("local", "docker"), help="HAULER_AUTOSCALE_BACKEND")
    parser.add_argument(
        "--stop-workers-on-exit",
        action="store_true",
        help="warm-stop every managed worker when this process exits (hauler up does)",
    )
    parser.set_defaults(func=run_autoscale)
    scale = subparsers.add_parser("scale", help="pin a queue's worker count")
    scale.add_argument("queue")
    scale.add_argument("workers", nargs="?", type=int, help="worker count (omit with --clear)")
    scale.add_argument(
        "--for", dest="duration", help="how long, e.g. 90s, 30m, 2h (default: until cleared)"
    )
    scale.add_argument("--clear", action="store_true", help="remove the override")
    scale.set_defaults(func=run_scale)


def parse_duration(text: str) -> float:
    """Seconds in ``90``, ``90s``, ``30m``, ``2h`` or ``1d``."""
    match = _DURATION.match(text.strip())
    if not match:
        raise InvalidArgument("--for", f"{text!r} is not a duration like 90s, 30m or 2h")
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_scale(args: argparse.Namespace) -> int:
    from autoscale.loop import OVERRIDE_KEY

    check_queue(args.queue)
    client = need_redis()
    key = OVERRIDE_KEY.format(queue=args.queue)
    if args.clear:
        client.delete(key)
        print(f"{args.queue}: override cleared; the policy decides again")
        return 0
    if args.workers is None or args.workers < 0:
        raise InvalidArgument("workers", "give a worker count ≥ 0, or --clear")
    ttl = parse_duration(args.duration) if args.duration else None
    client.set(key, args.workers, px=int(ttl * 1000) if ttl else None)
    until = f" for {args.duration}" if ttl else " until `hauler scale --clear`"
    print(f"{args.queue}: pinned to {args.workers} worker(s){until}")
    return 0


def run_autoscale(args: argparse.Namespace) -> int:
    from autoscale.backends import create
    from autoscale.loop import Autoscaler
    from autoscale.signals import RedisSignals

    client = need_redis()
    need_database()
    config = settings()
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(message)s")
    backend = create(args.backend or config.autoscale.backend, config)
    scaler = Autoscaler(config, backend, RedisSignals(client), client)
    if config.autoscale.metrics_port:
        scaler.metrics.serve(config.listen_address, config.autoscale.metrics_port)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        scaler.run(stop)
    finally:
        backend.close(stop_workers=args.stop_workers_on_exit, timeout=60.0)
    return 0
