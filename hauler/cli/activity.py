"""``hauler activity``: the timeline of one correlation id, read from the database."""

from __future__ import annotations

import argparse
import json
from typing import Any

from hauler import activity, broker
from hauler.cli.common import need_database, settings, when
from hauler.correlation import MAX_ID, clean_id
from hauler.recorder import heartbeat


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("activity", help="what happened, as one timeline")
    parser.add_argument("--correlation", required=True, help="correlation id (the root task id)")
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    url = need_database()
    correlation = clean_id(args.correlation) or ""
    rows = activity.timeline(url, correlation, limit=args.limit) if correlation else []
    if not rows:
        print(f"(nothing recorded for correlation {args.correlation!r}: {why_empty(url, args)})")
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


def why_empty(url: str, args: argparse.Namespace) -> str:
    """The real reason a timeline is empty: the id, or the recorder (from its heartbeat)."""
    correlation = clean_id(args.correlation)
    if not correlation:
        return "that is not a usable correlation id"
    own = activity.correlation_of_task(url, correlation)
    if own:
        return f"{correlation} is a task id; its correlation id is {own}"
    try:
        beat = heartbeat.last(broker.connect(settings().broker_url))
    except Exception as exc:  # the hint must not hide the answer behind a second failure
        return f"and Redis cannot be asked whether a recorder runs ({exc})"
    cut = (
        f" (ids are cut to {MAX_ID} characters: {correlation})"
        if correlation != args.correlation
        else ""
    )
    if beat is None:
        return (
            f"no recorder has reported in the last {heartbeat.TTL_SECONDS} s; start "
            "`hauler recorder` (events sent while none runs are not recorded)" + cut
        )
    where = f"{beat.get('host')} (pid {beat.get('pid')})"
    if not beat.get("healthy"):
        error = beat.get("database_error") or "not connected to the broker"
        return f"the recorder on {where} runs but is not writing: {error}" + cut
    return f"the recorder on {where} runs and writes; no row has that correlation id" + cut


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
