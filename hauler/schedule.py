"""The periodic schedule as data: its entries, their defaults and ``HAULER_SCHEDULE_<ENTRY>``.

An override is a number of seconds, a crontab line (``minute hour day month weekday``,
in UTC) or ``off``. The daily report's default is 23:00 in ``HAULER_REPORT_TIMEZONE``:
Celery's beat keeps its schedules in UTC (RedBeat stores no time zone), so the entry
fires at every UTC hour that is 23:00 there in some season, and the task itself runs
only the one whose local time is 23:00 (:func:`local_time_is`), right across DST.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from celery.schedules import crontab, schedule

#: Words that turn an entry off.
OFF = ("off", "none", "disabled")
#: How late after its local time a zoned run still counts (beat may lag a little).
ZONED_SLACK = timedelta(minutes=30)


@dataclass(frozen=True)
class Entry:
    """One periodic task: its entry name, the task's name and its default timing."""

    name: str  # entry name; HAULER_SCHEDULE_<NAME upper-cased>
    task: str  # the task, by name (other helpers' tasks are scheduled by name too)
    default: str  # seconds, a crontab line, or "zoned HH:MM" (in the report time zone)
    about: str  # one line for `hauler schedule`

    @property
    def setting(self) -> str:
        return f"HAULER_SCHEDULE_{self.name.upper()}"


ENTRIES: tuple[Entry, ...] = (
    Entry("watch", "polling.watch", "5", "the watch: one pass over every download client"),
    Entry("poll_clients", "polling.poll_clients", "120", "failure polling of foreign jobs"),
    Entry("health", "health.check", "300", "health checks; alert rules evaluated"),
    Entry("backup", "backups.run", "0 4 * * *", "database backup (then verified)"),
    Entry("vacuum", "backups.vacuum", "30 4 * * *", "database vacuum, after the backup"),
    Entry("report", "reports.daily", "zoned 23:00", "the daily report, sent through notify"),
    Entry("cleanup", "maintenance.cleanup", "0 2 * * *", "retention of rows, files, results"),
)


def entry(name: str) -> Entry:
    """The entry called ``name``."""
    return next(e for e in ENTRIES if e.name == name)


def parse(raw: str) -> schedule | crontab | None:
    """``raw`` as a Celery schedule, None for off.

    Raises:
        ValueError: ``raw`` is neither seconds, a five-field crontab line, nor off.
    """
    text = raw.strip()
    if text.lower() in OFF:
        return None
    fields = text.split()
    if len(fields) == 1:
        seconds = float(text)
        if not 0 < seconds <= 7 * 86400:
            raise ValueError("seconds must be above 0 and at most a week")
        return schedule(timedelta(seconds=seconds))
    if len(fields) == 5:
        minute, hour, day, month, weekday = fields
        made = crontab(
            minute=minute, hour=hour, day_of_month=day, month_of_year=month, day_of_week=weekday
        )
        made.remaining_estimate(datetime.now(UTC))  # a bad field raises here
        return made
    raise ValueError("not seconds, a crontab line or off")


def check_overrides(env: Mapping[str, str], timezone: str) -> tuple[dict[str, str], list[str]]:
    """The ``HAULER_SCHEDULE_*`` overrides in ``env`` and one problem line per bad one."""
    known = {e.setting: e for e in ENTRIES}
    overrides: dict[str, str] = {}
    problems: list[str] = []
    for key, raw in env.items():
        if not key.startswith("HAULER_SCHEDULE_") or not raw.strip():
            continue
        if key not in known:
            names = ", ".join(e.setting for e in ENTRIES)
            problems.append(f"{key} names no schedule entry (known: {names})")
            continue
        try:
            parse(raw)
        except (ValueError, KeyError) as exc:
            problems.append(
                f"{key}={raw!r} is not seconds, a crontab line (minute hour day month "
                f"weekday) or off ({exc})"
            )
            continue
        overrides[known[key].name] = raw.strip()
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"HAULER_REPORT_TIMEZONE={timezone!r} is not a time zone name")
    return overrides, problems


def zoned_daily(at: str, timezone: str, *, year: int | None = None) -> crontab:
    """A UTC crontab firing at every UTC time that is ``at`` (HH:MM) in ``timezone`` some day."""
    hour, minute = (int(x) for x in at.split(":"))
    zone = ZoneInfo(timezone)
    start = datetime(year or datetime.now(UTC).year, 1, 1)
    moments = {
        (start + timedelta(days=d)).replace(hour=hour, minute=minute, tzinfo=zone).astimezone(UTC)
        for d in range(366)
    }
    hours = sorted({m.hour for m in moments})
    minutes = sorted({m.minute for m in moments})
    return crontab(minute=",".join(map(str, minutes)), hour=",".join(map(str, hours)))


def local_time_is(at: str, timezone: str, now: datetime) -> bool:
    """Whether ``now`` is ``at`` (HH:MM) in ``timezone``, or at most ZONED_SLACK later."""
    hour, minute = (int(x) for x in at.split(":"))
    local = now.astimezone(ZoneInfo(timezone))
    due = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return due <= local < due + ZONED_SLACK


def build(overrides: Mapping[str, str], timezone: str) -> dict[str, dict[str, Any]]:
    """Celery's ``beat_schedule``: every entry not turned off, with its timing."""
    out: dict[str, dict[str, Any]] = {}
    for item in ENTRIES:
        raw = overrides.get(item.name, item.default)
        kwargs: dict[str, Any] = {}
        when: schedule | crontab | None
        if raw.startswith("zoned "):
            at = raw.removeprefix("zoned ")
            when = zoned_daily(at, timezone)
            kwargs = {"local_time": at}
        else:
            when = parse(raw)
        if when is None:
            continue
        out[item.name] = {
            "task": item.task,
            "schedule": when,
            "kwargs": kwargs,
            "options": {"expires": _expiry(when)},
        }
    return out


def _expiry(when: schedule | crontab) -> float:
    """Seconds a scheduled message may wait: a run not started by the next one is dropped."""
    if isinstance(when, crontab):
        return 3600.0
    return max(1.0, min(when.run_every.total_seconds() * 0.9, 3600.0))


def describe(overrides: Mapping[str, str], timezone: str, now: datetime) -> list[dict[str, Any]]:
    """One row per entry for ``hauler schedule``: timing, where it comes from, next run."""
    built = build(overrides, timezone)
    rows = []
    for item in ENTRIES:
        raw = overrides.get(item.name, item.default)
        row: dict[str, Any] = {
            "entry": item.name,
            "task": item.task,
            "when": _human(raw, timezone),
            "setting": item.setting,
            "source": "override" if item.name in overrides else "default",
            "about": item.about,
            "next_run": None,
        }
        if item.name in built:
            row["next_run"] = _next_run(raw, built[item.name]["schedule"], timezone, now)
        rows.append(row)
    return rows


def _human(raw: str, timezone: str) -> str:
    if raw.startswith("zoned "):
        return f"daily at {raw.removeprefix('zoned ')} {timezone}"
    if raw.strip().lower() in OFF:
        return "off"
    if len(raw.split()) == 1:
        return f"every {float(raw):g} s"
    return f"cron {raw} (UTC)"


def _next_run(raw: str, when: schedule | crontab, timezone: str, now: datetime) -> str:
    if raw.startswith("zoned "):
        at = raw.removeprefix("zoned ")
        hour, minute = (int(x) for x in at.split(":"))
        local = now.astimezone(ZoneInfo(timezone))
        due = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if due <= local:
            due = (local + timedelta(days=1)).replace(hour=hour, minute=minute)
        return due.astimezone(UTC).isoformat()
    step = when.remaining_estimate(now) if isinstance(when, crontab) else when.run_every
    due = now + step + timedelta(microseconds=500_000)
    return due.replace(microsecond=0).astimezone(UTC).isoformat()
