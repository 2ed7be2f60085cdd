"""The activity log: reading timelines, and recording domain events from inside tasks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from hauler.store.db import session_scope
from hauler.store.models import Activity

#: Celery event type of a domain event ("download failed", "scaled up", ...).
DOMAIN_EVENT = "hauler-activity"
#: Celery event a worker sends when it receives a task, before ``task-received``: the
#: task's correlation id, causation id and queue, read from the message itself (so a
#: foreign app's ``send_task(headers=...)`` reaches every row of that task).
TASK_CONTEXT_EVENT = "hauler-task-context"


def timeline(url: str, correlation_id: str, *, limit: int = 1000) -> list[Activity]:
    """Every recorded event of one correlation id, oldest first."""
    with session_scope(url) as session:
        query = (
            select(Activity)
            .where(Activity.correlation_id == correlation_id)
            .order_by(Activity.occurred_at, Activity.id)
            .limit(limit)
        )
        return list(session.scalars(query))


def correlation_of_task(url: str, task_id: str) -> str | None:
    """The correlation id recorded for task ``task_id``, if any row of it is recorded."""
    with session_scope(url) as session:
        query = (
            select(Activity.correlation_id)
            .where(Activity.task_id == task_id, Activity.correlation_id.is_not(None))
            .limit(1)
        )
        return session.scalar(query)


def recent_failures(url: str, *, limit: int = 10) -> list[Activity]:
    """The newest task failures, newest first."""
    with session_scope(url) as session:
        query = (
            select(Activity)
            .where(Activity.status.in_(("FAILURE", "DEAD_LETTERED")))
            .order_by(Activity.occurred_at.desc())
            .limit(limit)
        )
        return list(session.scalars(query))


def prune(url: str, *, older_than: datetime) -> int:
    """Delete activity rows that happened before ``older_than``; return how many."""
    with session_scope(url) as session:
        result = session.execute(delete(Activity).where(Activity.occurred_at < older_than))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def emit(kind: str, **payload: Any) -> None:
    """Record a domain event from inside a running task, off the hot path.

    The event travels as a Celery event to the recorder, which writes it in its next
    batch with the running task's id and correlation id.
    """
    from celery import current_task

    from hauler.correlation import causation_of, correlation_of

    task = current_task
    if not task or task.request.id is None:  # a proxy of None outside a task
        return
    request = task.request
    fields = {
        "kind": kind,
        "task_id": request.id,
        "task_name": task.name,
        "correlation_id": correlation_of(request),
        "causation_id": causation_of(request),
        "payload": payload,
    }
    with task.app.events.default_dispatcher(hostname=request.hostname) as dispatcher:
        dispatcher.send(DOMAIN_EVENT, **fields)


def emit_for(
    app: Any,
    kind: str,
    *,
    task_id: str,
    task_name: str,
    correlation_id: str | None,
    causation_id: str | None = None,
    **payload: Any,
) -> None:
    """Record a domain event on behalf of task ``task_id`` from outside it (the watch
    finishing a download that ``downloads.fetch`` handed off), on its timeline."""
    fields = {
        "kind": kind,
        "task_id": task_id,
        "task_name": task_name,
        "correlation_id": correlation_id,
        "causation_id": causation_id,
        "payload": payload,
    }
    with app.events.default_dispatcher() as dispatcher:
        dispatcher.send(DOMAIN_EVENT, **fields)


def retention_cutoff(now: datetime, days: int) -> datetime:
    """The moment before which activity rows are old enough to delete."""
    return now - timedelta(days=days)
