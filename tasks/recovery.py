"""Tasks of the ``recovery`` queue."""

from __future__ import annotations

from typing import Any

from hauler import dlq
from hauler.settings import get_settings
from tasks._ping import queue_ping
from workers.base import hauler_task

ping = queue_ping("recovery")


@hauler_task("recovery.retry_dead_letter")
def retry_dead_letter(letter: int | str) -> dict[str, Any]:
    """Publish a dead-lettered task again; returns the dead letter id and the new task id.

    ``letter`` is a dead-letter id (a whole number, or ASCII digits) or a task id.
    """
    return dlq.retry(get_settings(), letter)
