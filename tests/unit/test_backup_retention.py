"""Retention of backups: restic's keep-last/daily/weekly/monthly over tables of dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hauler.backups.retention import Entry, Plan, Policy, plan

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # a Tuesday, ISO week 2026-W49


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def entries(*moments: str, bad: tuple[int, ...] = ()) -> list[Entry]:
    """Entries numbered 1.. in the order given (any order: plan sorts them)."""
    return [Entry(id=i, at=at(m), good=i not in bad) for i, m in enumerate(moments, start=1)]


CASES = [
    pytest.param(
        entries("2026-12-01T04:00", "2026-12-01T03:00", "2026-12-01T02:00", "2026-12-01T01:00"),
        Policy(last=3, daily=0, weekly=0, monthly=0),
        {1, 2, 3},
        id="last-N-keeps-the-newest-N",
    ),
    pytest.param(
        entries(
            "2026-12-01T04:00",
            "2026-12-01T01:00",
            "2026-11-30T04:00",
            "2026-11-30T01:00",
            "2026-11-29T04:00",
        ),
        Policy(last=0, daily=2, weekly=0, monthly=0),
        {1, 3},
        id="daily-keeps-the-newest-of-each-day",
    ),
    pytest.param(
        entries("2026-12-01T04:00", "2026-11-28T04:00", "2026-11-20T04:00"),
        Policy(last=0, daily=2, weekly=0, monthly=0),
        {1, 2},
        id="days-without-a-backup-do-not-use-up-the-count",
    ),
    pytest.param(
        # 2020 has 53 ISO weeks: Thu 31 Dec 2020 and Fri 1 Jan 2021 are both in 2020-W53.
        entries("2021-01-04T04:00", "2021-01-01T04:00", "2020-12-31T04:00", "2020-12-27T04:00"),
        Policy(last=0, daily=0, weekly=3, monthly=0),
        {1, 2, 4},
        id="iso-weeks-cross-the-new-year",
    ),
    pytest.param(
        entries(
            "2026-12-01T04:00",
            "2026-11-30T04:00",
            "2026-11-01T04:00",
            "2026-10-31T04:00",
            "2026-08-15T04:00",
        ),
        Policy(last=0, daily=0, weekly=0, monthly=3),
        {1, 2, 4},
        id="monthly-keeps-the-newest-of-each-month-with-one",
    ),
    pytest.param(
        entries("2026-12-01T04:00", "2026-11-30T04:00", "2026-11-23T04:00", "2026-10-02T04:00"),
        Policy(last=1, daily=1, weekly=1, monthly=3),
        {1, 2, 4},
        id="rules-are-ored",
    ),
    pytest.param(
        entries(
            "2026-12-01T04:00",
            "2026-11-30T04:00",
            "2026-11-29T04:00",
            "2026-11-10T04:00",
            bad=(1, 4),
        ),
        Policy(last=2, daily=0, weekly=0, monthly=0),
        {1, 2, 3},
        id="bad-backups-never-fill-a-slot-and-go-after-their-grace",
    ),
    pytest.param(
        entries("2026-12-05T04:00", "2026-12-01T04:00", "2026-11-30T04:00"),
        Policy(last=1, daily=0, weekly=0, monthly=0),
        {1},
        id="a-backup-from-the-future-is-kept",
    ),
    pytest.param(
        [],
        Policy(),
        set(),
        id="empty-catalog",
    ),
]


@pytest.mark.parametrize(("given", "policy", "kept"), CASES)
def test_plan_keeps_what_the_policy_says(
    given: list[Entry], policy: Policy, kept: set[int]
) -> None:
    result = plan(given, policy, NOW)
    assert set(result.keep) == kept
    assert set(result.remove) == {e.id for e in given} - kept


def test_defaults_over_sixty_days_of_daily_backups() -> None:
    # Given a backup at 04:00 every day from 3 Oct to 1 Dec 2026 (ids 0 = newest)
    days = [datetime(2026, 12, 1, 4, tzinfo=UTC) - timedelta(days=n) for n in range(60)]
    given = [Entry(id=n, at=moment) for n, moment in enumerate(days)]
    # When the default policy (7 last, 7 daily, 4 weekly, 6 monthly) runs
    result = plan(given, Policy(), NOW)
    # Then: the last 7 days; the Sundays closing W48, W47, W46; the last of Oct 2026
    kept = {days[n].date().isoformat() for n in result.keep}
    assert kept == {
        "2026-12-01",
        "2026-11-30",
        "2026-11-29",
        "2026-11-28",
        "2026-11-27",
        "2026-11-26",
        "2026-11-25",
        "2026-11-22",
        "2026-11-15",
        "2026-10-31",
    }
    assert result.keep[0] == ("last", "daily", "weekly", "monthly")
    assert result.keep[days.index(datetime(2026, 11, 22, 4, tzinfo=UTC))] == ("weekly",)
    assert len(result.remove) == 50


def test_buckets_follow_the_given_time_zone() -> None:
    # 23:30 UTC on 30 Nov is already 1 Dec in Paris: one calendar day there, two in UTC
    given = entries("2026-12-01T10:00", "2026-11-30T23:30")
    policy = Policy(last=0, daily=2, weekly=0, monthly=0)
    assert set(plan(given, policy, NOW).keep) == {1, 2}
    assert set(plan(given, policy, NOW, tz=ZoneInfo("Europe/Paris")).keep) == {1}


def test_order_of_the_catalog_does_not_matter() -> None:
    given = entries("2026-11-29T04:00", "2026-12-01T04:00", "2026-11-30T04:00")
    result = plan(list(reversed(given)), Policy(last=1, daily=0, weekly=0, monthly=0), NOW)
    assert result == Plan(keep={2: ("last",)}, remove=(3, 1))
