"""Retention and the daily report, as plain functions of the settings and the clock."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from hauler import activity
from hauler.settings import Settings
from hauler.store.db import session_scope
from hauler.store.models import Activity, DeadLetter


def cleanup(
    settings: Settings,
    *,
    now: datetime,
    activity_days: int,
) -> dict[str, Any]:
    """Apply every retention rule; one count per kind of thing removed.

    Activity rows older than ``activity_days``, expired media cache entries, Celery
    results past their expiry, old logs, staging leftovers with no live transfer,
    retried dead letters and the backups the retention policy does not keep
    (hauler/retention.py).
    """
    from hauler import retention
    from hauler.media import cache

    cutoff = activity.retention_cutoff(now, activity_days)
    removed = activity.prune(settings.database_url, older_than=cutoff)
    expired = cache.expire(settings, now)
    return {
        "activity_deleted": removed,
        "media_cache_expired": expired,
        "cutoff": cutoff.isoformat(),
        **retention.run(settings, now),
    }


#: Statuses that end a task, strongest first: the one a task reached decides its outcome.
FINAL_STATUSES = ("DEAD_LETTERED", "SUCCESS", "FAILURE", "REVOKED", "REJECTED")
#: Outcome names of the report, per task.
OUTCOMES = ("succeeded", "failed", "retried", "dead_lettered", "revoked", "still_running")
_OUTCOME_OF = {
    "SUCCESS": "succeeded",
    "FAILURE": "failed",
    "REVOKED": "revoked",
    "REJECTED": "revoked",
    "RETRY": "retried",
}


@dataclass
class _Task:
    name: str
    reason: str | None = None
    retried: bool = False


def outcome(statuses: Iterable[str]) -> str:
    """One task's outcome from its statuses, oldest first.

    The strongest final status wins (a dead letter over the failure before it); a task
    with none is ``retried`` while its latest status is a retry (waiting to run again),
    else ``still_running`` (sent, received or started).
    """
    seen = list(statuses)
    for status in FINAL_STATUSES:
        if status in seen:
            return "dead_lettered" if status == "DEAD_LETTERED" else _OUTCOME_OF[status]
    return "retried" if seen and seen[-1] == "RETRY" else "still_running"


def tally(rows: Iterable[tuple[str, str | None, str, str | None]]) -> dict[str, Any]:
    """Outcomes per task from ``(task_id, task_name, status, reason)`` rows, oldest first.

    Returns:
        ``{"outcomes": {...}, "by_task": {name: {...}}}``; each outcome counts tasks, and
        ``dead_lettered`` counts them by reason; ``with_retries`` counts tasks that
        needed at least one retry, whatever their outcome.
    """
    tasks: dict[str, _Task] = {}
    history: dict[str, list[str]] = {}
    for task_id, name, status, reason in rows:
        task = tasks.setdefault(task_id, _Task(name or "?"))
        task.name = name or task.name
        history.setdefault(task_id, []).append(status)
        task.retried = task.retried or status == "RETRY"
        if status == "DEAD_LETTERED":
            task.reason = reason or "unknown"
    outcomes = _empty()
    by_task: dict[str, dict[str, Any]] = {}
    for task_id, task in tasks.items():
        result = outcome(history[task_id])
        for summary in (outcomes, by_task.setdefault(task.name, _empty())):
            if result == "dead_lettered":
                reasons = summary["dead_lettered"]
                reasons[task.reason or "unknown"] = reasons.get(task.reason or "unknown", 0) + 1
            else:
                summary[result] += 1
            summary["with_retries"] += int(task.retried)
    return {"outcomes": outcomes, "by_task": by_task}


def _empty() -> dict[str, Any]:
    summary: dict[str, Any] = {name: 0 for name in OUTCOMES}
    summary["dead_lettered"] = {}
    summary["with_retries"] = 0
    return summary


def daily_report(settings: Settings, *, now: datetime, hours: int = 24) -> dict[str, Any]:
    """Everything the daily report says about ``now - hours`` → ``now``.

    Outcomes per task (overall, by name and by queue), downloads, failures and what
    recovery did, dead letters, autoscaler actions, backups, health now, alerts.
    """
    from hauler import report

    since = now - timedelta(hours=hours)
    with session_scope(settings.database_url) as session:
        result = session.execute(
            select(
                Activity.task_id,
                Activity.task_name,
                Activity.status,
                Activity.payload["reason"].as_string(),
                Activity.queue,
            )
            .where(
                Activity.occurred_at >= since,
                Activity.status.is_not(None),
                Activity.task_id.is_not(None),
            )
            .order_by(Activity.occurred_at, Activity.id)
        )
        rows = result.all()
        summary = tally((str(a), b, str(c), d) for a, b, c, d, _ in rows)
        queues = by_queue((str(a), e, str(c)) for a, _, c, _, e in rows)
        sections = {
            "queues": queues,
            "downloads": report.downloads(session, since),
            "failures": report.failures(session, since),
            "autoscaler": report.autoscaler(session, since),
            "backups": report.backups(session, since),
            "health": report.health_now(session),
            "alerts": report.alerts(session, since),
            "dead_letters_total": report.dead_letters_total(session, since),
        }
        dead = session.execute(
            select(DeadLetter.task_name, DeadLetter.reason, func.count())
            .where(DeadLetter.last_failed_at >= since)
            .group_by(DeadLetter.task_name, DeadLetter.reason)
        ).all()
    return {
        "since": since.isoformat(),
        "until": now.isoformat(),
        **summary,
        "dead_letters": [
            {"task_name": name, "reason": reason, "count": count} for name, reason, count in dead
        ],
        **sections,
    }


def by_queue(rows: Iterable[tuple[str, str | None, str]]) -> dict[str, dict[str, int]]:
    """Tasks per queue by outcome, from ``(task_id, queue, status)`` rows, oldest first."""
    queues: dict[str, str] = {}
    history: dict[str, list[str]] = defaultdict(list)
    for task_id, queue, status in rows:
        if queue:
            queues[task_id] = queue
        history[task_id].append(status)
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for task_id, statuses in history.items():
        out[queues.get(task_id, "unknown")][outcome(statuses)] += 1
    return {queue: dict(counts) for queue, counts in sorted(out.items())}


def send_daily_report(
    settings: Settings, *, now: datetime, hours: int = 24, send: bool = True
) -> dict[str, Any]:
    """The daily report as JSON; with ``send``, also as a message through notify."""
    from hauler import report
    from hauler.notify import service as notify
    from hauler.notify.message import Message

    data = daily_report(settings, now=now, hours=hours)
    if send:
        title, body = report.text_of(data, settings.maintenance.report_timezone)
        message = Message(title=title, text=body, severity="info", kind="report")
        data["sent"] = notify.send(settings, message, later=notify.celery_later())["receivers"]
    return data
