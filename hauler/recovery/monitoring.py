"""Failure polling of foreign jobs: jobs in the clients that Hauler did not start.

Every pass reads each hand-off client once (``jobs()``: the same one or two calls the
watch makes), keeps a ``monitored_jobs`` row per foreign job (all of them, or those in
``HAULER_POLL_CATEGORIES``), records each change of state, and hands a job that failed
(or stalled past ``HAULER_POLL_STALL_SECONDS``) to recovery, which under
``HAULER_RECOVERY_FOREIGN=report`` only records and tells, under ``recover`` applies the
strategies, and under ``off`` is not asked at all. A client that cannot be read counts
against its backoff (``client_backoff``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from hauler import broker
from hauler.downloads import client_backoff
from hauler.downloads.clients.base import DownloadClient, hands_off
from hauler.downloads.clients.jobs import ClientJob, JobState
from hauler.errors import HaulerError
from hauler.recovery import records
from hauler.recovery.events import emit_on
from hauler.recovery.recover import Report
from hauler.redact import redact_text
from hauler.settings import Settings
from hauler.store.db import session_scope
from hauler.store.recovery_models import MonitoredJob

log = logging.getLogger(__name__)

FAILED_STATES = frozenset({JobState.FAILED})


@dataclass
class PassSummary:
    """What one polling pass saw."""

    clients: dict[str, int] = field(default_factory=dict)  # foreign jobs seen per client
    errors: dict[str, str] = field(default_factory=dict)  # clients that could not be read
    changed: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    recovered: list[dict[str, Any]] = field(default_factory=list)
    gone: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "errors": self.errors,
            "changed": self.changed,
            "failed": self.failed,
            "recovered": self.recovered,
            "gone": self.gone,
        }


def poll(
    settings: Settings,
    clients: list[DownloadClient],
    hand_over: Callable[[Report, str | None], None],
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> PassSummary:
    """One pass over every hand-off client; ``hand_over`` publishes a recovery."""
    summary = PassSummary()
    store = broker.shared(settings.broker_url)
    wanted = set(settings.recovery.poll_categories)
    for client in clients:
        if not hands_off(client):
            continue
        try:
            jobs = client.jobs()
        except HaulerError as exc:
            client_backoff.note_call(store, client.name, ok=False)
            summary.errors[client.name] = redact_text(str(exc))
            continue
        client_backoff.note_call(store, client.name, ok=True)
        foreign = [j for j in jobs if j.tag is None and (not wanted or j.category in wanted)]
        summary.clients[client.name] = len(foreign)
        for job in foreign:
            _observe(settings, job, hand_over, summary, now())
        summary.gone += _mark_gone(
            settings.database_url, client.name, {j.job_id for j in foreign}, now()
        )
    return summary


def _observe(
    settings: Settings,
    job: ClientJob,
    hand_over: Callable[[Report, str | None], None],
    summary: PassSummary,
    moment: datetime,
) -> None:
    url = settings.database_url
    row, before = _upsert(url, job, moment)
    correlation = f"job-{job.client}-{job.job_id}"[:64]
    if before != job.state.value:
        summary.changed += 1
        emit_on(
            correlation,
            None,
            "download.state-changed",
            client=job.client,
            job_id=job.job_id,
            name=job.name,
            category=job.category,
            before=before,
            after=job.state.value,
            status=job.status,
        )
    failure = records.get(url, row.failure_id) if row.failure_id else None
    if (
        job.state is JobState.COMPLETED
        and failure is not None
        and failure.state == records.RECOVERING
    ):
        records.set_state(url, failure.id, records.RECOVERED, next_attempt_at=None)
        emit_on(
            correlation,
            None,
            "recovery.recovered",
            client=job.client,
            job_id=job.job_id,
            strategy=failure.strategy,
            category=failure.category,
        )
        summary.recovered.append({"client": job.client, "job_id": job.job_id})
        return
    if not _failed(settings, job, row, moment) or settings.recovery.foreign == "off":
        return
    if (
        failure is not None
        and failure.state not in records.CLOSED
        and failure.state != records.RECOVERING
    ):
        return  # reported to recovery already; it has not acted yet
    if failure is not None and failure.state == records.RECOVERING and before == job.state.value:
        return  # still the failure recovery is working on
    if failure is not None and failure.state in records.CLOSED and before == job.state.value:
        return  # the same failure, already settled
    if failure is not None and failure.state == records.RECOVERING:
        records.set_state(url, failure.id, records.RETRY_FAILED, next_attempt_at=None)
        emit_on(
            correlation,
            None,
            "recovery.retry-failed",
            client=job.client,
            job_id=job.job_id,
            strategy=failure.strategy,
            category=failure.category,
            message=job.message,
        )
    report = Report(
        client=job.client,
        job_id=job.job_id,
        state="stalled" if job.state is JobState.STALLED else "failed",
        status=job.status,
        message=job.message,
        details={str(k): str(v) for k, v in job.details.items()},
        monitored_id=row.id,
        name=job.name,
    )
    hand_over(report, correlation)
    summary.failed.append({"client": job.client, "job_id": job.job_id, "status": job.status})


def _failed(settings: Settings, job: ClientJob, row: MonitoredJob, moment: datetime) -> bool:
    if job.state in FAILED_STATES:
        return True
    if job.state is JobState.STALLED:
        stalled_for = moment - _aware(row.changed_at)
        return stalled_for >= timedelta(seconds=settings.recovery.poll_stall_seconds)
    return False


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _upsert(url: str, job: ClientJob, moment: datetime) -> tuple[MonitoredJob, str | None]:
    """The job's row, updated to what the client says now; and its state before."""
    with session_scope(url) as session:
        query = select(MonitoredJob).where(
            MonitoredJob.client == job.client, MonitoredJob.job_id == job.job_id
        )
        row = session.scalars(query.with_for_update()).first()
        if row is None:
            row = MonitoredJob(
                client=job.client,
                job_id=job.job_id,
                name=job.name,
                category=job.category,
                state=job.state.value,
                status=job.status,
                message=job.message,
                in_dlq=False,
                changes=0,
                first_seen_at=moment,
                last_seen_at=moment,
                changed_at=moment,
            )
            session.add(row)
            session.flush()
            return row, None
        before = row.state
        if before != job.state.value or row.status != job.status:
            row.changes += 1
            row.changed_at = moment
        row.state, row.status, row.message = job.state.value, job.status, job.message
        row.name, row.category, row.last_seen_at, row.gone_at = job.name, job.category, moment, None
        return row, before


def _mark_gone(url: str, client: str, seen: set[str], moment: datetime) -> int:
    """Rows of ``client``'s jobs that it no longer lists."""
    with session_scope(url) as session:
        query = select(MonitoredJob).where(
            MonitoredJob.client == client, MonitoredJob.gone_at.is_(None)
        )
        gone = [row for row in session.scalars(query) if row.job_id not in seen]
        for row in gone:
            row.gone_at = moment
        return len(gone)


def monitored(url: str, *, client: str | None = None) -> list[MonitoredJob]:
    """Every monitored job (of ``client``), newest change first."""
    query = select(MonitoredJob).order_by(MonitoredJob.changed_at.desc())
    if client:
        query = query.where(MonitoredJob.client == client)
    with session_scope(url) as session:
        return list(session.scalars(query))
