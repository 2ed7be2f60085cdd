"""The schedule as data: defaults, overrides validated at start-up, the zoned daily report."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from celery.schedules import crontab, schedule

from hauler import schedule as plan
from hauler.errors import ConfigurationError
from hauler.settings import Settings


def test_the_default_schedule_has_every_entry_the_issue_names():
    built = plan.build({}, "UTC")
    tasks = {name: entry["task"] for name, entry in built.items()}
    assert tasks == {
        "watch": "polling.watch",
        "poll_clients": "polling.poll_clients",
        "health": "health.check",
        "backup": "backups.run",
        "vacuum": "backups.vacuum",
        "report": "reports.daily",
        "cleanup": "maintenance.cleanup",
    }
    assert built["poll_clients"]["schedule"].run_every.total_seconds() == 120
    assert built["health"]["schedule"].run_every.total_seconds() == 300
    assert (built["backup"]["schedule"].hour, built["backup"]["schedule"].minute) == ({4}, {0})
    assert built["cleanup"]["schedule"].hour == {2}
    assert built["report"]["kwargs"] == {"local_time": "23:00"}


def test_overrides_take_seconds_a_crontab_line_or_off():
    overrides, problems = plan.check_overrides(
        {
            "HAULER_SCHEDULE_HEALTH": "60",
            "HAULER_SCHEDULE_BACKUP": "15 3 * * 1-5",
            "HAULER_SCHEDULE_WATCH": "off",
        },
        "UTC",
    )
    assert problems == []
    built = plan.build(overrides, "UTC")
    assert isinstance(built["health"]["schedule"], schedule)
    assert isinstance(built["backup"]["schedule"], crontab)
    assert "watch" not in built


def test_bad_overrides_fail_start_up_naming_the_setting():
    env = {
        "HAULER_SCHEDULE_HEALTH": "soon",
        "HAULER_SCHEDULE_BACKUP": "61 4 * * *",
        "HAULER_SCHEDULE_BACKUPZ": "60",
        "HAULER_SCHEDULE_REPORT": "-5",
        "HAULER_REPORT_TIMEZONE": "Mars/Olympus",
    }
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(env)
    problems = caught.value.problems
    for name in ("HAULER_SCHEDULE_HEALTH", "HAULER_SCHEDULE_BACKUP=", "HAULER_SCHEDULE_BACKUPZ"):
        assert any(name in p for p in problems), (name, problems)
    assert any("HAULER_SCHEDULE_REPORT" in p for p in problems)
    assert any("HAULER_REPORT_TIMEZONE" in p for p in problems)


@pytest.mark.parametrize(
    ("utc", "runs"),
    [
        (datetime(2026, 7, 1, 21, 0, tzinfo=UTC), True),  # 23:00 CEST
        (datetime(2026, 7, 1, 22, 0, tzinfo=UTC), False),  # 00:00 CEST: the other candidate
        (datetime(2026, 12, 1, 22, 0, tzinfo=UTC), True),  # 23:00 CET
        (datetime(2026, 12, 1, 21, 0, tzinfo=UTC), False),
        (datetime(2026, 12, 1, 22, 20, tzinfo=UTC), True),  # beat a little late
    ],
)
def test_the_report_runs_at_23_paris_time_in_summer_and_winter(utc, runs):
    when = plan.zoned_daily("23:00", "Europe/Paris", year=2026)
    assert when.hour == {21, 22} and when.minute == {0}
    assert plan.local_time_is("23:00", "Europe/Paris", utc) is runs


def test_describe_names_each_setting_and_the_next_run():
    rows = plan.describe({"health": "60"}, "Europe/Paris", datetime(2026, 12, 1, 12, tzinfo=UTC))
    health = next(r for r in rows if r["entry"] == "health")
    assert health["source"] == "override" and health["setting"] == "HAULER_SCHEDULE_HEALTH"
    assert health["next_run"] == "2026-12-01T12:01:00+00:00"
    report = next(r for r in rows if r["entry"] == "report")
    assert report["when"] == "daily at 23:00 Europe/Paris"
    assert report["next_run"] == "2026-12-01T22:00:00+00:00"
