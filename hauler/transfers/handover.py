"""Handing a failed or stalled transfer to recovery (``recovery.recover``), by name.

The contract between the watch and recovery (the ``recover`` branch builds the task):

The watch publishes ``recovery.recover`` (queue ``recovery``) by name, once per failure
(``store.claim_failure`` makes it once), under the transfer's correlation id, with
keyword arguments only::

    transfer_id: int        # transfers.id — the Hauler download, stable across attempts
    task_id: str            # the downloads.fetch task whose result the caller waits for
    client: str             # ClientJob.client: aria2 | qbittorrent | nzbget | sabnzbd
    job_id: str             # ClientJob.job_id: the client's id for the failed job
    state: str              # "failed" (the client says so) or "stalled" (no progress)
    status: str             # ClientJob.status: the client's own status word or code
    message: str | None     # ClientJob.message: the client's own failure text
    details: dict[str, str] # ClientJob.details: other raw fields (ParStatus, errorCode …)
    attempts: int           # transfers.attempts so far (1 for the first submission)

The transfer is then in state ``failed`` or ``stalled``; the watch does not touch it
again until recovery does one of these:

- **retried** (same client or another): call ``store.rebind(url, transfer_id, new_job_id,
  client=…)`` — state goes back to ``submitted``, ``attempts`` + 1 — and the watch
  follows the new job (SABnzbd ``mode=retry`` gives a new nzo_id; aria2 re-added under
  the same tag keeps its gid). Mark ``store.set_state(url, id, "recovering")`` while a
  scheduled (countdown) retry waits, so the stall clock does not fire again.
- **gave up**: call :func:`hauler.transfers.finishing.give_up` ``(settings, app,
  transfer_id, message, category=…)`` — the task's result becomes FAILURE
  (``DownloadFailed`` naming the client, job and category, in the client's words), the
  caller's ``link_error`` errbacks and chord run, the staging directory goes and a dead
  letter is written. The watch already emitted ``download.failed`` when it saw the
  failure; recovery emits its own ``recovery.*`` events.

When recovery is not available (no ``recovery.recover`` task in this process's app, or
the publish fails) the watch gives up at once the same way, with a message that says
recovery was unavailable.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery

from hauler.correlation import CAUSATION_HEADER, CORRELATION_HEADER
from hauler.downloads.clients.jobs import ClientJob
from hauler.store.transfers_models import Transfer

log = logging.getLogger(__name__)

TASK = "recovery.recover"
QUEUE = "recovery"


def recovery_arguments(transfer: Transfer, found: ClientJob, state: str) -> dict[str, Any]:
    """The keyword arguments of ``recovery.recover`` for ``transfer`` failed as ``found``."""
    return {
        "transfer_id": transfer.id,
        "task_id": transfer.task_id,
        "client": found.client,
        "job_id": found.job_id,
        "state": state,
        "status": found.status,
        "message": found.message,
        "details": {str(k): str(v) for k, v in found.details.items()},
        "attempts": transfer.attempts,
    }


def hand_over(app: Celery, transfer: Transfer, found: ClientJob, state: str) -> bool:
    """Publish ``recovery.recover`` for ``transfer``; False when recovery is unavailable
    (the caller then gives up on the transfer)."""
    if TASK not in app.tasks:
        return False
    headers = {CORRELATION_HEADER: transfer.correlation_id, CAUSATION_HEADER: transfer.task_id}
    try:
        app.send_task(
            TASK, kwargs=recovery_arguments(transfer, found, state), queue=QUEUE, headers=headers
        )
    except Exception:
        log.warning("could not hand transfer %s to recovery", transfer.id, exc_info=True)
        return False
    return True
