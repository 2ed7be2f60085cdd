"""Ending a handed-off transfer: collect, verify, place, record, store the result, continue.

The watch calls :func:`complete` for a job its client lists as completed and
:func:`give_up` (directly, or recovery through it) for one that failed for good. Both
happen exactly once per transfer (conditional updates in :mod:`hauler.transfers.store`);
then the task's result is stored and the caller's canvas continued
(:mod:`hauler.transfers.canvas`), and the transfer is marked delivered. A pass that dies
between the two leaves the row undelivered; the next pass delivers it
(:func:`deliver_leftovers`).
"""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from celery import Celery

from hauler import broker, deadletter, originals, parking
from hauler.activity import emit_for
from hauler.correlation import CAUSATION_HEADER, CORRELATION_HEADER
from hauler.downloads import selection
from hauler.downloads.chain import start_chain
from hauler.downloads.clients.base import HandOffClient, Job
from hauler.downloads.clients.jobs import ClientJob
from hauler.downloads.fetch import Request, download_row, place, result_of, verify
from hauler.downloads.links import Link, LinkKind, classify
from hauler.errors import DownloadFailed, HaulerError, RetryableError, TooLarge
from hauler.recovery import settle
from hauler.redact import redact_text
from hauler.settings import Settings
from hauler.store.transfers_models import Transfer
from hauler.transfers import canvas, store

log = logging.getLogger(__name__)


def job_of(row: Transfer) -> Job:
    """The client job a transfer row stands for."""
    return Job(
        link_of(row),
        Path(row.workdir),
        tag=row.tag,
        max_bytes=row.max_bytes,
        filename=row.filename,
        details=dict(row.details or {}),
    )


def link_of(row: Transfer) -> Link:
    try:
        return classify(row.url)
    except HaulerError:  # a local file that is gone since: only its name matters now
        return Link(LinkKind.DIRECT, row.url, local=row.url.startswith("/"))


def request_of(row: Transfer) -> Request:
    """The validated request a transfer row was made from."""
    return Request(
        link_of(row), Path(row.dest), row.filename, row.client, row.sha256, row.max_bytes
    )


def headers_of(row: Transfer) -> dict[str, Any]:
    """The headers of what the transfer's task starts: its correlation, itself as cause."""
    headers: dict[str, Any] = {CAUSATION_HEADER: row.task_id}
    if row.correlation_id:
        headers[CORRELATION_HEADER] = row.correlation_id
    return headers


def complete(
    settings: Settings, app: Celery, client: HandOffClient, row: Transfer, found: ClientJob
) -> str:
    """Finish ``row``, which ``client`` lists as ``found`` (COMPLETED).

    Returns:
        "done" (finished now), "taken" (another pass has it), "failed" (too large: given
        up), "later" (a transient error: the next pass tries again), or "broken: <why>"
        (the content is wrong — missing, incomplete, another checksum: the caller hands
        the failure to recovery).
    """
    url = settings.database_url
    if not store.claim_finish(url, row.id, lease=settings.watch.lock_seconds):
        return "taken"
    job = job_of(row)
    request = request_of(row)
    try:
        finished = client.collect(job, found)
        digest = verify(finished, request)
        final = place(finished.path, request.dest, digest)
    except RetryableError as exc:
        log.warning("transfer %s: %s; the next pass tries again", row.id, exc)
        store.set_state(url, row.id, store.DOWNLOADING)
        return "later"
    except TooLarge as exc:
        if give_up(settings, app, row.id, str(exc), category="too-large"):
            emit_failed(app, row, "too-large", str(exc))
        return "failed"
    except HaulerError as exc:  # the content is not what the job needs: a failure
        return f"broken: {exc}"
    shutil.rmtree(job.workdir, ignore_errors=True)
    seconds = round((datetime.now(UTC) - _aware(row.created_at)).total_seconds(), 3)
    download = download_row(row.task_id, row.shown, row.client, row.reason, final, digest, seconds)
    result = store.finish(url, row.id, result_of(download, 0), download)
    if result is None:
        return "taken"
    deliver(settings, app, row, result)
    selection.end(broker.shared(settings.broker_url), row.client, "ok")
    settle.transfer_ended(settings, row.id)  # recovery.recovered, when an attempt got it here
    emit_for(
        app,
        "download.finished",
        task_id=row.task_id,
        task_name=row.task_name,
        correlation_id=row.correlation_id,
        path=result["path"],
        bytes=result["bytes"],
        client=row.client,
        job_id=row.job_id,
    )
    return "done"


def deliver(settings: Settings, app: Celery, row: Transfer, result: dict[str, Any]) -> None:
    """Start the ``then`` chain, store the task's SUCCESS and continue the caller's canvas."""
    headers = headers_of(row)
    if row.then and "then" not in result:
        result = {**result, "then": start_chain(list(row.then), result["path"], headers)}
        store.set_result(settings.database_url, row.id, result)
    canvas.succeed(app, dict(row.canvas or {}), row.task_id, result, headers)
    store.delivered(settings.database_url, row.id)


def give_up(
    settings: Settings,
    app: Celery,
    transfer_id: int,
    message: str,
    *,
    category: str | None = None,
) -> bool:
    """Fail a transfer for good, exactly once: the task's result becomes FAILURE
    (``DownloadFailed``, in the client's words), the caller's errbacks and chord run, the
    staging directory goes and a dead letter is written (``download.failed`` is the
    caller's to emit: the watch when it sees the failure, recovery when it gives up).

    Returns:
        False when the transfer was final already (nothing was done).
    """
    row = store.by_id(settings.database_url, transfer_id)
    if row is None:
        return False
    about = f"job {row.job_id}" + (f", {category}" if category else "")
    text = redact_text(f"{row.client} could not download {row.shown} ({about}): {message}")
    if not store.give_up(settings.database_url, transfer_id, text):
        return False
    deliver_failure(settings, app, row, text, category)
    selection.end(broker.shared(settings.broker_url), row.client, "failed")
    return True


def deliver_failure(
    settings: Settings, app: Celery, row: Transfer, text: str, category: str | None
) -> None:
    """Store the FAILURE, fail the canvas, dead-letter the task, clear its staging."""
    canvas.fail(app, dict(row.canvas or {}), row.task_id, DownloadFailed(text))
    kwargs = dict((row.canvas or {}).get("kwargs") or {})
    failure = deadletter.Failure(
        task_id=row.task_id,
        task_name=row.task_name,
        queue="downloads",
        args=[],
        kwargs=kwargs,
        reason="permanent",
        exception=f"DownloadFailed: {text}",
        traceback="",
        correlation_id=row.correlation_id,
        causation_id=None,
        attempts=row.attempts,
    )
    if deadletter.sanitized(failure).arguments_altered:  # masked in the letter: kept aside
        originals.keep(settings.broker_url, failure.task_id, failure.args, failure.kwargs)
    parking.record_or_park(settings, failure)
    deadletter.announce(app, deadletter.sanitized(failure), category=category)
    shutil.rmtree(row.workdir, ignore_errors=True)
    store.delivered(settings.database_url, row.id)


def deliver_leftovers(settings: Settings, app: Celery) -> int:
    """Deliver the final transfers a dead pass did not deliver; how many."""
    rows = store.undelivered(settings.database_url)
    for row in rows:
        if row.state == store.DONE and row.result is not None:
            deliver(settings, app, row, dict(row.result))
        elif row.state == store.GAVE_UP:
            deliver_failure(settings, app, row, row.message or "gave up", None)
    return len(rows)


def emit_failed(
    app: Celery,
    row: Transfer,
    category: str | None,
    message: str,
    found: ClientJob | None = None,
) -> None:
    """The ``download.failed`` event of ``row``; ``found`` is the client's view, when seen."""
    emit_for(
        app,
        "download.failed",
        task_id=row.task_id,
        task_name=row.task_name,
        correlation_id=row.correlation_id,
        client=found.client if found else row.client,
        job_id=found.job_id if found else row.job_id,
        category=category,
        message=message,
        **({"status": found.status} if found else {}),
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
