"""The failure records: what failed, how it was classified, what recovery did and when.

Every function takes the database URL and opens its own short transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import CursorResult, func, select, update

from hauler.failures.classify import Classification
from hauler.store.db import session_scope
from hauler.store.recovery_models import Failure, MonitoredJob, RecoveryAttempt

OPEN = "open"  # seen, recovery not started
RECOVERING = "recovering"  # an attempt is scheduled or running
RECOVERED = "recovered"  # an attempt worked: final
GAVE_UP = "gave-up"  # dead-lettered: final
REPORTED = "reported"  # recorded and told, nothing done (by policy): final
RETRY_FAILED = "retry-failed"  # its attempt failed again; the next failure row goes on: final
CLOSED = frozenset({RECOVERED, GAVE_UP, REPORTED, RETRY_FAILED})
#: Strategies whose attempts count against HAULER_RECOVERY_MAX_ATTEMPTS.
COUNTED = ("retry", "mirror", "arr")


def now() -> datetime:
    return datetime.now(UTC)


def open_failure(
    url: str,
    *,
    client: str,
    job_id: str,
    verdict: Classification,
    status: str,
    message: str | None,
    details: Mapping[str, Any],
    name: str = "",
    transfer_id: int | None = None,
    task_id: str | None = None,
    monitored_id: int | None = None,
    correlation_id: str | None = None,
    foreign_job: bool = False,
) -> tuple[Failure, bool]:
    """The open failure of (client, job_id) for this download, created if new.

    Returns the row and whether it was created now (False: a redelivered task, or a
    second report of the same failure).
    """
    with session_scope(url) as session:
        query = select(Failure).where(
            Failure.client == client,
            Failure.job_id == job_id,
            Failure.state.not_in(list(CLOSED)),
        )
        if transfer_id is not None:
            query = query.where(Failure.transfer_id == transfer_id)
        existing = session.scalars(query.order_by(Failure.id.desc())).first()
        if existing is not None:
            return existing, False
        stamp = now()
        row = Failure(
            transfer_id=transfer_id,
            task_id=task_id,
            monitored_id=monitored_id,
            client=client,
            job_id=job_id,
            name=name,
            category=verdict.category.value,
            severity=verdict.severity.value,
            retry_same=verdict.retry_same,
            status=status,
            message=message,
            details=dict(details),
            rule=verdict.rule.source if verdict.rule else None,
            foreign_job=foreign_job,
            correlation_id=correlation_id,
            state=OPEN,
            attempts=0,
            failed_at=stamp,
            updated_at=stamp,
        )
        session.add(row)
        session.flush()
        session.expunge(row)
        return row, True


def get(url: str, failure_id: int) -> Failure | None:
    with session_scope(url) as session:
        return session.get(Failure, failure_id)


def latest_for_transfer(url: str, transfer_id: int) -> Failure | None:
    """The newest failure of a Hauler download."""
    with session_scope(url) as session:
        query = select(Failure).where(Failure.transfer_id == transfer_id)
        return session.scalars(query.order_by(Failure.id.desc())).first()


def set_state(url: str, failure_id: int, state: str, **values: Any) -> bool:
    """Move a failure that is not closed to ``state`` (and set other columns)."""
    stamp = now()
    values = {"state": state, "updated_at": stamp, **values}
    if state in CLOSED:
        values.setdefault("closed_at", stamp)
    statement = (
        update(Failure)
        .where(Failure.id == failure_id, Failure.state.not_in(list(CLOSED)))
        .values(**values)
    )
    with session_scope(url) as session:
        result = session.execute(statement)
        return bool(isinstance(result, CursorResult) and result.rowcount == 1)


def attempts_made(
    url: str, transfer_id: int | None, failure_id: int, monitored_id: int | None = None
) -> int:
    """Recovery attempts counted so far: per Hauler download when there is one (across
    every failure of it and every client job id it had), per monitored foreign job across
    its failures, else per failure."""
    with session_scope(url) as session:
        query = select(func.count(RecoveryAttempt.id)).where(RecoveryAttempt.strategy.in_(COUNTED))
        if transfer_id is not None:
            query = query.where(RecoveryAttempt.transfer_id == transfer_id)
        elif monitored_id is not None:
            failures = select(Failure.id).where(Failure.monitored_id == monitored_id)
            query = query.where(RecoveryAttempt.failure_id.in_(failures))
        else:
            query = query.where(RecoveryAttempt.failure_id == failure_id)
        return int(session.scalar(query) or 0)


def start_attempt(
    url: str, failure: Failure, number: int, strategy: str, client: str, job_id: str | None
) -> int:
    """Record an attempt that starts now; its id."""
    with session_scope(url) as session:
        row = RecoveryAttempt(
            failure_id=failure.id,
            transfer_id=failure.transfer_id,
            number=number,
            strategy=strategy,
            client=client,
            job_id=job_id,
            outcome="started",
            started_at=now(),
        )
        session.add(row)
        session.flush()
        return int(row.id)


def end_attempt(
    url: str,
    attempt_id: int,
    outcome: str,
    *,
    new_job_id: str | None = None,
    error: str | None = None,
) -> None:
    """Note how an attempt ended: recovered (or handed back to the client), or failed."""
    values: dict[str, Any] = {"outcome": outcome, "finished_at": now(), "error": error}
    if new_job_id is not None:
        values["new_job_id"] = new_job_id
    with session_scope(url) as session:
        session.execute(
            update(RecoveryAttempt).where(RecoveryAttempt.id == attempt_id).values(**values)
        )


def open_attempt(url: str, transfer_id: int) -> RecoveryAttempt | None:
    """The newest attempt of a download whose outcome is not known yet (the client has the
    job again; the watch will see whether it works)."""
    with session_scope(url) as session:
        query = select(RecoveryAttempt).where(
            RecoveryAttempt.transfer_id == transfer_id,
            RecoveryAttempt.outcome.in_(("started", "handed")),
        )
        return session.scalars(query.order_by(RecoveryAttempt.id.desc())).first()


def attempts_of(url: str, failure_id: int) -> list[RecoveryAttempt]:
    with session_scope(url) as session:
        query = select(RecoveryAttempt).where(RecoveryAttempt.failure_id == failure_id)
        return list(session.scalars(query.order_by(RecoveryAttempt.id)))


def recent(
    url: str, *, include_closed: bool = False, category: str | None = None, limit: int = 30
) -> list[Failure]:
    """The newest failures (open ones only unless ``include_closed``), newest first."""
    query = select(Failure).order_by(Failure.failed_at.desc(), Failure.id.desc()).limit(limit)
    if not include_closed:
        query = query.where(Failure.state.not_in(list(CLOSED)))
    if category:
        query = query.where(Failure.category == category)
    with session_scope(url) as session:
        return list(session.scalars(query))


def recovering(url: str) -> list[Failure]:
    """Failures whose attempt is out with a client (to settle once the transfer is final)."""
    with session_scope(url) as session:
        query = select(Failure).where(Failure.state == RECOVERING)
        return list(session.scalars(query.order_by(Failure.id)))


def link_failure(url: str, monitored_id: int, failure_id: int, category: str) -> None:
    """Note the failure recovery opened for a monitored job."""
    with session_scope(url) as session:
        session.execute(
            update(MonitoredJob)
            .where(MonitoredJob.id == monitored_id)
            .values(failure_id=failure_id, failure_category=category)
        )


def mark_dead(url: str, monitored_id: int, failure_id: int) -> None:
    """Recovery gave up on a monitored job: it is in the dead-letter view (``in_dlq``)."""
    with session_scope(url) as session:
        session.execute(
            update(MonitoredJob)
            .where(MonitoredJob.id == monitored_id)
            .values(in_dlq=True, failure_id=failure_id)
        )


def mark_retried(url: str, monitored_id: int) -> None:
    """A monitored job was started again by recovery: the next pass sees any state it is
    in then (failed again, too) as a change."""
    with session_scope(url) as session:
        session.execute(
            update(MonitoredJob).where(MonitoredJob.id == monitored_id).values(state="retried")
        )
