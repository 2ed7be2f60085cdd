"""Settings of the daily report, retention and the schedule (``HAULER_REPORT_…``, …)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Self

from hauler.env import EnvReader


@dataclass(frozen=True)
class MaintenanceSettings:
    """When the report goes out, how long things are kept, and the schedule's overrides."""

    report_timezone: str = "UTC"  # time zone of the daily report's 23:00 (e.g. Europe/Paris)
    log_retention_days: int = 30  # log files under <data dir>/logs older than this are deleted
    dead_letter_retention_days: int = 30  # retried dead letters older than this are deleted
    staging_grace_hours: float = 24.0  # staging files untouched this long, with no live transfer
    schedule: Mapping[str, str] = field(default_factory=dict)  # HAULER_SCHEDULE_<ENTRY> overrides

    @classmethod
    def from_env(cls, reader: EnvReader) -> Self:
        from hauler import schedule

        timezone = reader.text("HAULER_REPORT_TIMEZONE", "UTC")
        overrides, problems = schedule.check_overrides(reader.env, timezone)
        reader.problems.extend(problems)
        return cls(
            report_timezone=timezone,
            log_retention_days=reader.integer("HAULER_LOG_RETENTION_DAYS", 30, minimum=1),
            dead_letter_retention_days=reader.integer(
                "HAULER_DEAD_LETTER_RETENTION_DAYS", 30, minimum=1
            ),
            staging_grace_hours=reader.number("HAULER_STAGING_GRACE_HOURS", 24.0, minimum=1.0),
            schedule=overrides,
        )
