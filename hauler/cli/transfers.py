"""``hauler transfers`` and ``hauler task``: running transfers and one task's state."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from sqlalchemy import select

from hauler.cli.common import dumps, need_database, need_redis, when
from hauler.progress import Board
from hauler.store.db import session_scope
from hauler.store.downloads_models import Download
from hauler.store.transfers_models import Transfer
from hauler.transfers import store as transfer_store

FINISHED = ("SUCCESS", "FAILURE", "REVOKED")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "transfers", help="downloads and uploads running now, and those handed to clients"
    )
    parser.add_argument("--recent", type=int, default=5, help="finished downloads to show")
    parser.add_argument(
        "--all", action="store_true", help="handed-off transfers that ended too (newest 50)"
    )
    parser.set_defaults(func=run_transfers)
    parser = subparsers.add_parser("task", help="a task's state, progress and result")
    parser.add_argument("task_id")
    parser.add_argument("--follow", action="store_true", help="print progress until it ends")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds --follow waits")
    parser.set_defaults(func=run_task)


def describe(meta: dict[str, Any]) -> str:
    """One line of progress: bytes of total, percent, rate, eta."""
    done, total = int(meta.get("bytes") or 0), meta.get("total")
    rate, eta = float(meta.get("rate") or 0.0), meta.get("eta")
    size = f"{_mib(done)} of {_mib(total)} ({done * 100 / total:.0f}%)" if total else _mib(done)
    return f"{size} at {_mib(rate)}/s" + (f", eta {eta:.0f}s" if eta is not None else "")


def handed_off_line(row: Transfer) -> str:
    """One line of a handed-off transfer: task, state, client and job, progress, link."""
    figures = {"bytes": row.bytes_done, "total": row.bytes_total, "rate": row.rate or 0.0}
    if row.bytes_total and row.rate:
        figures["eta"] = max(0.0, (row.bytes_total - row.bytes_done) / row.rate)
    job = f"{row.client}:{row.job_id or '?'}"
    said = f"  ({row.client_status})" if row.client_status else ""
    line = f"{row.task_id}  {row.state:<11} {job:<30} {describe(figures)}{said}  {row.shown}"
    if row.message and row.state not in (transfer_store.DONE,):
        line += f"  — {row.message}"
    return line


def _mib(value: float | int | None) -> str:
    return "?" if value is None else f"{value / 1048576:.1f} MiB"


def run_transfers(args: argparse.Namespace) -> int:
    active = Board(need_redis()).active()
    print(f"running: {len(active)}")
    for entry in active:
        print(f"  {entry['task_id']}  {entry['kind']:<8} {describe(entry)}  {entry['what']}"[:200])
    database = need_database()
    states = None if args.all else transfer_store.WATCHED
    handed = transfer_store.recent(database, limit=50, states=states)
    print(f"handed off: {len(handed)}")
    for transfer in handed:
        print(f"  {handed_off_line(transfer)}"[:240])
    with session_scope(database) as session:
        query = select(Download).order_by(Download.finished_at.desc()).limit(args.recent)
        rows = list(session.scalars(query))
    if rows:
        print("recent downloads:")
    for row in rows:
        print(f"  {when(row.finished_at)}  {row.client:<11} {_mib(row.bytes):>12}  {row.path}")
    return 0


def run_task(args: argparse.Namespace) -> int:
    need_redis()
    from workers.app import app

    result = app.AsyncResult(args.task_id)
    deadline = time.monotonic() + args.timeout
    while True:
        state, info = result.state, result.info
        if state == "PROGRESS" and isinstance(info, dict):
            print(f"{args.task_id} PROGRESS {describe(info)}", flush=True)
        elif state not in FINISHED:
            print(f"{args.task_id} {state}", flush=True)
        if state in FINISHED or not args.follow or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    if state == "SUCCESS":
        print(dumps(result.result))
    elif state == "FAILURE":
        print(f"{args.task_id} FAILURE {type(info).__name__}: {info}", file=sys.stderr)
        return 1
    return 0
