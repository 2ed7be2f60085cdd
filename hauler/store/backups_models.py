"""The backup catalog: one row per backup file Hauler made."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hauler.store.models import Base, BigId, JsonType

#: The states of a backup, in the order a healthy one passes through them.
STATUSES = ("made", "verified", "bad", "pruned", "failed")


class Backup(Base):
    """A dump of one database: where it is, what it holds and whether it restores."""

    __tablename__ = "backups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    database: Mapped[str] = mapped_column(String(200))  # the database's name (never its URL)
    kind: Mapped[str] = mapped_column(String(16))  # postgresql | sqlite
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    seconds: Mapped[float | None] = mapped_column(Float)
    row_counts: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    status: Mapped[str] = mapped_column(String(16))  # one of STATUSES
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verify_seconds: Mapped[float | None] = mapped_column(Float)
    uploaded_to: Mapped[str | None] = mapped_column(Text)  # off-site copy (no credentials)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_backups_database_started", "database", "started_at"),
        Index("ix_backups_status_started", "status", "started_at"),
    )

    def as_dict(self) -> dict[str, Any]:
        """The row as JSON-friendly data (times in ISO 8601)."""
        return {
            "id": self.id,
            "database": self.database,
            "kind": self.kind,
            "path": self.path,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "seconds": self.seconds,
            "row_counts": dict(self.row_counts or {}),
            "status": self.status,
            "verified_at": _iso(self.verified_at),
            "verify_seconds": self.verify_seconds,
            "uploaded_to": self.uploaded_to,
            "error": self.error,
        }


def aware(moment: datetime | None) -> datetime | None:
    """``moment`` in UTC with its zone set (SQLite hands back naive UTC times)."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime | None) -> str | None:
    moment = aware(moment)
    return moment.isoformat() if moment is not None else None
