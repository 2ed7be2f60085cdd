"""Handing a download to an external client: submit, record the transfer, re-attach.

``downloads.fetch`` calls :func:`hand_off` when the chosen client is an external one and
then returns its worker slot (``Ignore``): the client moves the bytes, the watch
(:mod:`hauler.transfers.watch`) finishes. A redelivered or retried ``downloads.fetch``
finds its transfer (:func:`reattach`) and submits nothing.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from typing import Any

from celery import Celery, states

from hauler import broker
from hauler.downloads import selection
from hauler.downloads.clients.base import HandOffClient
from hauler.downloads.fetch import Request, job_for
from hauler.downloads.links import Link
from hauler.errors import DownloadFailed, RetryableError
from hauler.progress import Progress, as_meta
from hauler.settings import Settings
from hauler.store.transfers_models import Transfer
from hauler.transfers import store


def hand_off(
    settings: Settings,
    request: Request,
    client: HandOffClient,
    reason: str,
    link: Link,
    *,
    task_id: str,
    correlation_id: str | None,
    canvas: dict[str, Any],
    then: list[dict[str, Any]],
) -> Transfer:
    """Submit the job to ``client`` (re-attaching to the tag's job if it has one) and record
    the transfer; the row (an existing one if another delivery recorded it first).

    Raises:
        what ``client.submit`` raises (the staging directory goes unless it will retry).
    """
    job = job_for(settings, request, link, task_id)
    try:
        submitted = client.submit(job)
    except Exception as exc:
        if not isinstance(exc, RetryableError):
            shutil.rmtree(job.workdir, ignore_errors=True)
        raise
    new = store.NewTransfer(
        task_id=task_id,
        client=client.name,
        job_id=submitted.job_id,
        tag=job.tag,
        url=link.url,
        shown=request.link.shown,
        dest=str(request.dest),
        workdir=str(job.workdir),
        reason=reason,
        correlation_id=correlation_id,
        sha256=request.sha256,
        max_bytes=request.max_bytes,
        filename=request.filename,
        then=then,
        canvas=canvas,
        details={
            **submitted.details,
            **({"mirrors": list(request.mirrors)} if request.mirrors else {}),
        },
    )
    row, created = store.create(settings.database_url, new)
    if created:
        selection.begin(broker.shared(settings.broker_url), client.name)
    return row


def _details(submitted: Mapping[str, Any], mirrors: tuple[str, ...]) -> dict[str, Any]:
    """What the client answered, and the mirrors recovery may hand over later."""
    return {**submitted, "mirrors": list(mirrors)} if mirrors else dict(submitted)


def progress_meta(row: Transfer) -> dict[str, Any]:
    """The PROGRESS meta of a handed-off transfer: bytes, total, rate, eta, and where it is."""
    meta = as_meta(Progress(row.bytes_done, row.bytes_total, row.rate or 0.0))
    meta.update(client=row.client, job_id=row.job_id, state=row.state, handed_off=True)
    return meta


def reattach(settings: Settings, app: Celery, task_id: str) -> Transfer | None:
    """The transfer of ``task_id`` if it was handed off already, with the task's state put
    back (a redelivered task's STARTED must not hide its PROGRESS or FAILURE); else None."""
    row = store.get(settings.database_url, task_id)
    if row is None:
        return None
    if row.state not in store.FINAL:
        app.backend.store_result(task_id, progress_meta(row), "PROGRESS")
        row = store.get(settings.database_url, task_id) or row  # finished meanwhile?
    restore_final(app, row)
    return row


def restore_final(app: Celery, row: Transfer) -> None:
    """Store a final transfer's outcome as its task's state again (no canvas is re-run)."""
    if row.state == store.DONE and row.result is not None:
        app.backend.store_result(row.task_id, row.result, states.SUCCESS)
    elif row.state == store.GAVE_UP:
        app.backend.store_result(row.task_id, DownloadFailed(row.message or ""), states.FAILURE)
