"""``hauler report`` (the daily report, now) and ``hauler errors`` (failures by task and hour)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from hauler import report
from hauler.cli.common import dumps, need_database, need_redis, settings
from hauler.maintenance import daily_report, send_daily_report


def register(subparsers: Any) -> None:
    daily = subparsers.add_parser("report", help="the daily report for the last N hours")
    daily.add_argument("--hours", type=_hours, default=24, help="window in hours (default 24)")
    daily.add_argument("--json", action="store_true", help="the report as JSON")
    daily.add_argument("--send", action="store_true", help="also send it through notify")
    daily.set_defaults(func=run_report)
    errors = subparsers.add_parser("errors", help="failures by task, category and hour")
    errors.add_argument("--hours", type=_hours, default=24, help="window in hours (default 24)")
    errors.add_argument("--json", action="store_true", help="JSON output")
    errors.set_defaults(func=run_errors)


def _hours(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--hours must be a whole number, got {text!r}") from None
    if not 1 <= value <= 24 * 31:
        raise argparse.ArgumentTypeError("--hours must be from 1 to 744")
    return value


def run_report(args: argparse.Namespace) -> int:
    need_database()
    config = settings()
    now = datetime.now(UTC)
    if args.send:
        need_redis()
        data = send_daily_report(config, now=now, hours=args.hours, send=True)
    else:
        data = daily_report(config, now=now, hours=args.hours)
    if args.json:
        print(dumps(data))
        return 0
    title, text = report.text_of(data, config.maintenance.report_timezone)
    print(title)
    print(text.replace("*", ""))
    for name, outcome in (data.get("sent") or {}).items():
        print(f"sent to {name}: {outcome['status']}")
    return 0


def run_errors(args: argparse.Namespace) -> int:
    need_database()
    data = report.errors(settings(), now=datetime.now(UTC), hours=args.hours)
    if args.json:
        print(dumps(data))
        return 0
    print(f"{data['total']} failures since {data['since'][:19]} UTC")
    if not data["total"]:
        return 0
    print("by task:     " + ", ".join(f"{k} {v}" for k, v in data["by_task"].items()))
    print("by category: " + ", ".join(f"{k} {v}" for k, v in data["by_category"].items()))
    print(f"{'hour (UTC)':<17} {'count':>5}  {'task':<28} category")
    for row in data["by_hour"]:
        print(f"{row['hour']:<17} {row['count']:>5}  {row['task']:<28} {row['category']}")
    return 0
