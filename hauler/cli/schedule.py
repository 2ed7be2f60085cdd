"""``hauler schedule``: the periodic tasks, when each runs next, and the setting that changes it."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from hauler import schedule
from hauler.cli.common import dumps, settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("schedule", help="the periodic schedule and its overrides")
    parser.add_argument("--json", action="store_true", help="JSON output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = settings().maintenance
    rows = schedule.describe(config.schedule, config.report_timezone, datetime.now(UTC))
    if args.json:
        print(dumps(rows))
        return 0
    print(f"{'entry':<13} {'task':<21} {'when':<32} {'next run (UTC)':<26} setting")
    for row in rows:
        nxt = (row["next_run"] or "-")[:19].replace("T", " ")
        mark = " (override)" if row["source"] == "override" else ""
        line = f"{row['entry']:<13} {row['task']:<21} {row['when']:<32} {nxt:<26}"
        print(f"{line} {row['setting']}{mark}")
    return 0
