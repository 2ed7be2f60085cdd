"""Tasks of the ``archives`` queue: ``archives.extract``."""

from __future__ import annotations

from typing import Any

from celery import current_task

from hauler import activity, broker
from hauler.archives import service
from hauler.progress import Board, task_reporter
from hauler.settings import get_settings
from tasks._ping import queue_ping
from workers.base import hauler_task

ping = queue_ping("archives")


@hauler_task("archives.extract")
def extract(
    path: str,
    *,
    dest: str | None = None,
    password: str | None = None,
    delete_after: bool = False,
) -> dict[str, Any]:
    """Extract an archive into a new folder under the download root; returns what it holds."""
    settings = get_settings()
    task_id = current_task.request.id
    board = Board(broker.shared(settings.broker_url))
    shown = path.rsplit("/", 1)[-1] if isinstance(path, str) else "?"
    try:
        result = service.run(
            settings,
            path,
            dest=dest,
            password=password,
            delete_after=delete_after,
            task_id=task_id,
            progress=task_reporter(board, task_id, "extract", shown),
        )
    finally:
        board.clear(task_id)
    activity.emit("archive.extracted", path=result["path"], files=result["files"])
    return result
