"""Backup metrics: when each database was last backed up and verified, and outcomes.

The gauges follow the catalog (read every sampling round, so backups made by
``hauler backup run`` count too, and a restarted recorder knows the last backup at
once) and the ``backup.*`` events (so a new backup shows within a second). The
outcome counter counts events since the recorder started, as counters do.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy import func, select

from hauler.store.backups_models import Backup, aware
from hauler.store.db import session_scope

if TYPE_CHECKING:
    from hauler.settings import Settings

OUTCOMES = ("made", "verified", "bad", "failed")
_EVENT_OUTCOME = {"backup.made": "made", "backup.verified": "verified", "backup.bad": "bad"}


class BackupMetrics:
    """``hauler_backup_last_*_timestamp_seconds{database}`` and ``hauler_backups_total``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.last_made = Gauge(
            "hauler_backup_last_made_timestamp_seconds",
            "When the newest backup of a database finished (Unix time).",
            ["database"],
            registry=registry,
        )
        self.last_verified = Gauge(
            "hauler_backup_last_verified_timestamp_seconds",
            "When a backup of a database was last proven to restore (Unix time).",
            ["database"],
            registry=registry,
        )
        self.outcomes = Counter(
            "hauler_backups",
            "Backups by outcome: made, verified, bad (failed verification), failed (no file).",
            ["outcome"],
            registry=registry,
        )
        for outcome in OUTCOMES:
            self.outcomes.labels(outcome)
        self._last: dict[tuple[int, str], float] = {}

    def observe(self, kind: Any, payload: dict[str, Any]) -> None:
        """Count one domain event; ``backup.made`` and ``.verified`` move the gauges."""
        outcome = _EVENT_OUTCOME.get(str(kind))
        if outcome is None:
            return
        self.outcomes.labels(outcome).inc()
        database = str(payload.get("database") or "unknown")
        if outcome == "made":
            self._raise(self.last_made, database, _stamp(payload.get("finished_at")))
        elif outcome == "verified":
            self._raise(self.last_verified, database, _stamp(payload.get("verified_at")))

    def task_failed(self, task_name: str | None) -> None:
        """A ``backups.run`` that failed for good made no backup."""
        if task_name == "backups.run":
            self.outcomes.labels("failed").inc()

    def load(self, settings: Settings) -> None:
        """Set the gauges from the catalog (newest made and verified per database)."""
        with session_scope(settings.database_url) as session:
            made = session.execute(
                select(Backup.database, func.max(Backup.finished_at))
                .where(Backup.status.in_(("made", "verified", "bad", "pruned")))
                .group_by(Backup.database)
            ).all()
            verified = session.execute(
                select(Backup.database, func.max(Backup.verified_at))
                .where(Backup.verified_at.is_not(None))
                .group_by(Backup.database)
            ).all()
        for database, moment in made:
            self._raise(self.last_made, database, _timestamp(moment))
        for database, moment in verified:
            self._raise(self.last_verified, database, _timestamp(moment))

    def _raise(self, gauge: Gauge, database: str, stamp: float | None) -> None:
        """Move a last-time gauge forward only (an older fact never hides a newer one)."""
        if stamp is None:
            return
        key = (id(gauge), database)
        if stamp > self._last.get(key, float("-inf")):
            self._last[key] = stamp
            gauge.labels(database).set(stamp)


def _stamp(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return _timestamp(datetime.fromisoformat(value))
    except ValueError:
        return None


def _timestamp(moment: Any) -> float | None:
    if isinstance(moment, str):
        return _stamp(moment)
    if not isinstance(moment, datetime):
        return None
    aware_moment = aware(moment)
    return aware_moment.timestamp() if aware_moment else None
