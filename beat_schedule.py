"""The periodic schedule, as data: task name → when, arguments and options."""

from __future__ import annotations

import importlib
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


def load(module: str) -> dict[str, dict[str, Any]]:
    """The ``SCHEDULE`` of ``module`` (HAULER_BEAT_SCHEDULE; this module by default)."""
    return dict(SCHEDULE if module == __name__ else importlib.import_module(module).SCHEDULE)
