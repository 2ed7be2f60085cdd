"""The dead-letter store: tasks that failed for good, kept until someone retries them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select

from hauler.store.db import session_scope
from hauler.store.models import DeadLetter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Failure:
    """What is known about a task that has failed for good."""

    task_id: str
    task_name: str
    queue: str | None
    args: list[Any]
    kwargs: dict[str, Any]
    reason: str  # permanent | exhausted | unexpected | timeout
    exception: str
    traceback: str
    correlation_id: str | None
    causation_id: str | None
    attempts: int


def record(url: str, failure: Failure, *, now: datetime | None = None) -> int:
    """Store ``failure``; a second failure of the same task id updates its row.

    Returns:
        The dead letter's id.
    """
    now = now or datetime.now(UTC)
    with session_scope(url) as session:
        row = session.scalar(select(DeadLetter).where(DeadLetter.task_id == failure.task_id))
        if row is None:
            row = DeadLetter(task_id=failure.task_id, first_failed_at=now)
            session.add(row)
        row.task_name = failure.task_name
        row.queue = failure.queue
        row.args = list(failure.args)
        row.kwargs = dict(failure.kwargs)
        row.reason = failure.reason
        row.exception = failure.exception[:4000]
        row.traceback = failure.traceback[-4000:]
        row.correlation_id = failure.correlation_id
        row.causation_id = failure.causation_id
        row.attempts = failure.attempts
        row.last_failed_at = now
        row.state = "dead"
        session.flush()
        return row.id


def list_letters(url: str, *, state: str | None = "dead", limit: int = 50) -> list[DeadLetter]:
    """The newest dead letters first, optionally only those in ``state``."""
    with session_scope(url) as session:
        query = select(DeadLetter).order_by(DeadLetter.last_failed_at.desc()).limit(limit)
        if state:
            query = query.where(DeadLetter.state == state)
        return list(session.scalars(query))


def get(url: str, ident: str) -> DeadLetter | None:
    """A dead letter by numeric id or task id."""
    with session_scope(url) as session:
        if ident.isdigit():
            return session.get(DeadLetter, int(ident))
        return session.scalar(select(DeadLetter).where(DeadLetter.task_id == ident))


def mark_retried(url: str, letter_id: int, new_task_id: str) -> None:
    """Note that a dead letter was published again as ``new_task_id``."""
    with session_scope(url) as session:
        row = session.get(DeadLetter, letter_id)
        if row is not None:
            row.state = "retried"
            row.retried_task_id = new_task_id


def purge(url: str, *, state: str | None = None, older_than: datetime | None = None) -> int:
    """Delete dead letters (in ``state``, failed before ``older_than``); return how many."""
    query = delete(DeadLetter)
    if state:
        query = query.where(DeadLetter.state == state)
    if older_than:
        query = query.where(DeadLetter.last_failed_at < older_than)
    with session_scope(url) as session:
        return int(session.execute(query).rowcount or 0)  # type: ignore[attr-defined]


def count(url: str, state: str = "dead") -> int:
    """How many dead letters are in ``state``."""
    with session_scope(url) as session:
        return int(session.scalar(select(func.count()).where(DeadLetter.state == state)) or 0)


#: Redis list where dead letters wait when the database is down.
PARKED_KEY = "hauler:dead-letters:parked"


def record_or_park(settings: Any, failure: Failure) -> None:
    """Store ``failure``; if the database is down, park it in Redis so it is not lost."""
    import json
    from dataclasses import asdict

    import redis

    try:
        record(settings.database_url, failure)
        return
    except Exception as exc:  # any database failure: park rather than lose it
        log.warning("database unavailable for dead letter %s, parking it: %s", failure.task_id, exc)
    client = redis.Redis.from_url(settings.broker_url)
    client.lpush(PARKED_KEY, json.dumps(asdict(failure)))


def drain_parked(settings: Any, *, limit: int = 1000) -> int:
    """Move dead letters parked in Redis into the database; return how many moved."""
    import json

    import redis

    client = redis.Redis.from_url(settings.broker_url)
    moved = 0
    for _ in range(limit):
        raw = client.lindex(PARKED_KEY, -1)
        if raw is None:
            break
        record(settings.database_url, Failure(**json.loads(raw)))
        client.rpop(PARKED_KEY)
        moved += 1
    return moved
