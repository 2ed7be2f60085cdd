"""The watch: one pass over every configured client for Hauler's handed-off transfers.

Per client, one ``jobs()`` call (one or two API requests, whatever the number of
transfers) gives every job's state; each followed transfer is matched by its client job
id (or its tag) and then:

- progressing: its row and its task's PROGRESS state (bytes, total, rate, eta) updated;
- completed: finished (:func:`hauler.transfers.finishing.complete`), exactly once;
- failed, deleted, gone from the client, or stalled (no new byte for
  ``HAULER_WATCH_STALL_TIMEOUT`` while downloading; qBittorrent's stalledDL/metaDL count
  as downloading): marked once and handed to recovery (:mod:`hauler.transfers.handover`),
  or given up when recovery is unavailable;
- larger than its ``max_bytes``: removed with its files and given up.

A client that cannot be read leaves its transfers untouched for this pass (no stall is
counted against a client that is down). :func:`run_pass` is a plain function; the
``polling.watch`` task runs it under a Redis lock, so passes never overlap.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from celery import Celery

from hauler import broker
from hauler.downloads import client_backoff
from hauler.downloads.clients.base import HandOffClient
from hauler.downloads.clients.calls import counting
from hauler.downloads.clients.follow import find, too_large
from hauler.downloads.clients.jobs import ClientJob, JobState
from hauler.downloads.clients.registry import hand_off_clients
from hauler.errors import HaulerError
from hauler.failures.classify import classify_job
from hauler.settings import Settings
from hauler.store.transfers_models import Transfer
from hauler.transfers import finishing, handover, store
from hauler.transfers.handoff import progress_meta

log = logging.getLogger(__name__)

LOCK_KEY = "hauler:watch:lock"  # held by the pass running now (SET NX with a lease)
#: Client states that are not "moving bytes": the stall clock does not run in them.
WAITING = frozenset({JobState.QUEUED, JobState.PAUSED, JobState.POSTPROCESSING})
FAILED = frozenset({JobState.FAILED, JobState.DELETED})


@dataclass
class ClientPass:
    """What one pass did with one client."""

    client: str
    calls: int = 0  # HTTP requests made to read the client
    seconds: float = 0.0
    jobs: int = 0  # jobs the client listed (Hauler's and foreign)
    followed: int = 0  # Hauler transfers of this client the pass looked at
    error: str | None = None  # why the client could not be read


@dataclass
class Pass:
    """What one watch pass did."""

    seconds: float = 0.0
    clients: list[ClientPass] = field(default_factory=list)
    progressed: int = 0
    finished: int = 0
    failed: int = 0
    delivered_late: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 4),
            "progressed": self.progressed,
            "finished": self.finished,
            "failed": self.failed,
            "delivered_late": self.delivered_late,
            "clients": [vars(c) for c in self.clients],
        }


def run_pass(
    settings: Settings,
    app: Celery,
    *,
    clients: dict[str, HandOffClient] | None = None,
    now: datetime | None = None,
) -> Pass:
    """One pass over every client that has followed transfers; what it did."""
    started = time.monotonic()
    report = Pass()
    clients = hand_off_clients(settings) if clients is None else clients
    report.delivered_late = finishing.deliver_leftovers(settings, app)
    moment = now or datetime.now(UTC)
    lease = settings.watch.lock_seconds
    rows = [
        r
        for r in store.watched(settings.database_url)
        if r.state in store.FOLLOWED
        or (r.state == store.FINISHING and (moment - _aware(r.updated_at)).total_seconds() > lease)
    ]  # a transfer a dead pass was finishing is taken over once its claim is old
    by_client: dict[str, list[Transfer]] = {}
    for row in rows:
        by_client.setdefault(row.client, []).append(row)
    for name, followed in by_client.items():
        client = clients.get(name)
        if client is None:
            log.warning("%d transfers wait on %s, which is not configured", len(followed), name)
            continue
        report.clients.append(_client_pass(settings, app, client, followed, report, now))
    report.seconds = time.monotonic() - started
    return report


def _client_pass(
    settings: Settings,
    app: Celery,
    client: HandOffClient,
    rows: list[Transfer],
    report: Pass,
    now: datetime | None,
) -> ClientPass:
    seen = ClientPass(client.name, followed=len(rows))
    began = time.monotonic()
    with counting(client) as calls:
        try:
            jobs = client.jobs()
        except HaulerError as exc:
            seen.error = str(exc)
            jobs = None
    seen.calls, seen.seconds = calls.count, time.monotonic() - began
    client_backoff.note_call(broker.shared(settings.broker_url), client.name, jobs is not None)
    if jobs is None:
        log.warning("watch: cannot read %s: %s", client.name, seen.error)
        return seen
    seen.jobs = len(jobs)
    moment = now or datetime.now(UTC)
    updates: list[tuple[Transfer, ClientJob]] = []
    for row in rows:
        found = find(jobs, row.job_id, row.tag)
        outcome = _one(settings, app, client, row, found, moment)
        if outcome == "progress" and found is not None:
            updates.append((row, found))
        elif outcome == "finished":
            report.finished += 1
        elif outcome == "failed":
            report.failed += 1
    report.progressed += _progress(settings, app, updates)
    return seen


def _one(
    settings: Settings,
    app: Celery,
    client: HandOffClient,
    row: Transfer,
    found: ClientJob | None,
    now: datetime,
) -> str:
    """What to do with one followed transfer: "progress", "finished", "failed" or "wait"."""
    quiet = (now - _aware(row.progressed_at)).total_seconds()
    stalled = quiet > settings.watch.stall_timeout
    if found is None:
        if not stalled:
            return "wait"
        gone = _missing(row)
        hand_failure(settings, app, row, gone, store.FAILED)
        return "failed"
    if found.job_id != row.job_id:  # found by tag: the client gave the job a new id
        store.rebind_quietly(settings.database_url, row.id, found.job_id)
    breach = too_large(found, finishing.job_of(row))
    if breach is not None:
        client.remove(found, delete_files=True)
        if finishing.give_up(settings, app, row.id, str(breach), category="too-large"):
            finishing.emit_failed(app, row, "too-large", str(breach), found)
        return "failed"
    if found.state is JobState.COMPLETED:
        outcome = finishing.complete(settings, app, client, row, found)
        if outcome.startswith("broken: "):
            said = outcome.removeprefix("broken: ")
            broken = replace(found, state=JobState.FAILED, status="collect", message=said)
            hand_failure(settings, app, row, broken, store.FAILED)
            return "failed"
        return {"done": "finished", "failed": "failed"}.get(outcome, "wait")
    if found.state in FAILED:
        hand_failure(settings, app, row, found, store.FAILED)
        return "failed"
    grew = found.bytes_done > row.bytes_done or found.state in WAITING
    if stalled and not grew:
        hand_failure(settings, app, row, found, store.STALLED)
        return "failed"
    return "progress"


def hand_failure(
    settings: Settings, app: Celery, row: Transfer, found: ClientJob, state: str
) -> bool:
    """Mark ``row`` failed or stalled (once) and hand it to recovery; give it up when
    recovery is unavailable. False when another pass marked it first."""
    said = found.message or found.status
    if not store.claim_failure(settings.database_url, row.id, state, said):
        return False
    category = "stalled" if state == store.STALLED else classify_job(found).category.value
    finishing.emit_failed(app, row, category, said, found)
    if handover.hand_over(app, row, found, state):
        log.info(
            "transfer %s (%s %s) %s: handed to recovery", row.id, row.client, row.job_id, state
        )
        return True
    message = f"{said}; recovery is unavailable (no {handover.TASK} task), so Hauler gives up"
    finishing.give_up(settings, app, row.id, message, category=category or state)
    return True


def _missing(row: Transfer) -> ClientJob:
    return ClientJob(
        client=row.client,
        job_id=row.job_id or "",
        state=JobState.DELETED,
        status="missing",
        tag=row.tag,
        message=f"{row.client} no longer lists the job (neither queued nor in its history)",
    )


def _progress(settings: Settings, app: Celery, updates: list[tuple[Transfer, ClientJob]]) -> int:
    """Write the rows and PROGRESS states of transfers whose figures changed; how many."""
    changed = []
    metas: list[tuple[str, dict[str, Any]]] = []
    for row, found in updates:
        state = store.DOWNLOADING
        same = (
            row.state == state
            and row.bytes_done == found.bytes_done
            and row.bytes_total == found.bytes_total
            and row.client_status == found.status
        )
        if same:
            continue
        grew = found.bytes_done > row.bytes_done or found.state in WAITING
        changed.append(
            store.Progress(
                row.id,
                state=state,
                bytes_done=found.bytes_done,
                bytes_total=found.bytes_total,
                rate=found.rate,
                client_status=found.status,
                grew=grew,
                progressed_at=row.progressed_at,
            )
        )
        row.bytes_done, row.bytes_total, row.rate = found.bytes_done, found.bytes_total, found.rate
        row.state, row.client_status = state, found.status
        metas.append((row.task_id, progress_meta(row)))
    store.progress_many(settings.database_url, changed)
    store_progress(app, metas)
    return len(changed)


def store_progress(app: Celery, metas: list[tuple[str, dict[str, Any]]]) -> None:
    """Store many tasks' PROGRESS states: in one Redis pipeline when the result backend is
    Celery's Redis backend, else one ``store_result`` each.

    The pipeline skips the backend's read-before-write (which keeps a SUCCESS from being
    overwritten): only the watch, under its lock, stores a handed-off task's final state,
    and it never stores PROGRESS for a transfer it finished.
    """
    backend = app.backend
    client = getattr(backend, "client", None)
    meta_of = getattr(backend, "_get_result_meta", None)
    if client is None or meta_of is None or not hasattr(client, "pipeline"):
        for task_id, meta in metas:
            backend.store_result(task_id, meta, "PROGRESS")
        return
    with client.pipeline(transaction=False) as pipe:
        for task_id, meta in metas:
            stored = meta_of(result=meta, state="PROGRESS", traceback=None, request=None)
            stored["task_id"] = task_id
            key = backend.get_key_for_task(task_id)
            pipe.set(key, backend.encode(stored), ex=backend.expires or None)
        pipe.execute()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def locked_pass(settings: Settings, app: Celery) -> dict[str, Any]:
    """Run one pass unless another is running (a Redis lock with a lease); its report."""
    client = broker.shared(settings.broker_url)
    token = uuid.uuid4().hex
    lease = int(settings.watch.lock_seconds * 1000)
    if not client.set(LOCK_KEY, token, nx=True, px=lease):
        return {"skipped": "another watch pass is running"}
    try:
        report = run_pass(settings, app)
    finally:
        _release(client, token)
    _announce(app, report)
    return report.as_dict()


_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


def _release(client: Any, token: str) -> None:
    """Delete the lock only if this pass still holds it (its lease may have run out)."""
    client.eval(_RELEASE, 1, LOCK_KEY, token)


def _announce(app: Celery, report: Pass) -> None:
    """The pass as a Celery event, for the recorder's ``hauler_watch_pass_seconds``."""
    try:
        with app.events.default_dispatcher() as events:
            events.send(
                "hauler-watch-pass",
                seconds=report.seconds,
                calls=sum(c.calls for c in report.clients),
                finished=report.finished,
                failed=report.failed,
            )
    except Exception:  # metrics are best effort
        log.debug("could not announce the watch pass", exc_info=True)
