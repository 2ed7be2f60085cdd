"""Tasks of the ``uploads`` queue."""

from __future__ import annotations

from typing import Any

from celery import current_task

from hauler import activity, broker
from hauler.progress import Board, task_reporter
from hauler.redact import redact_url
from hauler.settings import get_settings
from hauler.uploads import service
from tasks._ping import queue_ping
from workers.base import hauler_task

ping = queue_ping("uploads")


@hauler_task("uploads.push")
def push(
    path: str, destination: str, *, delete_after: bool = False, method: str = "PUT"
) -> dict[str, Any]:
    """Send a file to a file://, http(s):// or s3:// URL; returns where, bytes, sha256, time."""
    settings = get_settings()
    task_id = current_task.request.id
    board = Board(broker.shared(settings.broker_url))
    try:
        result = service.push(
            settings,
            path,
            destination,
            delete_after=delete_after,
            method=method,
            task_id=task_id,
            progress=task_reporter(board, task_id, "upload", redact_url(str(destination))),
        )
    finally:
        board.clear(task_id)
    activity.emit(
        "upload.finished",
        destination=result["destination"],
        bytes=result["bytes"],
        sha256=result["sha256"],
        skipped=result["skipped"],
        deleted=result["deleted"],
    )
    return result
