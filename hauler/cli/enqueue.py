"""``hauler enqueue``: publish a task by name, optionally wait for its result."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from hauler.cli.common import dumps, need_redis
from hauler.cli.transfers import describe
from hauler.correlation import CORRELATION_HEADER
from hauler.errors import InvalidArgument


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("enqueue", help="publish a task by name")
    parser.add_argument("name", help="task name, e.g. health.ping")
    parser.add_argument("--args", default="[]", help="positional arguments as a JSON list")
    parser.add_argument("--kwargs", default="{}", help="keyword arguments as a JSON object")
    parser.add_argument("--queue", help="override the queue the name routes to")
    parser.add_argument("--correlation", help="correlation id (default: the new task's id)")
    parser.add_argument("--countdown", type=float, help="run no sooner than this many seconds")
    parser.add_argument("--wait", action="store_true", help="wait for the result and print it")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds --wait waits")
    parser.set_defaults(func=run)


def _json(text: str, argument: str, kind: type) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(argument, f"not valid JSON ({exc.msg})") from None
    if not isinstance(value, kind):
        raise InvalidArgument(argument, f"must be a JSON {'list' if kind is list else 'object'}")
    return value


def run(args: argparse.Namespace) -> int:
    call_args = _json(args.args, "--args", list)
    call_kwargs = _json(args.kwargs, "--kwargs", dict)
    need_redis()
    from workers.app import app

    headers = {CORRELATION_HEADER: args.correlation} if args.correlation else {}
    result = app.send_task(
        args.name,
        args=call_args,
        kwargs=call_kwargs,
        queue=args.queue,
        headers=headers,
        countdown=args.countdown,
    )
    print(result.id)
    if not args.wait:
        return 0
    try:
        value = result.get(timeout=args.timeout, propagate=True, on_message=_show_progress)
    except Exception as exc:  # the task's own error, reported as one line
        print(
            f"hauler: {args.name}[{result.id}] failed: {type(exc).__name__}: {exc}", file=sys.stderr
        )
        return 1
    print(dumps(value))
    return 0


def _show_progress(message: dict[str, Any]) -> None:
    """While --wait waits: print each PROGRESS update of the task to stderr."""
    if message.get("status") == "PROGRESS" and isinstance(message.get("result"), dict):
        print(f"progress: {describe(message['result'])}", file=sys.stderr, flush=True)
