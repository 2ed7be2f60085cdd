"""What ``maintenance.cleanup`` removes besides activity rows and media cache entries.

Each function returns how many things it removed; none touches anything outside this
deployment's Redis database, data directory and database.
"""

from __future__ import annotations

import json
import logging
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import inspect, text

from hauler import broker, deadletter
from hauler.settings import Settings
from hauler.store.db import engine_for, session_scope

log = logging.getLogger(__name__)

#: Celery's result keys in the result backend (``celery-task-meta-<task id>``).
RESULT_PATTERN = "celery-task-meta-*"
#: Transfer states after which a transfer's staging directory is no longer in use.
FINISHED_TRANSFER_STATES = ("done", "gave-up")


def celery_results(client: redis.Redis, *, now: float, expires: int) -> int:
    """Delete result keys past ``expires`` seconds that Redis would keep (no TTL set).

    Results stored with an expiry vanish by themselves; a key without one (written with
    ``result_expires`` off, or by another app's backend) older than ``expires`` by its
    ``date_done`` is deleted. Keys are walked with SCAN, never KEYS.
    """
    removed = 0
    for key in client.scan_iter(match=RESULT_PATTERN, count=500):
        if client.ttl(key) != -1:
            continue  # expires by itself (or gone already)
        raw = client.get(key)
        done = _date_done(raw)
        if done is not None and now - done > expires:
            removed += int(client.delete(key))
    return removed


def _date_done(raw: Any) -> float | None:
    try:
        value = json.loads(raw)
        stamp = value.get("date_done")
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except (TypeError, ValueError, AttributeError):
        return None


def old_files(root: Path, older_than: float, *, pattern: str = "*") -> int:
    """Delete regular files under ``root`` matching ``pattern`` last changed before then."""
    if not root.is_dir():
        return 0
    removed = 0
    for path in root.rglob(pattern):
        try:
            if path.is_file() and not path.is_symlink() and path.stat().st_mtime < older_than:
                path.unlink()
                removed += 1
        except OSError as exc:
            log.warning("cleanup: could not remove %s: %s", path, exc)
    return removed


def live_workdirs(url: str) -> set[Path] | None:
    """Staging directories of transfers still under way, or None without a transfers table."""
    engine = engine_for(url)
    if not inspect(engine).has_table("transfers"):
        return None
    with session_scope(url) as session:
        rows = session.execute(
            text("SELECT workdir FROM transfers WHERE state NOT IN (:done, :gave_up)"),
            {"done": FINISHED_TRANSFER_STATES[0], "gave_up": FINISHED_TRANSFER_STATES[1]},
        ).all()
    return {Path(str(r[0])).resolve() for r in rows if r[0]}


def staging_leftovers(staging: Path, url: str, older_than: float) -> int:
    """Remove top-level staging entries untouched since ``older_than`` with no live transfer."""
    if not staging.is_dir():
        return 0
    live = live_workdirs(url) or set()
    removed = 0
    for entry in staging.iterdir():
        resolved = entry.resolve()
        if any(resolved == w or resolved in w.parents or w in resolved.parents for w in live):
            continue
        try:
            if _newest_mtime(entry) >= older_than:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed += 1
        except OSError as exc:
            log.warning("cleanup: could not remove %s: %s", entry, exc)
    return removed


def _newest_mtime(entry: Path) -> float:
    newest = entry.lstat().st_mtime
    if entry.is_dir() and not entry.is_symlink():
        for path in entry.rglob("*"):
            try:
                newest = max(newest, path.lstat().st_mtime)
            except OSError:
                continue
    return newest


def retried_dead_letters(url: str, older_than: datetime) -> int:
    """Delete dead letters that were retried by hand and failed last before ``older_than``."""
    return deadletter.purge(url, state="retried", older_than=older_than)


def backups(settings: Settings, now: datetime) -> dict[str, Any]:
    """Apply the backup retention policy (hauler/backups/retention.py) to the catalog."""
    from hauler import activity
    from hauler.backups import service

    result: dict[str, Any] = service.prune(settings, now=now, emit=activity.emit)
    return {"pruned": len(result.get("pruned") or ()), "bytes": result.get("bytes", 0)}


def run(settings: Settings, now: datetime) -> dict[str, Any]:
    """Everything but activity rows and the media cache; one count per kind of thing."""
    options = settings.maintenance
    epoch = now.timestamp()
    client = broker.shared(settings.result_backend or settings.broker_url)
    results = celery_results(client, now=epoch, expires=settings.result_expires)
    logs_cutoff = epoch - options.log_retention_days * 86400
    staging_cutoff = epoch - options.staging_grace_hours * 3600
    letters_cutoff = now - timedelta(days=options.dead_letter_retention_days)
    return {
        "results_deleted": results,
        "logs_deleted": old_files(settings.data_dir / "logs", logs_cutoff, pattern="*.log*"),
        "staging_deleted": staging_leftovers(
            settings.staging_dir, settings.database_url, staging_cutoff
        ),
        "dead_letters_deleted": retried_dead_letters(settings.database_url, letters_cutoff),
        "backups": backups(settings, now),
    }
