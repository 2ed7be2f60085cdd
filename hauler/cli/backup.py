"""``hauler backup run|list|verify|prune|restore`` and ``hauler vacuum``: the backups, by hand.

The commands run in this process (no worker needed), so they work while the workers
are stopped; what they do is recorded on the activity timeline like the tasks' runs.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from typing import Any

import redis

from hauler.activity import DOMAIN_EVENT
from hauler.backups import catalog, service
from hauler.cli.common import dumps, need_database, settings, when
from hauler.errors import InvalidArgument, RestoreRefused
from hauler.redact import redact_url
from hauler.redelivery import WORKER_KEY_PREFIX
from hauler.store.backups_models import STATUSES

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("backup", help="database backups: make, list, verify, restore")
    commands = parser.add_subparsers(dest="backup_command", metavar="ACTION", required=True)
    run = commands.add_parser("run", help="back up the database now (and verify it)")
    run.add_argument("--no-verify", action="store_true", help="skip the restore test")
    run.add_argument("--json", action="store_true", help="print the result as JSON")
    run.set_defaults(func=run_backup)
    listing = commands.add_parser("list", help="the catalog, newest first")
    listing.add_argument("--all", action="store_true", help="include pruned and failed ones")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(func=list_backups)
    verify = commands.add_parser("verify", help="prove a backup restores (default: the newest)")
    verify.add_argument("backup", nargs="?", help="backup id")
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(func=verify_backup)
    prune = commands.add_parser("prune", help="delete what the retention policy does not keep")
    prune.add_argument("--dry-run", action="store_true", help="say what would go; delete nothing")
    prune.add_argument("--json", action="store_true")
    prune.set_defaults(func=prune_backups)
    restore = commands.add_parser("restore", help="restore a backup into a database")
    restore.add_argument("backup", help="backup id")
    restore.add_argument("--to", required=True, help="database URL to restore into")
    restore.add_argument(
        "--yes", action="store_true", help="replace what is there (the live database too)"
    )
    restore.set_defaults(func=restore_backup)
    vacuum = subparsers.add_parser("vacuum", help="VACUUM (ANALYZE) the database now")
    vacuum.add_argument("--json", action="store_true")
    vacuum.set_defaults(func=run_vacuum)


def run_backup(args: argparse.Namespace) -> int:
    need_database()
    config = settings()
    emit = _emitter()
    result = service.run(config, emit=emit)
    if not args.no_verify:
        result = service.verify(config, result["id"], emit=emit)
    _show(result, args.json)
    return 1 if result["status"] == "bad" else 0


def list_backups(args: argparse.Namespace) -> int:
    need_database()
    statuses = STATUSES if args.all else catalog.KEPT
    rows = catalog.listing(settings(), statuses=statuses, limit=args.limit)
    if args.json:
        for row in rows:
            print(dumps(row.as_dict()).replace("\n", " "))
        return 0
    print(f"{'id':>5}  {'started (UTC)':<23} {'status':<9} {'bytes':>12} {'rows':>9}  file")
    for row in rows:
        rows_total = sum(int(v) for v in (row.row_counts or {}).values())
        print(
            f"{row.id:>5}  {when(row.started_at):<23} {row.status:<9} {row.bytes or 0:>12} "
            f"{rows_total:>9}  {row.path}" + (f"  ({row.error})" if row.error else "")
        )
    if not rows:
        print("(no backups yet: hauler backup run)")
    return 0


def verify_backup(args: argparse.Namespace) -> int:
    need_database()
    config = settings()
    backup_id: Any = args.backup
    if backup_id is None:
        newest = catalog.latest(config)
        if newest is None:
            raise InvalidArgument("backup", "the catalog holds no backup yet")
        backup_id = newest.id
    result = service.verify(config, backup_id, emit=_emitter())
    _show(result, args.json)
    return 1 if result["status"] == "bad" else 0


def prune_backups(args: argparse.Namespace) -> int:
    need_database()
    result = service.prune(settings(), dry_run=args.dry_run, emit=_emitter())
    if args.json:
        print(dumps(result))
        return 0
    verb = "would prune" if args.dry_run else "pruned"
    print(f"kept {len(result['kept'])}; {verb} {len(result['pruned'])} ({result['bytes']} bytes)")
    for backup_id, reasons in result["reasons"].items():
        print(f"  keep {backup_id:>5}  {', '.join(reasons)}")
    for backup_id in result["pruned"]:
        print(f"  {'would prune' if args.dry_run else 'pruned'} {backup_id}")
    return 0


def restore_backup(args: argparse.Namespace) -> int:
    need_database(migrate=False)
    config = settings()
    result = service.restore(
        config, args.backup, args.to, yes=args.yes, workers_alive=lambda: alive_workers(config)
    )
    print(dumps(result))
    if not result["matches"]:
        print("hauler: the restored row counts differ from the backup's", file=sys.stderr)
        return 1
    print(f"restored backup {result['backup_id']} into {redact_url(args.to)}")
    return 0


def run_vacuum(args: argparse.Namespace) -> int:
    need_database()
    result = service.vacuum(settings())
    if args.json:
        print(dumps(result))
    else:
        print(
            f"vacuumed {result['tables']} tables of {result['database']} in {result['seconds']} s; "
            f"{result['bytes_before']} → {result['bytes_after']} bytes "
            f"(reclaimed {result['reclaimed_bytes']})"
        )
    return 0


def alive_workers(config: Any) -> list[str]:
    """Workers that answer a Celery ping or hold a fresh delivery heartbeat in Redis.

    Raises:
        RestoreRefused: the broker cannot be asked, so nobody can tell.
    """
    from workers.app import app

    try:
        client = redis.Redis.from_url(config.broker_url, socket_connect_timeout=3)
        beats = [
            key.decode().removeprefix(WORKER_KEY_PREFIX)
            for key in client.scan_iter(match=f"{WORKER_KEY_PREFIX}*", count=500)
        ]
        pings = list((app.control.inspect(timeout=1.0).ping() or {}).keys())
    except (redis.RedisError, OSError) as exc:
        raise RestoreRefused(
            f"cannot tell whether workers are alive (the broker does not answer: {exc})"
        ) from None
    hosts = {beat.rsplit(":", 1)[0] for beat in beats}
    return sorted(set(pings) | hosts)


def _emitter() -> service.Emit:
    """Send domain events the way tasks do, so the recorder writes them (best effort).

    With the broker down the command still works: the catalog has the facts, and the
    events are skipped with one warning instead of a wait on each.
    """
    try:
        redis.Redis.from_url(settings().broker_url, socket_connect_timeout=2).ping()
    except (redis.RedisError, OSError) as exc:
        print(
            f"hauler: not on the activity timeline (the broker does not answer: {exc})",
            file=sys.stderr,
        )
        return service.no_emit
    from workers.app import app

    hostname = f"hauler-cli@{socket.gethostname()}"

    def emit(kind: str, **payload: Any) -> None:
        fields = {"kind": kind, "task_id": None, "task_name": "hauler backup", "payload": payload}
        try:
            with app.events.default_dispatcher(hostname=hostname) as dispatcher:
                dispatcher.send(DOMAIN_EVENT, **fields)
        except Exception as exc:  # the broker went away meanwhile
            log.warning("could not record %s on the activity timeline: %s", kind, exc)

    return emit


def _show(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(dumps(result))
        return
    print(
        f"backup {result['id']} of {result['database']}: {result['status']}; "
        f"{result['bytes']} bytes in {result['seconds']} s → {result['path']}"
    )
    if result["status"] == "verified":
        print(f"  verified in {result['verify_seconds']} s: it restores, with the same row counts")
    if result.get("error"):
        print(f"  error: {result['error']}")
