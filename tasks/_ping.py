"""A liveness probe task for any queue: ``<queue>.ping`` answers from that queue's worker."""

from __future__ import annotations

from typing import Any

from celery import current_task

from hauler.health import ping as ping_body
from hauler.health import ran_on
from workers.base import HaulerTask, hauler_task


def queue_ping(queue: str) -> HaulerTask:
    """Declare ``<queue>.ping``, which returns where it ran; proves the queue is served.

    The answer names the queue the message was actually delivered from, so a ping sent
    to another queue cannot vouch for ``queue``.
    """

    @hauler_task(f"{queue}.ping", queue=queue)
    def ping(delay: float = 0.0) -> dict[str, Any]:
        return ping_body(delay, queue=ran_on(current_task.request, queue))

    return ping
