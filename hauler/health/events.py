"""Healing's timeline entries: written to the activity log at once, counted by the recorder.

A heal event is written straight into the activity table rather than sent to the
recorder: the component being restarted may be the recorder itself, and its timeline
must not have a hole exactly there. A Celery event (:data:`HEAL_EVENT`) still goes to
the recorder, which counts it in ``hauler_heal_attempts_total{component,outcome}`` and
stores no row of its own for it.
"""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime
from typing import Any

from hauler.clip import clip
from hauler.redact import redact
from hauler.store.db import session_scope
from hauler.store.models import Activity

log = logging.getLogger(__name__)

#: Celery event type of a heal attempt, for the recorder's counter (no activity row).
HEAL_EVENT = "hauler-health-heal"
#: Timeline kind → the outcome label of ``hauler_heal_attempts_total``.
OUTCOMES = {
    "health.heal-started": "started",
    "health.healed": "healed",
    "health.heal-failed": "failed",
    "health.escalated": "escalated",
}


def record(url: str, kind: str, **payload: Any) -> None:
    """Put heal event ``kind`` on the timeline (of the running task, if any); never raises."""
    from celery import current_task

    from hauler.correlation import causation_of, correlation_of

    task = current_task if current_task else None  # a proxy: falsy outside a task
    request = task.request if task is not None and task.request.id else None
    row = Activity(
        occurred_at=datetime.now(UTC),
        recorded_at=datetime.now(UTC),
        event_type=kind,
        task_id=request.id if request else None,
        task_name=task.name if request and task else None,
        queue="health",
        correlation_id=correlation_of(request) if request else None,
        causation_id=causation_of(request) if request else None,
        status=None,
        hostname=(request.hostname if request else None) or socket.gethostname(),
        payload=clip(redact(payload)),
    )
    log.warning("%s %s", kind, {k: payload.get(k) for k in ("component", "attempt", "message")})
    try:
        with session_scope(url) as session:
            session.add(row)
    except Exception as exc:  # the database may be the patient; the log line stays
        log.warning("could not store %s: %s", kind, exc)
    if task is None or request is None:
        return
    try:
        with task.app.events.default_dispatcher(hostname=request.hostname) as dispatcher:
            dispatcher.send(
                HEAL_EVENT,
                component=str(payload.get("component", "unknown")),
                outcome=OUTCOMES.get(kind, kind),
            )
    except Exception as exc:  # the counter misses one; the row is written
        log.debug("heal event not sent: %s", exc)
