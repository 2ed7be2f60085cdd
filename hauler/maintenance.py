"""Retention and the daily report, as plain functions of the settings and the clock."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from hauler import activity
from hauler.settings import Settings
from hauler.store.db import session_scope
from hauler.store.models import Activity, DeadLetter


def cleanup(settings: Settings, *, now: datetime, activity_days: int) -> dict[str, Any]:
    """Delete activity rows older than ``activity_days`` and expired media cache entries."""
    from hauler.media import cache

    cutoff = activity.retention_cutoff(now, activity_days)
    removed = activity.prune(settings.database_url, older_than=cutoff)
    expired = cache.expire(settings, now)
    return {
        "activity_deleted": removed,
        "media_cache_expired": expired,
        "cutoff": cutoff.isoformat(),
    }


def daily_report(settings: Settings, *, now: datetime, hours: int = 24) -> dict[str, Any]:
    """Tasks by outcome and name, new dead letters and the top failures since ``now - hours``."""
    since = now - timedelta(hours=hours)
    with session_scope(settings.database_url) as session:
        rows = session.execute(
            select(Activity.task_name, Activity.status, func.count())
            .where(Activity.occurred_at >= since, Activity.status.is_not(None))
            .group_by(Activity.task_name, Activity.status)
        ).all()
        dead = session.execute(
            select(DeadLetter.task_name, DeadLetter.reason, func.count())
            .where(DeadLetter.last_failed_at >= since)
            .group_by(DeadLetter.task_name, DeadLetter.reason)
        ).all()
    outcomes: Counter[str] = Counter()
    by_task: dict[str, dict[str, int]] = {}
    for name, status, count in rows:
        outcomes[str(status)] += count
        by_task.setdefault(name or "?", {})[str(status)] = count
    return {
        "since": since.isoformat(),
        "until": now.isoformat(),
        "outcomes": dict(outcomes),
        "by_task": by_task,
        "dead_letters": [
            {"task_name": name, "reason": reason, "count": count} for name, reason, count in dead
        ],
    }
