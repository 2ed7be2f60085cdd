"""``hauler activity``: the timeline of one correlation id, read from the database."""

from __future__ import annotations

import argparse
import json
from typing import Any

from hauler import activity
from hauler.cli.common import need_database, when


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("activity", help="what happened, as one timeline")
    parser.add_argument("--correlation", required=True, help="correlation id (the root task id)")
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    url = need_database()
    rows = activity.timeline(url, args.correlation, limit=args.limit)
    if not rows:
        print(
            f"(nothing recorded for correlation {args.correlation}; is `hauler recorder` running?)"
        )
        return 1
    for row in rows:
        if args.json:
            print(json.dumps(_as_dict(row), default=str))
            continue
        detail = _detail(row.payload)
        task = f"{row.task_name or '-':<28} {(row.task_id or '-')[:8]:<8}"
        status = f"{row.status or '':<13} {row.hostname or '':<20}"
        print(f"{when(row.occurred_at)}  {row.event_type:<20} {task} {status} {detail}")
    return 0


def _detail(payload: dict[str, Any]) -> str:
    for key in ("exception", "reason", "result"):
        if payload.get(key):
            return str(payload[key])[:120]
    return json.dumps(payload, default=str)[:120] if payload else ""


def _as_dict(row: Any) -> dict[str, Any]:
    columns = ("occurred_at", "event_type", "task_id", "task_name", "queue", "correlation_id")
    data = {column: getattr(row, column) for column in columns}
    data.update(causation_id=row.causation_id, status=row.status, payload=row.payload)
    return data
