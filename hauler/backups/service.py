"""The backups queue as plain functions: make, verify, prune, vacuum and restore.

Each function takes the settings and an ``emit(kind, **fields)`` callable for the
activity log (the task passes :func:`hauler.activity.emit`); none needs Celery.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hauler.backups import catalog, pg, retention, sqlite
from hauler.backups.engines import engine_for, kind_of
from hauler.backups.settings import BackupSettings
from hauler.errors import BackupFailed, InvalidArgument, RestoreRefused, Unsupported
from hauler.paths import file_sha256
from hauler.redact import redact_text
from hauler.settings import Settings
from hauler.store.backups_models import STATUSES, Backup, aware

Emit = Callable[..., None]
KINDS = ("postgresql", "sqlite")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def no_emit(kind: str, **fields: Any) -> None:
    """The default emitter: nothing is recorded."""


def database_name(url: str) -> str:
    """The catalog's (and the metrics') name of a database: never its URL or password."""
    return engine_for(url, BackupSettings()).name


def backup_dir(settings: Settings) -> Path:
    """Where backup files go: HAULER_BACKUP_DIR, else <data dir>/backups."""
    return settings.backups.directory or settings.data_dir / "backups"


def file_for(settings: Settings, url: str, moment: datetime) -> Path:
    """A new file named by the database and the time (UTC, milliseconds)."""
    engine = engine_for(url, settings.backups)
    extension = engine.extension
    stem = _SAFE.sub("_", engine.name).strip("_") or "hauler"
    stamp = moment.strftime("%Y%m%dT%H%M%S") + f".{moment.microsecond // 1000:03d}Z"
    directory = backup_dir(settings)
    candidate = directory / f"{stem}-{stamp}{extension}"
    serial = 1
    while candidate.exists():
        serial += 1
        candidate = directory / f"{stem}-{stamp}-{serial}{extension}"
    return candidate


def run(settings: Settings, *, emit: Emit = no_emit) -> dict[str, Any]:
    """Back up Hauler's database into a new file and catalog it (not verified yet).

    Returns:
        The catalog row as a dict (id, path, sha256, bytes, seconds, row_counts, ...).

    Raises:
        BackupFailed: the dump cannot be made (a failed row is catalogued too).
        RetryableError: the database is unreachable for now.
    """
    url = settings.database_url
    engine = engine_for(url, settings.backups)
    kind, name = engine.kind, engine.name
    started = catalog.now()
    path = file_for(settings, url, started)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    clock = time.monotonic()
    try:
        partial.touch(mode=0o600)  # the dump holds every row: readable by Hauler's user only
        counts = engine.dump(partial)
        _fsync(partial)
        os.replace(partial, path)
    except BackupFailed as exc:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        catalog.add(
            settings,
            database=name,
            kind=kind,
            path=str(path),
            started_at=started,
            finished_at=catalog.now(),
            seconds=time.monotonic() - clock,
            row_counts={},
            status="failed",
            error=redact_text(str(exc))[:4000],
        )
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    seconds = time.monotonic() - clock
    row = catalog.add(
        settings,
        database=name,
        kind=kind,
        path=str(path),
        sha256=file_sha256(path),
        bytes=path.stat().st_size,
        started_at=started,
        finished_at=catalog.now(),
        seconds=round(seconds, 3),
        row_counts=counts,
        status="made",
    )
    result = row.as_dict()
    emit(
        "backup.made",
        backup_id=row.id,
        database=name,
        engine=kind,
        path=str(path),
        bytes=row.bytes,
        sha256=row.sha256,
        seconds=row.seconds,
        rows=sum(counts.values()),
        finished_at=result["finished_at"],
    )
    return result


def verify(settings: Settings, backup_id: Any, *, emit: Emit = no_emit) -> dict[str, Any]:
    """Prove backup ``backup_id`` restores: checksum, a full read, a restore and its counts.

    A backup that fails is marked ``bad`` (and ``backup.bad`` emitted); that is a result,
    not an exception. The database being unreachable is an exception (RetryableError).

    Returns:
        The catalog row as a dict after verification, plus ``restored_counts``.
    """
    row = _row(settings, backup_id, "backup_id")
    if row.status in ("pruned", "failed"):
        raise InvalidArgument("backup_id", f"backup {row.id} is {row.status}; nothing to verify")
    clock = time.monotonic()
    restored: dict[str, int] = {}
    try:
        restored = _prove(settings, row)
    except BackupFailed as exc:
        seconds = round(time.monotonic() - clock, 3)
        error = redact_text(str(exc))[:4000]
        bad = catalog.update(settings, row.id, status="bad", error=error, verify_seconds=seconds)
        emit("backup.bad", backup_id=row.id, database=row.database, path=row.path, error=error)
        return {**bad.as_dict(), "restored_counts": restored}
    seconds = round(time.monotonic() - clock, 3)
    good = catalog.update(
        settings,
        row.id,
        status="verified",
        verified_at=catalog.now(),
        verify_seconds=seconds,
        error=None,
    )
    result = good.as_dict()
    emit(
        "backup.verified",
        backup_id=row.id,
        database=row.database,
        seconds=seconds,
        verified_at=result["verified_at"],
    )
    return {**result, "restored_counts": restored}


def _prove(settings: Settings, row: Backup) -> dict[str, int]:
    """Every check of one backup; BackupFailed says the first that failed."""
    path = Path(row.path)
    if not path.is_file():
        raise BackupFailed(f"backup file {path} is missing")
    digest = file_sha256(path)
    if digest != row.sha256:
        raise BackupFailed(
            f"checksum mismatch: file {digest[:16]}…, catalog {str(row.sha256)[:16]}…"
        )
    engine = engine_for(settings.database_url, settings.backups)
    if engine.kind != row.kind:
        raise BackupFailed(f"backup {row.id} is {row.kind}; Hauler's database is {engine.kind}")
    restored = engine.prove(path)
    compare_counts(dict(row.row_counts or {}), restored)
    return restored


def compare_counts(expected: dict[str, Any], found: dict[str, int]) -> None:
    """BackupFailed naming up to five tables whose row counts differ."""
    differences = [
        f"{table}: {expected.get(table, 'absent')} recorded, {found.get(table, 'absent')} restored"
        for table in sorted(set(expected) | set(found))
        if expected.get(table) != found.get(table)
    ]
    if differences:
        more = f" (and {len(differences) - 5} more)" if len(differences) > 5 else ""
        raise BackupFailed("row counts differ: " + "; ".join(differences[:5]) + more)


def prune(
    settings: Settings,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    emit: Emit = no_emit,
) -> dict[str, Any]:
    """Delete the backups the retention policy does not keep; mark their rows pruned.

    Returns:
        ``{"kept", "pruned", "bytes", "dry_run", "reasons", "partials_removed"}``: ids kept
        and pruned, bytes freed, and why each kept one is kept.
    """
    now = now or catalog.now()
    options = settings.backups
    policy = retention.Policy(
        last=options.keep_last,
        daily=options.keep_daily,
        weekly=options.keep_weekly,
        monthly=options.keep_monthly,
    )
    rows = catalog.listing(settings, limit=100_000)
    by_database: dict[str, list[Backup]] = {}
    for row in rows:
        by_database.setdefault(row.database, []).append(row)
    kept: dict[int, tuple[str, ...]] = {}
    doomed: list[Backup] = []
    for group in by_database.values():
        entries = [
            retention.Entry(id=r.id, at=aware(r.started_at) or now, good=r.status != "bad")
            for r in group
        ]
        decision = retention.plan(entries, policy, now)
        kept.update(decision.keep)
        doomed.extend(r for r in group if r.id in decision.remove)
    freed = 0
    for row in doomed:
        freed += row.bytes or 0
        if not dry_run:
            with contextlib.suppress(FileNotFoundError):
                Path(row.path).unlink()
            catalog.update(settings, row.id, status="pruned")
    leftovers = [] if dry_run else _remove_partials(settings, now)
    pruned = [row.id for row in doomed]
    if pruned and not dry_run:
        emit("backup.pruned", backup_ids=pruned, count=len(pruned), bytes=freed)
    return {
        "kept": sorted(kept),
        "pruned": pruned,
        "bytes": freed,
        "dry_run": dry_run,
        "reasons": {str(k): list(v) for k, v in sorted(kept.items())},
        "partials_removed": leftovers,
    }


def _remove_partials(settings: Settings, now: datetime) -> list[str]:
    """Delete ``*.partial`` files older than the longest dump (a worker died mid-dump)."""
    directory = backup_dir(settings)
    cutoff = (now - timedelta(seconds=settings.backups.command_timeout)).timestamp()
    removed = []
    for partial in directory.glob("*.partial") if directory.is_dir() else ():
        with contextlib.suppress(FileNotFoundError):
            if partial.stat().st_mtime < cutoff:
                partial.unlink()
                removed.append(partial.name)
    return removed


def vacuum(settings: Settings) -> dict[str, Any]:
    """``VACUUM (ANALYZE)`` (PostgreSQL) or ``VACUUM`` (SQLite) Hauler's tables.

    Returns:
        ``{"database", "kind", "tables", "bytes_before", "bytes_after", "reclaimed_bytes",
        "seconds"}``.
    """
    engine = engine_for(settings.database_url, settings.backups)
    clock = time.monotonic()
    sizes = engine.vacuum()
    return {
        "database": engine.name,
        "kind": engine.kind,
        **sizes,
        "reclaimed_bytes": max(0, sizes["bytes_before"] - sizes["bytes_after"]),
        "seconds": round(time.monotonic() - clock, 3),
    }


def restore(
    settings: Settings,
    backup_id: Any,
    to: str,
    *,
    yes: bool = False,
    workers_alive: Callable[[], Sequence[str]] = lambda: (),
) -> dict[str, Any]:
    """Restore backup ``backup_id`` into the database at ``to`` and compare row counts.

    Into Hauler's own database only with ``yes`` and while ``workers_alive()`` is empty.
    Into another database, ``yes`` allows replacing what is there.

    Returns:
        ``{"backup_id", "to" (password masked), "live", "restored_counts", "matches", "seconds"}``.

    Raises:
        RestoreRefused: the live database without ``yes``, or with workers alive.
        BackupFailed: the file is missing, its checksum differs, or the restore fails.
    """
    row = _restorable(settings, backup_id, to)
    live = same_database(to, settings.database_url)
    if live:
        _check_live(yes, workers_alive)
    saved = catalog.listing(settings, statuses=STATUSES, limit=100_000) if live else []
    clock = time.monotonic()
    restored = _restore_file(settings, row, to, yes)
    if live:
        catalog.readd(settings, saved)
    expected = {k: int(v) for k, v in (row.row_counts or {}).items()}
    compared = dict(restored)
    if live:  # the catalog rows put back after the restore are not the backup's
        expected.pop("backups", None)
        compared.pop("backups", None)
    return {
        "backup_id": row.id,
        "to": redact_text(to),
        "live": live,
        "restored_counts": restored,
        "matches": compared == expected,
        "seconds": round(time.monotonic() - clock, 3),
    }


def _restorable(settings: Settings, backup_id: Any, to: str) -> Backup:
    """The catalog row, once its file is whole and it fits the target's kind."""
    row = _row(settings, backup_id, "backup_id")
    if row.status in ("pruned", "failed"):
        raise InvalidArgument("backup_id", f"backup {row.id} is {row.status}; it has no file")
    if row.status == "bad":
        raise RestoreRefused(f"backup {row.id} failed verification ({row.error}); pick another")
    target_kind = kind_of(to)
    if target_kind != row.kind:
        raise InvalidArgument("to", f"backup {row.id} is {row.kind}; {target_kind} given")
    path = Path(row.path)
    if not path.is_file() or file_sha256(path) != row.sha256:
        raise BackupFailed(f"backup file {path} is missing or its checksum changed")
    return row


def _check_live(yes: bool, workers_alive: Callable[[], Sequence[str]]) -> None:
    """RestoreRefused unless --yes was given and no worker is alive."""
    if not yes:
        raise RestoreRefused("that is Hauler's live database: stop every worker, then pass --yes")
    alive = list(workers_alive())
    if alive:
        raise RestoreRefused(
            f"{len(alive)} worker(s) still alive ({', '.join(alive[:5])}); stop them first"
        )


def _restore_file(settings: Settings, row: Backup, to: str, yes: bool) -> dict[str, int]:
    """Write the backup into ``to``; return the row counts found there afterwards."""
    engine = engine_for(settings.database_url, settings.backups)
    return engine.restore(Path(row.path), to, replace=yes)


def same_database(a: str, b: str) -> bool:
    """True when two URLs name the same database (and schema)."""
    try:
        if kind_of(a) != kind_of(b):
            return False
    except Unsupported:
        return False
    if kind_of(a) == "sqlite":
        return sqlite.path_of(a).resolve() == sqlite.path_of(b).resolve()
    one, two = pg.Target.parse(a), pg.Target.parse(b)
    return (one.url.host or "localhost", one.url.port or 5432, one.name) == (
        two.url.host or "localhost",
        two.url.port or 5432,
        two.name,
    )


def _row(settings: Settings, backup_id: Any, argument: str) -> Backup:
    if isinstance(backup_id, bool) or not isinstance(backup_id, int | str):
        raise InvalidArgument(argument, "must be a backup id (a whole number)")
    try:
        number = int(backup_id)
    except ValueError:
        raise InvalidArgument(argument, f"{backup_id!r} is not a backup id") from None
    row = catalog.get(settings, number)
    if row is None:
        raise InvalidArgument(argument, f"no backup {number} in the catalog")
    return row


def _fsync(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())
