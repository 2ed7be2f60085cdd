"""Probes of what piles up or goes stale: dead letters, and the last verified backup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from hauler.health.context import ProbeContext, age_text
from hauler.health.document import Observation, Status
from hauler.store.db import session_scope
from hauler.store.models import DeadLetter

DAY = 86400.0


def dead_letters(ctx: ProbeContext) -> list[Observation]:
    """``deadLetters:growth``: tasks dead-lettered within the window (warn/fail thresholds)."""
    window = ctx.health.dead_letter_window
    since = datetime.fromtimestamp(ctx.now, UTC) - timedelta(seconds=window)
    try:
        with session_scope(ctx.settings.database_url) as session:
            new = session.scalar(
                select(func.count())
                .select_from(DeadLetter)
                .where(DeadLetter.state == "dead", DeadLetter.last_failed_at >= since)
            )
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        return [Observation("deadLetters:growth", Status.FAIL, None, "letters", reason)]
    count = int(new or 0)
    status = (
        Status.FAIL
        if count >= ctx.health.dead_letter_fail
        else Status.WARN
        if count >= ctx.health.dead_letter_warn
        else Status.PASS
    )
    output = f"{count} new dead letter(s) in the last {age_text(window)} (hauler dlq list)"
    return [Observation("deadLetters:growth", status, count, "letters", output if status else "")]


def backup_period(settings: Any) -> float:
    """Seconds between two runs of ``backups.run`` in beat's schedule (a day if unscheduled)."""
    if settings.health.backup_max_age:
        return float(settings.health.backup_max_age)
    import beat_schedule

    for entry in beat_schedule.load(settings.beat_schedule).values():
        if entry.get("task") == "backups.run":
            return schedule_period(entry.get("schedule"))
    return DAY


def schedule_period(when: Any) -> float:
    """The (average) seconds between runs of a beat schedule: a number, a schedule or crontab."""
    from celery.schedules import crontab, schedule

    if isinstance(when, int | float):
        return float(when)
    if isinstance(when, schedule) and not isinstance(when, crontab):
        return float(when.run_every.total_seconds())
    if isinstance(when, crontab):
        per_day = len(when.minute) * len(when.hour)
        if len(when.day_of_month) < 31:
            return 31 * DAY / (per_day * len(when.day_of_month) or 1)
        return 7 * DAY / (per_day * len(when.day_of_week) or 1)
    return DAY


def backup(ctx: ProbeContext) -> list[Observation]:
    """``backup:age``: seconds since the last verified backup was made, against the schedule.

    Warns past one period (plus a grace of a tenth of it, at most an hour), or when the
    newest backup failed verification; fails past two periods.
    """
    from hauler.backups import catalog

    try:
        last = catalog.last_verified(ctx.settings)
        newest = catalog.latest(ctx.settings)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        return [Observation("backup:age", Status.FAIL, None, "s", reason)]
    period = backup_period(ctx.settings)
    bad = (
        f"; the newest backup ({newest.id}) failed verification"
        if newest is not None and newest.status == "bad"
        else ""
    )
    if last is None:
        return [Observation("backup:age", Status.WARN, None, "s", "no verified backup yet" + bad)]
    age = round(max(0.0, catalog.age_seconds(last, datetime.fromtimestamp(ctx.now, UTC))), 1)
    grace = min(3600.0, period / 10)
    if age > 2 * period + grace:
        status = Status.FAIL
    elif age > period + grace or bad:
        status = Status.WARN
    else:
        status = Status.PASS
    output = (
        f"last verified backup ({last.id}) made {age_text(age)} ago; one is due every "
        f"{age_text(period)}{bad}"
        if status
        else ""
    )
    return [Observation("backup:age", status, age, "s", output)]
