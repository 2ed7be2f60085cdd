"""The periodic schedule, as data: entries of hauler/schedule.py with their overrides.

Each entry's timing can be changed with ``HAULER_SCHEDULE_<ENTRY>`` (seconds, a crontab
line in UTC, or ``off``); ``hauler schedule`` shows what is in force.
"""

from __future__ import annotations

import importlib
from typing import Any

from hauler import schedule
from hauler.settings import get_settings


def _schedule() -> dict[str, dict[str, Any]]:
    maintenance = get_settings().maintenance
    return schedule.build(maintenance.schedule, maintenance.report_timezone)


SCHEDULE: dict[str, dict[str, Any]] = _schedule()


def load(module: str) -> dict[str, dict[str, Any]]:
    """The ``SCHEDULE`` of ``module`` (HAULER_BEAT_SCHEDULE; this module by default)."""
    return dict(SCHEDULE if module == __name__ else importlib.import_module(module).SCHEDULE)
