"""Tasks of the ``downloads`` queue: ``downloads.fetch``."""

from __future__ import annotations

from typing import Any

from celery import current_task
from celery.exceptions import Ignore

from hauler import activity, broker
from hauler.correlation import correlation_of
from hauler.downloads import fetch as service
from hauler.downloads.chain import start_chain, validate_then
from hauler.downloads.clients.base import hands_off
from hauler.progress import Board, task_reporter
from hauler.settings import get_settings
from hauler.transfers import canvas, handoff
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
    mirrors: list[str] | None = None,
) -> dict[str, Any]:
    """Download ``url`` into the download root; returns path, bytes, sha256 and client.

    Through an external client (aria2, qBittorrent, NZBGet, SABnzbd) the job is handed
    over and the worker slot returned at once (``Ignore``); the watch stores the same
    result and continues the caller's canvas when the client is done.
    """
    settings = get_settings()
    request = service.validate(settings, url, dest, filename, client, sha256, max_bytes, mirrors)
    steps = validate_then(then)
    task = current_task
    task_id = task.request.id
    if handoff.reattach(settings, task.app, task_id) is not None:
        raise Ignore()  # handed off by an earlier delivery: the watch has it
    chosen, reason, link = service.choose(settings, request)
    activity.emit(
        "download.client-chosen", client=chosen.name, reason=reason, url=request.link.shown
    )
    if hands_off(chosen):
        given = {"url": url, "dest": dest, "filename": filename, "client": client,
                 "sha256": sha256, "max_bytes": max_bytes, "then": then,
                 "mirrors": mirrors}  # fmt: skip
        # PROGRESS first (a redelivery's STARTED must not stay); "handed_off" once recorded
        task.update_state(
            state="PROGRESS",
            meta={
                "bytes": 0,
                "total": None,
                "rate": 0.0,
                "eta": None,
                "client": chosen.name,
                "state": "submitting",
                "handed_off": False,
            },
        )
        row = handoff.hand_off(
            settings,
            request,
            chosen,
            reason,
            link,
            task_id=task_id,
            correlation_id=correlation_of(task.request),
            canvas=canvas.capture(task.request, given),
            then=steps,
        )
        handoff.reattach(settings, task.app, task_id)  # PROGRESS from the row, or its end
        activity.emit(
            "download.handed-off",
            client=row.client,
            job_id=row.job_id,
            transfer_id=row.id,
            url=request.link.shown,
        )
        raise Ignore()
    board = Board(broker.shared(settings.broker_url))
    try:
        result = service.stream(
            settings,
            request,
            chosen,
            reason,
            link,
            task_id,
            task_reporter(board, task_id, "download", request.link.shown),
            _will_retry,
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
