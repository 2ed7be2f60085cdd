"""Tasks of the ``maintenance`` queue: retention and the daily report."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hauler import maintenance
from hauler.errors import InvalidArgument
from hauler.settings import get_settings
from tasks._ping import queue_ping
from workers.base import hauler_task

ping = queue_ping("maintenance")

#: Longest retention ``maintenance.cleanup`` accepts (100 years; beyond, dates overflow).
MAX_ACTIVITY_DAYS = 36_500


@hauler_task("maintenance.cleanup")
def cleanup(activity_days: int | None = None) -> dict[str, Any]:
    """Delete activity rows older than ``activity_days`` (default: the retention setting)."""
    settings = get_settings()
    days = settings.activity_retention_days if activity_days is None else activity_days
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_ACTIVITY_DAYS:
        raise InvalidArgument(
            "activity_days", f"must be a whole number of days from 1 to {MAX_ACTIVITY_DAYS}"
        )
    return maintenance.cleanup(settings, now=datetime.now(UTC), activity_days=days)


@hauler_task("reports.daily")
def daily(hours: int = 24) -> dict[str, Any]:
    """Summarise the last ``hours`` of activity: tasks by outcome, dead letters, failures."""
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= 24 * 31:
        raise InvalidArgument("hours", "must be a whole number from 1 to 744")
    return maintenance.daily_report(get_settings(), now=datetime.now(UTC), hours=hours)
