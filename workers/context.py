"""Announce each received task's correlation, causation and queue to the recorder.

Celery's ``task-received`` event carries neither Hauler's headers nor the queue, and a
foreign app's plain ``send_task(headers={"hauler_correlation_id": ...})`` sends no
``task-sent`` event. So when a worker of Hauler's app receives a task, it first sends a
``hauler-task-context`` event, read from the message itself, through the same dispatcher
(hence before ``task-received``): the recorder files every row of that task under it.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from celery.signals import task_received

from hauler.activity import TASK_CONTEXT_EVENT
from hauler.correlation import causation_of, clean_id, correlation_of

log = logging.getLogger(__name__)


def context_fields(request: Any) -> dict[str, Any]:
    """The event fields for a received task request (a Celery worker ``Request``)."""
    headers = getattr(request, "request_dict", None) or {}
    delivery = getattr(request, "delivery_info", None) or {}
    view = _Headers(headers, getattr(request, "id", None))
    return {
        "uuid": view.id,
        "name": getattr(request, "name", None),
        "queue": clean_id(delivery.get("routing_key")),
        "correlation_id": correlation_of(view),
        "causation_id": causation_of(view) or clean_id(headers.get("parent_id")),
    }


class _Headers:
    """A received message's headers, read the way a running task's request is."""

    def __init__(self, headers: dict[str, Any], task_id: str | None) -> None:
        self.headers = headers
        self.id = task_id
        self.root_id = headers.get("root_id")


def connect(app: Celery) -> None:
    """Send the context event for every task a worker of ``app`` receives."""

    def announce(sender: Any = None, request: Any = None, **_: Any) -> None:
        if request is None or getattr(sender, "app", None) is not app:
            return
        dispatcher = getattr(sender, "event_dispatcher", None)
        if dispatcher is None or not dispatcher.enabled:
            return
        try:
            dispatcher.send(TASK_CONTEXT_EVENT, **context_fields(request))
        except Exception:  # events are best effort; the task itself runs regardless
            log.warning("could not announce the context of %s", request.id, exc_info=True)

    task_received.connect(announce, weak=False)
