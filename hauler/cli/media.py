"""``hauler media``: cache statistics and invalidation."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hauler.cli.common import dumps, need_database, need_redis, settings
from hauler.media import cache


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("media", help="the thumbnail and sprite cache")
    commands = parser.add_subparsers(dest="media_command", metavar="ACTION", required=True)
    stats = commands.add_parser("stats", help="entries, bytes and hit rate")
    stats.set_defaults(func=run_stats)
    invalidate = commands.add_parser("invalidate", help="drop every entry made from a file")
    invalidate.add_argument("path")
    invalidate.set_defaults(func=run_invalidate)


def run_stats(args: argparse.Namespace) -> int:
    client = need_redis()
    need_database()
    print(dumps(cache.stats(settings(), client)))
    return 0


def run_invalidate(args: argparse.Namespace) -> int:
    need_database()
    removed = cache.invalidate(settings(), Path(args.path))
    print(f"invalidated {removed} cache entr{'y' if removed == 1 else 'ies'} for {args.path}")
    return 0
