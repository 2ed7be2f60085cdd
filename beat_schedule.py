"""The periodic schedule, as data: task name → when, arguments and options."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

SCHEDULE: dict[str, dict[str, Any]] = {
    "maintenance-cleanup-daily": {
        "task": "maintenance.cleanup",
        "schedule": crontab(hour="3", minute="17"),
        "options": {"expires": 3600},
    },
    "health-ping-every-minute": {
        "task": "health.ping",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
}
