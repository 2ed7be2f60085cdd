"""Tasks of the ``maintenance`` queue: retention and the daily report."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from hauler import maintenance, schedule
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


_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@hauler_task("reports.daily")
def daily(hours: int = 24, send: bool = True, local_time: str | None = None) -> dict[str, Any]:
    """Report the last ``hours`` and send it through notify (``send``).

    ``local_time`` ("HH:MM") is how the schedule asks for "23:00 in the report's time
    zone": a run at another local hour (the other side of a DST change) does nothing.
    """
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= 24 * 31:
        raise InvalidArgument("hours", "must be a whole number from 1 to 744")
    if not isinstance(send, bool):
        raise InvalidArgument("send", "must be true or false")
    settings = get_settings()
    now = datetime.now(UTC)
    timezone = settings.maintenance.report_timezone
    if local_time is not None:
        if not isinstance(local_time, str) or not _HHMM.match(local_time):
            raise InvalidArgument("local_time", "must be HH:MM")
        if not schedule.local_time_is(local_time, timezone, now):
            return {"skipped": f"not {local_time} in {timezone}", "at": now.isoformat()}
    return maintenance.send_daily_report(settings, now=now, hours=hours, send=send)
