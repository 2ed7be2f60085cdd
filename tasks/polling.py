"""Tasks of the ``polling`` queue: ``polling.watch``."""

from __future__ import annotations

from typing import Any

from celery import current_task

from hauler.settings import get_settings
from hauler.transfers.watch import locked_pass
from tasks._ping import queue_ping
from workers.base import hauler_task

ping = queue_ping("polling")


@hauler_task("polling.watch", max_retries=0)
def watch() -> dict[str, Any]:
    """One pass over every configured download client for Hauler's handed-off transfers
    (one at a time: a pass that finds another running returns ``{"skipped": …}``)."""
    return locked_pass(get_settings(), current_task.app)
