"""``hauler notify test|receivers|alerts``: the receivers, a test message, the alerts now."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from hauler.cli.common import dumps, need_database, need_redis, settings, when
from hauler.notify import service
from hauler.notify.message import Message
from hauler.store.alerts_models import AlertState
from hauler.store.db import session_scope


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("notify", help="notification receivers and alerts")
    commands = parser.add_subparsers(dest="notify_command", metavar="ACTION", required=True)
    test = commands.add_parser("test", help="send a test message to receiver NAME")
    test.add_argument("name", metavar="NAME", help="receiver (HAULER_NOTIFY_<NAME>_URL)")
    test.set_defaults(func=run_test)
    listing = commands.add_parser("receivers", help="the configured receivers (no URLs)")
    listing.add_argument("--json", action="store_true", help="JSON output")
    listing.set_defaults(func=run_receivers)
    alerts = commands.add_parser("alerts", help="alerts firing now, and those muted")
    alerts.add_argument("--json", action="store_true", help="JSON output")
    alerts.set_defaults(func=run_alerts)


def run_test(args: argparse.Namespace) -> int:
    need_redis()
    need_database()
    config = settings()
    service.protect(config)
    message = Message(
        title="Hauler test message",
        text=f"If you read this, receiver {args.name.lower()} works. "
        f"Sent by `hauler notify test` at {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC.",
        severity="info",
        kind="test",
    )
    result = service.send(config, message, receiver=args.name, later=service.celery_later())
    outcome = result["receivers"][args.name.lower()]
    print(
        f"{args.name.lower()}: {outcome['status']}"
        + (f" ({outcome['detail']})" if outcome.get("detail") else "")
    )
    if outcome["status"] == "deferred":
        print(f"  not delivered yet: notify.deliver tries again in {outcome['retry_in']}s")
    return 0 if outcome["status"] in ("sent", "deferred") else 1


def run_receivers(args: argparse.Namespace) -> int:
    rows = [r.describe() for r in settings().notify.receivers]
    if args.json:
        print(dumps(rows))
        return 0
    if not rows:
        print("no receivers: set HAULER_NOTIFY_<NAME>_URL and HAULER_NOTIFY_<NAME>_KIND")
    for row in rows:
        print(
            f"{row['name']:<16} {row['kind']:<8} {row['host']:<28} "
            f"{','.join(row['severities']):<24} maintenance={'yes' if row['maintenance'] else 'no'}"
        )
    return 0


def run_alerts(args: argparse.Namespace) -> int:
    url = need_database()
    now = datetime.now(UTC)
    with session_scope(url) as session:
        rows = session.scalars(select(AlertState).order_by(AlertState.starts_at)).all()
        items = [
            {
                "alert": r.name,
                "instance": r.labels.get("instance", ""),
                "severity": r.severity,
                "state": "muted" if r.inhibited else ("resolved" if r.ends_at else "firing"),
                "since": when(r.starts_at),
                "group": r.group_key,
                "summary": r.annotations.get("summary", ""),
            }
            for r in rows
        ]
    if args.json:
        print(dumps({"at": now.isoformat(), "alerts": items}))
        return 0
    if not items:
        print("no alerts")
    for item in items:
        print(
            f"{item['since']}  {item['severity']:<8} {item['state']:<8} "
            f"{item['alert']}  {item['summary']}"
        )
    return 0
