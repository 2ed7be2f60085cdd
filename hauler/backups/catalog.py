"""The backup catalog: reading and writing rows of the ``backups`` table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text

from hauler.store.backups_models import Backup, aware
from hauler.store.db import session_scope

if TYPE_CHECKING:
    from hauler.settings import Settings

#: States whose file is still on disk and counts as a backup (pruned and failed do not).
KEPT = ("made", "verified", "bad")


def latest(settings: Settings, *, database: str | None = None) -> Backup | None:
    """The newest backup that was made (made, verified or bad), or None."""
    return _newest(settings, ("made", "verified", "bad"), database)


def last_verified(settings: Settings, *, database: str | None = None) -> Backup | None:
    """The newest backup whose restore was proven (status verified), or None."""
    return _newest(settings, ("verified",), database)


def get(settings: Settings, backup_id: int) -> Backup | None:
    """The catalog row ``backup_id``, or None."""
    with session_scope(settings.database_url) as session:
        return session.get(Backup, backup_id)


def listing(
    settings: Settings, *, statuses: Sequence[str] = KEPT, limit: int = 1000
) -> list[Backup]:
    """Catalog rows in ``statuses``, newest first."""
    with session_scope(settings.database_url) as session:
        query = (
            select(Backup)
            .where(Backup.status.in_(tuple(statuses)))
            .order_by(Backup.started_at.desc(), Backup.id.desc())
            .limit(limit)
        )
        return list(session.scalars(query))


def add(settings: Settings, **fields: Any) -> Backup:
    """Insert a catalog row and return it (with its id)."""
    with session_scope(settings.database_url) as session:
        row = Backup(**fields)
        session.add(row)
        session.flush()
        return row


def update(settings: Settings, backup_id: int, **fields: Any) -> Backup:
    """Change columns of row ``backup_id`` and return the row as stored."""
    with session_scope(settings.database_url) as session:
        row = session.get(Backup, backup_id)
        if row is None:
            raise LookupError(f"no backup {backup_id} in the catalog")
        for name, value in fields.items():
            setattr(row, name, value)
        session.flush()
        return row


def age_seconds(row: Backup, now: datetime) -> float:
    """Seconds since ``row`` finished (or started, if it never finished)."""
    moment = aware(row.finished_at) or aware(row.started_at)
    assert moment is not None
    return (now - moment).total_seconds()


def readd(settings: Settings, rows: Sequence[Backup]) -> int:
    """Insert again the rows (same ids) a restore of the database took away; return how many."""
    with session_scope(settings.database_url) as session:
        present = set(session.scalars(select(Backup.id)))
        missing = [row for row in rows if row.id not in present]
        for row in missing:
            session.add(Backup(**{c.name: getattr(row, c.name) for c in Backup.__table__.columns}))
        session.flush()
        if missing and session.bind is not None and session.bind.dialect.name == "postgresql":
            session.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('backups', 'id'), "
                    "(SELECT max(id) FROM backups))"
                )
            )
        return len(missing)


def now() -> datetime:
    """The catalog's clock (UTC, aware)."""
    return datetime.now(UTC)


def _newest(settings: Settings, statuses: Sequence[str], database: str | None) -> Backup | None:
    with session_scope(settings.database_url) as session:
        query = select(Backup).where(Backup.status.in_(tuple(statuses)))
        if database is not None:
            query = query.where(Backup.database == database)
        query = query.order_by(Backup.started_at.desc(), Backup.id.desc()).limit(1)
        return session.scalar(query)
