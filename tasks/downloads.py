"""Tasks of the ``downloads`` queue: ``downloads.fetch``."""

from __future__ import annotations

from typing import Any

from celery import current_task

from hauler import activity, broker
from hauler.downloads import fetch as service
from hauler.downloads.chain import start_chain, validate_then
from hauler.progress import Board, task_reporter
from hauler.settings import get_settings
from tasks._ping import queue_ping
from workers.base import hauler_task
from workers.classify import is_retryable

ping = queue_ping("downloads")


@hauler_task("downloads.fetch")
def fetch(
    url: str,
    *,
    dest: str | None = None,
    filename: str | None = None,
    client: str = "auto",
    sha256: str | None = None,
    max_bytes: int | None = None,
    then: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Download ``url`` into the download root; returns path, bytes, sha256 and client."""
    settings = get_settings()
    request = service.validate(settings, url, dest, filename, client, sha256, max_bytes)
    steps = validate_then(then)
    task_id = current_task.request.id
    board = Board(broker.shared(settings.broker_url))

    def chosen(name: str, reason: str) -> None:
        activity.emit("download.client-chosen", client=name, reason=reason, url=request.link.shown)

    try:
        result = service.fetch(
            settings,
            request,
            task_id=task_id,
            progress=task_reporter(board, task_id, "download", request.link.shown),
            on_choice=chosen,
            retried=_will_retry,
        )
    finally:
        board.clear(task_id)
    activity.emit(
        "download.finished", path=result["path"], bytes=result["bytes"], client=result["client"]
    )
    if steps:
        result["then"] = start_chain(steps, result["path"])
    return result


def _will_retry(exc: BaseException) -> bool:
    """True when the task decorator will retry after ``exc`` (a transient error, retries left),
    so the staging directory and its partial file stay for the next attempt."""
    task = current_task
    return is_retryable(exc, task.retry_on) and task.request.retries < task.max_retries
