"""The transfer store: create, find, rebind, progress, fail and finish-exactly-once.

Every function takes the database URL and opens its own short transaction, so the
watch, ``downloads.fetch`` and recovery can call them from any process. State changes
that must happen once (finishing, giving up) are conditional UPDATEs: of two passes that
see the same completion, exactly one gets ``True``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError

from hauler.store.db import session_scope
from hauler.store.transfers_models import Transfer

SUBMITTED = "submitted"  # handed to the client; the client has not reported it yet
DOWNLOADING = "downloading"  # the client moves its bytes (or queues, checks, repairs …)
STALLED = "stalled"  # no progress past HAULER_WATCH_STALL_TIMEOUT; handed to recovery
FAILED = "failed"  # the client says it failed; handed to recovery
RECOVERING = "recovering"  # recovery owns it (a retry, another client …)
DONE = "done"  # placed, recorded, result stored: final
GAVE_UP = "gave-up"  # failed for good, result FAILURE stored: final

FINAL = frozenset({DONE, GAVE_UP})
#: States the watch reads the clients for (a failed one may come back after a retry).
WATCHED = frozenset({SUBMITTED, DOWNLOADING, STALLED, FAILED, RECOVERING})


@dataclass(frozen=True)
class NewTransfer:
    """What ``downloads.fetch`` knows when it hands a download over."""

    task_id: str
    client: str
    job_id: str | None
    tag: str
    url: str
    shown: str
    dest: str
    workdir: str
    reason: str = ""
    correlation_id: str | None = None
    sha256: str | None = None
    max_bytes: int | None = None
    filename: str | None = None
    then: list[dict[str, Any]] = field(default_factory=list)
    canvas: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    task_name: str = "downloads.fetch"


def now() -> datetime:
    """The time stored in every row (UTC, aware)."""
    return datetime.now(UTC)


def create(url: str, new: NewTransfer) -> tuple[Transfer, bool]:
    """Record ``new``; or, when ``new.task_id`` has a transfer already, return that one.

    Returns:
        The row and whether it was created now (False: a redelivery re-attaches).
    """
    stamp = now()
    row = Transfer(
        task_id=new.task_id,
        task_name=new.task_name,
        client=new.client,
        job_id=new.job_id,
        tag=new.tag,
        correlation_id=new.correlation_id,
        url=new.url,
        shown=new.shown,
        reason=new.reason,
        sha256=new.sha256,
        max_bytes=new.max_bytes,
        filename=new.filename,
        dest=new.dest,
        workdir=new.workdir,
        then=list(new.then),
        canvas=dict(new.canvas),
        details=dict(new.details),
        state=SUBMITTED,
        attempts=1,
        bytes_done=0,
        created_at=stamp,
        updated_at=stamp,
        progressed_at=stamp,
    )
    try:
        with session_scope(url) as session:
            session.add(row)
        return row, True
    except IntegrityError:
        existing = get(url, new.task_id)
        if existing is None:
            raise
        return existing, False


def get(url: str, task_id: str) -> Transfer | None:
    """The transfer of ``task_id``, if it was handed off."""
    return _one(url, Transfer.task_id == task_id)


def by_id(url: str, transfer_id: int) -> Transfer | None:
    """The transfer with row id ``transfer_id``."""
    return _one(url, Transfer.id == transfer_id)


def by_tag(url: str, tag: str) -> Transfer | None:
    """The transfer labelled ``tag`` in its client."""
    return _one(url, Transfer.tag == tag)


def by_job(url: str, client: str, job_id: str) -> Transfer | None:
    """The transfer that ``client`` knows as ``job_id`` now."""
    return _one(url, Transfer.client == client, Transfer.job_id == job_id)


def watched(url: str, clients: Iterable[str] | None = None) -> list[Transfer]:
    """Transfers not final yet (of ``clients``, when given), oldest first."""
    query = select(Transfer).where(Transfer.state.in_(WATCHED)).order_by(Transfer.id)
    if clients is not None:
        query = query.where(Transfer.client.in_(list(clients)))
    with session_scope(url) as session:
        return list(session.scalars(query))


def undelivered(url: str) -> list[Transfer]:
    """Final transfers whose task result or canvas was not delivered (a watch died between)."""
    query = select(Transfer).where(Transfer.state.in_(FINAL), Transfer.delivered_at.is_(None))
    with session_scope(url) as session:
        return list(session.scalars(query.order_by(Transfer.id)))


def recent(url: str, limit: int = 50, states: Iterable[str] | None = None) -> list[Transfer]:
    """The newest transfers (in ``states``, when given), newest first."""
    query = select(Transfer).order_by(Transfer.id.desc()).limit(limit)
    if states is not None:
        query = query.where(Transfer.state.in_(list(states)))
    with session_scope(url) as session:
        return list(session.scalars(query))


def rebind(url: str, transfer_id: int, job_id: str, *, client: str | None = None) -> bool:
    """The client knows the transfer by a new ``job_id`` now (a client-side retry gave one, or
    recovery moved it to ``client``); counts an attempt; back to SUBMITTED unless final."""
    values: dict[str, Any] = {"job_id": job_id, "state": SUBMITTED, "updated_at": now()}
    values["attempts"] = Transfer.attempts + 1
    values["progressed_at"] = now()
    if client is not None:
        values["client"] = client
    return _update(url, transfer_id, values)


def progress(
    url: str,
    transfer_id: int,
    *,
    state: str,
    bytes_done: int,
    bytes_total: int | None,
    rate: float | None,
    client_status: str | None,
    grew: bool,
) -> bool:
    """Note where the client has the transfer; ``grew`` when its byte count went up."""
    stamp = now()
    values: dict[str, Any] = {
        "state": state,
        "bytes_done": bytes_done,
        "bytes_total": bytes_total,
        "rate": rate,
        "client_status": client_status,
        "updated_at": stamp,
    }
    if grew:
        values["progressed_at"] = stamp
    return _update(url, transfer_id, values)


def set_state(url: str, transfer_id: int, state: str, message: str | None = None) -> bool:
    """Move a transfer that is not final to ``state`` (``message``: the client's words)."""
    values: dict[str, Any] = {"state": state, "updated_at": now()}
    if message is not None:
        values["message"] = message
    return _update(url, transfer_id, values)


def claim_failure(url: str, transfer_id: int, state: str, message: str | None) -> bool:
    """Mark a watched transfer failed/stalled, once: True only for the pass that did it (a
    transfer already failed, stalled, recovering or final is not handed over again)."""
    values = {"state": state, "message": message, "updated_at": now()}
    return _update(url, transfer_id, values, unless=(FAILED, STALLED, RECOVERING, *FINAL))


def finish(url: str, transfer_id: int, result: dict[str, Any], download_id: int | None) -> bool:
    """Mark the transfer done with ``result``, exactly once: False when already final."""
    stamp = now()
    values = {
        "state": DONE,
        "result": result,
        "download_id": download_id,
        "finished_at": stamp,
        "updated_at": stamp,
    }
    return _update(url, transfer_id, values)


def give_up(url: str, transfer_id: int, message: str) -> bool:
    """Mark the transfer failed for good, exactly once: False when already final."""
    stamp = now()
    values = {"state": GAVE_UP, "message": message, "finished_at": stamp, "updated_at": stamp}
    return _update(url, transfer_id, values)


def delivered(url: str, transfer_id: int) -> None:
    """The task's result is stored and its canvas continued."""
    with session_scope(url) as session:
        session.execute(
            update(Transfer).where(Transfer.id == transfer_id).values(delivered_at=now())
        )


def _update(
    url: str,
    transfer_id: int,
    values: dict[str, Any],
    unless: Iterable[str] = FINAL,
) -> bool:
    """UPDATE … WHERE id = ? AND state NOT IN (unless); True when a row changed."""
    statement = (
        update(Transfer)
        .where(Transfer.id == transfer_id, Transfer.state.not_in(list(unless)))
        .values(**values)
    )
    with session_scope(url) as session:
        result = session.execute(statement)
        return bool(isinstance(result, CursorResult) and result.rowcount == 1)


def _one(url: str, *conditions: Any) -> Transfer | None:
    with session_scope(url) as session:
        return session.scalars(select(Transfer).where(*conditions)).first()
