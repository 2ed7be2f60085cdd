"""Giving up on a download: the failure closed, the task's result FAILURE, a dead letter.

For a Hauler download the watch's :func:`hauler.transfers.finishing.give_up` does it
(result FAILURE as ``DownloadFailed`` in the client's words, the caller's ``link_error``
and chord, the dead letter). Until that module is present, the same is done here with
the transfer store, the result backend and the dead-letter store. A foreign job has no
task: its monitoring row is marked ``in_dlq``.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from hauler import deadletter
from hauler.errors import DownloadFailed
from hauler.settings import Settings
from hauler.store.transfers_models import Transfer
from hauler.transfers import store

log = logging.getLogger(__name__)


def give_up_transfer(settings: Settings, transfer: Transfer, message: str, category: str) -> bool:
    """End ``transfer`` as failed for good, once; False when it was final already."""
    try:
        finishing: Any = importlib.import_module("hauler.transfers.finishing")
    except ImportError:
        finishing = None
    if finishing is not None and hasattr(finishing, "give_up"):
        return bool(finishing.give_up(settings, transfer.id, message, category=category))
    url = settings.database_url
    if not store.give_up(url, transfer.id, message):
        return False
    error = DownloadFailed(message)
    _store_failure(transfer.task_id, error)
    deadletter.record(
        url,
        deadletter.Failure(
            task_id=transfer.task_id,
            task_name=transfer.task_name,
            queue="downloads",
            args=[transfer.shown],
            kwargs={"dest": transfer.dest, "category": category},
            reason="permanent",
            exception=f"DownloadFailed: {message}",
            traceback="",
            correlation_id=transfer.correlation_id,
            causation_id=None,
            attempts=transfer.attempts,
        ),
    )
    store.delivered(url, transfer.id)
    return True


def _store_failure(task_id: str, error: Exception) -> None:
    from celery import current_app

    try:
        current_app.backend.store_result(task_id, error, "FAILURE")
    except Exception:  # the result backend is down: the transfer row still says gave-up
        log.warning("could not store the failure of task %s", task_id, exc_info=True)
