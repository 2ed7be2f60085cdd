"""The dead-letter store: tasks that failed for good, kept until someone retries them.

Letters that fail while the database is down are parked in Redis by :mod:`hauler.parking`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from hauler.clip import clip, text
from hauler.correlation import MAX_ID, clean_id
from hauler.errors import InvalidArgument
from hauler.redact import redact, redact_text
from hauler.store.db import session_scope
from hauler.store.models import DeadLetter

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)

#: Largest dead-letter id (a signed 64-bit integer column).
MAX_LETTER_ID = 2**63 - 1


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
    failed_at: float | None = None  # UNIX seconds when it failed; None: when it is stored
    arguments_altered: bool = False  # the stored args/kwargs differ from what the task got


def sanitized(failure: Failure) -> Failure:
    """``failure`` as it may be stored: secrets masked, every value capped and encodable."""
    args = clip(redact(list(failure.args)))
    kwargs = clip(redact(dict(failure.kwargs)))
    altered = bool(failure.arguments_altered) or (
        args != list(failure.args) or kwargs != dict(failure.kwargs)
    )
    return replace(
        failure,
        arguments_altered=altered,
        task_id=text(str(failure.task_id), MAX_ID)[:MAX_ID],
        task_name=text(str(failure.task_name), 200)[:200],
        queue=clean_id(failure.queue),
        args=args if isinstance(args, list) else [args],
        kwargs=kwargs if isinstance(kwargs, dict) else {"kwargs": kwargs},
        reason=text(str(failure.reason), 32)[:32],
        exception=text(redact_text(str(failure.exception)), 4000),
        traceback=text(redact_text(str(failure.traceback))[-4000:], 4000),
        correlation_id=clean_id(failure.correlation_id),
        causation_id=clean_id(failure.causation_id),
        attempts=_attempts(failure.attempts),
    )


def _attempts(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31:
        return value
    raise ValueError(f"attempts must be a positive whole number, got {value!r}")


def record(url: str, failure: Failure, *, now: datetime | None = None) -> int:
    """Store ``failure``; a second failure of the same task id updates its row.

    Idempotent by task id: storing the same failure twice (or from two processes at once)
    leaves one row.

    Returns:
        The dead letter's id.
    """
    failure = sanitized(failure)
    when = _failed_at(failure, now)
    try:
        return _upsert(url, failure, when)
    except IntegrityError:  # another process inserted the same task id just now
        return _upsert(url, failure, when)


def _failed_at(failure: Failure, now: datetime | None) -> datetime:
    if isinstance(failure.failed_at, int | float) and not isinstance(failure.failed_at, bool):
        return datetime.fromtimestamp(failure.failed_at, UTC)
    return now or datetime.now(UTC)


def _upsert(url: str, failure: Failure, when: datetime) -> int:
    with session_scope(url) as session:
        row = session.scalar(select(DeadLetter).where(DeadLetter.task_id == failure.task_id))
        if row is None:
            row = DeadLetter(task_id=failure.task_id, first_failed_at=when, last_failed_at=when)
            session.add(row)
        elif row.last_failed_at is not None and _aware(row.last_failed_at) > when:
            return row.id  # an older failure of a task already stored with a newer one
        row.task_name = failure.task_name
        row.queue = failure.queue
        row.args = list(failure.args)
        row.kwargs = dict(failure.kwargs)
        row.reason = failure.reason
        row.exception = failure.exception
        row.traceback = failure.traceback
        row.correlation_id = failure.correlation_id
        row.causation_id = failure.causation_id
        row.attempts = failure.attempts
        row.arguments_altered = failure.arguments_altered
        row.first_failed_at = min(_aware(row.first_failed_at or when), when)
        row.last_failed_at = when
        row.state = "dead"
        session.flush()
        return row.id


def _aware(moment: datetime) -> datetime:
    """SQLite gives naive datetimes back; they are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def list_letters(url: str, *, state: str | None = "dead", limit: int = 50) -> list[DeadLetter]:
    """The newest dead letters first, optionally only those in ``state``."""
    with session_scope(url) as session:
        query = select(DeadLetter).order_by(DeadLetter.last_failed_at.desc()).limit(limit)
        if state:
            query = query.where(DeadLetter.state == state)
        return list(session.scalars(query))


def parse_ident(ident: Any) -> int | str:
    """A dead letter's numeric id (ASCII digits only) or task id, as given by a caller.

    Raises:
        InvalidArgument: not a usable id (named ``letter``).
    """
    if isinstance(ident, int) and not isinstance(ident, bool):
        if not 1 <= ident <= MAX_LETTER_ID:
            raise InvalidArgument("letter", f"a dead-letter id is from 1 to {MAX_LETTER_ID}")
        return ident
    if not isinstance(ident, str) or not ident.strip():
        raise InvalidArgument("letter", "must be a dead-letter id or task id")
    ident = ident.strip()
    if ident.isascii() and ident.isdigit():  # "٣" is a digit to str.isdigit, not an id
        return parse_ident(int(ident[:20]) if len(ident) <= 20 else MAX_LETTER_ID + 1)
    if len(ident) > MAX_ID or not ident.isprintable():
        raise InvalidArgument("letter", f"a task id is printable and at most {MAX_ID} characters")
    return ident


def get(url: str, ident: Any) -> DeadLetter | None:
    """A dead letter by numeric id or task id.

    Raises:
        InvalidArgument: ``ident`` cannot be an id (see :func:`parse_ident`).
    """
    key = parse_ident(ident)
    with session_scope(url) as session:
        if isinstance(key, int):
            return session.get(DeadLetter, key)
        return session.scalar(select(DeadLetter).where(DeadLetter.task_id == key))


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


def announce(
    app: Celery, failure: Failure, *, hostname: str | None = None, category: str | None = None
) -> None:
    """Send the ``task-dead-lettered`` event of a stored ``failure`` (best effort: the dead
    letter itself is stored); ``category`` is the download failure's class, when known."""
    extra = {"category": category} if category is not None else {}
    try:
        with app.events.default_dispatcher(hostname=hostname) as events:
            events.send(
                "task-dead-lettered",
                uuid=failure.task_id,
                name=failure.task_name,
                queue=failure.queue,
                reason=failure.reason,
                exception=failure.exception,
                correlation_id=failure.correlation_id,
                causation_id=failure.causation_id,
                **extra,
            )
    except Exception:
        log.warning("could not announce dead letter %s", failure.task_id, exc_info=True)
