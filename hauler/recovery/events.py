"""Timeline events of a download's recovery, under the download's own correlation id.

``hauler.activity.emit`` files an event under the running task's correlation; recovery
and failure polling run in tasks of their own, so they name the download's correlation
id (and the causing task) explicitly. Outside a task nothing is sent.
"""

from __future__ import annotations

from typing import Any

from hauler.activity import DOMAIN_EVENT


def emit_on(
    correlation_id: str | None, causation_id: str | None, kind: str, **payload: Any
) -> None:
    """Record domain event ``kind`` on the timeline of ``correlation_id``."""
    from celery import current_task

    from hauler.correlation import causation_of, clean_id, correlation_of

    task = current_task
    if not task or task.request.id is None:  # a proxy: falsy outside a task
        return
    request = task.request
    fields = {
        "kind": kind,
        "task_id": request.id,
        "task_name": task.name,
        "correlation_id": clean_id(correlation_id) or correlation_of(request),
        "causation_id": clean_id(causation_id) or causation_of(request),
        "payload": payload,
    }
    with task.app.events.default_dispatcher(hostname=request.hostname) as dispatcher:
        dispatcher.send(DOMAIN_EVENT, **fields)
