"""``hauler dlq``: list, show, retry and purge dead letters."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

from hauler import deadletter, dlq, parking
from hauler.cli.common import dumps, need_database, need_redis, settings, when
from hauler.errors import InvalidArgument


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("dlq", help="the dead-letter store")
    commands = parser.add_subparsers(dest="dlq_command", metavar="ACTION", required=True)
    listing = commands.add_parser("list", help="dead letters, newest first")
    listing.add_argument("--all", action="store_true", help="include retried ones")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(func=list_letters)
    show = commands.add_parser("show", help="one dead letter in full")
    show.add_argument("letter", help="dead-letter id or task id")
    show.set_defaults(func=show_letter)
    retry = commands.add_parser("retry", help="publish dead letters again")
    retry.add_argument("letters", nargs="*", help="dead-letter ids or task ids")
    retry.add_argument("--all", action="store_true", help="every dead letter not yet retried")
    retry.set_defaults(func=retry_letters)
    purge = commands.add_parser("purge", help="delete dead letters")
    purge.add_argument("--retried", action="store_true", help="only those already retried")
    purge.add_argument("--older-than", type=float, metavar="DAYS", help="only older ones")
    purge.add_argument("--yes", action="store_true", help="confirm the deletion")
    purge.set_defaults(func=purge_letters)
    held = commands.add_parser(
        "quarantine", help="parked letters the database refused, with the reason"
    )
    held.add_argument("--limit", type=int, default=20)
    held.set_defaults(func=show_quarantine)


def _prepare() -> str:
    need_redis()
    url = need_database()
    drained = parking.drain_quietly(settings())
    if drained.quarantined:
        print(
            f"{drained.quarantined} parked letter(s) refused by the database were quarantined "
            "(hauler dlq quarantine)"
        )
    if drained.stopped:
        print(f"parked letters not moved yet: {drained.stopped}")
    return url


def list_letters(args: argparse.Namespace) -> int:
    url = _prepare()
    letters = deadletter.list_letters(url, state=None if args.all else "dead", limit=args.limit)
    print(f"{'id':>5}  {'failed at (UTC)':<23}  {'task':<28} {'reason':<10} {'tries':>5}  error")
    for row in letters:
        line = (
            f"{row.id:>5}  {when(row.last_failed_at):<23}  {row.task_name:<28} "
            f"{row.reason:<10} {row.attempts:>5}  {row.exception}"
        )
        print(line[:200])
    if not letters:
        print("(no dead letters)")
    return 0


def show_letter(args: argparse.Namespace) -> int:
    url = _prepare()
    row = deadletter.get(url, args.letter)
    if row is None:
        raise InvalidArgument("letter", f"no dead letter {args.letter!r}")
    fields = {
        column: getattr(row, column)
        for column in (
            "id",
            "task_id",
            "task_name",
            "queue",
            "state",
            "reason",
            "attempts",
            "args",
            "kwargs",
            "exception",
            "correlation_id",
            "causation_id",
            "first_failed_at",
            "last_failed_at",
            "retried_task_id",
        )
    }
    print(dumps(fields))
    print("traceback (last lines):")
    print(row.traceback)
    return 0


def retry_letters(args: argparse.Namespace) -> int:
    url = _prepare()
    idents = list(args.letters)
    if args.all:
        idents += [str(row.id) for row in deadletter.list_letters(url, state="dead", limit=10_000)]
    if not idents:
        raise InvalidArgument("letters", "name at least one dead letter, or use --all")
    for ident in idents:
        outcome = dlq.retry(settings(), ident)
        print(f"dead letter {outcome['letter']} → {outcome['task_name']}[{outcome['task_id']}]")
    return 0


def show_quarantine(args: argparse.Namespace) -> int:
    need_redis()
    config = settings()
    counts = parking.counts(config.broker_url)
    print(
        f"quarantined: {counts['quarantined']} now, {counts['quarantined_ever']} ever; "
        f"parked: {counts['parked']}"
    )
    for entry in parking.quarantined(config.broker_url, limit=args.limit):
        print(f"  {entry.get('at') or '-'}  {entry.get('error')}")
        print(f"    {str(entry.get('letter'))[:300]}")
    return 0


def purge_letters(args: argparse.Namespace) -> int:
    url = _prepare()
    if not args.yes:
        raise InvalidArgument("--yes", "purge deletes dead letters for good; add --yes to confirm")
    older = datetime.now(UTC) - timedelta(days=args.older_than) if args.older_than else None
    removed = deadletter.purge(url, state="retried" if args.retried else None, older_than=older)
    print(f"purged {removed} dead letter(s)")
    return 0
