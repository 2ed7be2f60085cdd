"""The transfer store: create, find, rebind, progress, fail and finish-exactly-once.

Every function takes the database URL and opens its own short transaction, so the
watch, ``downloads.fetch`` and recovery can call them from any process. State changes
that must happen once (finishing, giving up) are conditional UPDATEs: of two passes that
see the same completion, exactly one gets ``True``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from hauler.store.db import session_scope
from hauler.store.downloads_models import Download
from hauler.store.transfers_models import Transfer

SUBMITTED = "submitted"  # handed to the client; the client has not reported it yet
DOWNLOADING = "downloading"  # the client moves its bytes (or queues, checks, repairs …)
STALLED = "stalled"  # no progress past HAULER_WATCH_STALL_TIMEOUT; handed to recovery
FAILED = "failed"  # the client says it failed; handed to recovery
RECOVERING = "recovering"  # recovery owns it (a retry, another client …)
FINISHING = "finishing"  # a watch pass is collecting, verifying and placing it
DONE = "done"  # placed, recorded, result stored: final
GAVE_UP = "gave-up"  # failed for good, result FAILURE stored: final

FINAL = frozenset({DONE, GAVE_UP})
#: States of a transfer that is not over yet (``hauler transfers`` lists them).
WATCHED = frozenset({SUBMITTED, DOWNLOADING, STALLED, FAILED, RECOVERING, FINISHING})
#: States the watch acts on; failed, stalled and recovering ones are recovery's.
FOLLOWED = frozenset({SUBMITTED, DOWNLOADING})


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


@dataclass(frozen=True)
class Progress:
    """Where the client has one transfer now (for :func:`progress_many`)."""

    transfer_id: int
    state: str
    bytes_done: int
    bytes_total: int | None
    rate: float | None
    client_status: str | None
    grew: bool  # the byte count went up (or the client is queueing or post-processing)
    progressed_at: datetime | None = None  # kept when not ``grew``


def progress_many(url: str, updates: Iterable[Progress]) -> None:
    """Note the progress of many followed transfers in one statement executed for all (a
    row that recovery or finishing took meanwhile is left alone)."""
    stamp = now()
    rows = [
        {
            "b_id": item.transfer_id,
            "b_state": item.state,
            "b_done": item.bytes_done,
            "b_total": item.bytes_total,
            "b_rate": item.rate,
            "b_status": item.client_status,
            "b_progressed": stamp if item.grew else item.progressed_at,
        }
        for item in updates
    ]
    if not rows:
        return
    table = cast(Table, Transfer.__table__)
    statement = (
        update(table)
        .where(
            table.c.id == bindparam("b_id"),
            or_(*(table.c.state == state for state in sorted(FOLLOWED))),  # no IN: executemany
        )
        .values(
            state=bindparam("b_state"),
            bytes_done=bindparam("b_done"),
            bytes_total=bindparam("b_total"),
            rate=bindparam("b_rate"),
            client_status=bindparam("b_status"),
            progressed_at=bindparam("b_progressed"),
            updated_at=stamp,
        )
    )
    with session_scope(url) as session:
        session.connection().execute(statement, rows)


def rebind_quietly(url: str, transfer_id: int, job_id: str) -> bool:
    """The client lists the transfer's job (found by its tag) under a new id: follow that."""
    return _update(url, transfer_id, {"job_id": job_id, "updated_at": now()})


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


def claim_finish(url: str, transfer_id: int, lease: float) -> bool:
    """Take a followed transfer for finishing, once: True only for the pass that took it
    (a claim older than ``lease`` seconds belongs to a pass that died: it is taken over)."""
    stamp = now()
    stale = stamp - timedelta(seconds=lease)
    statement = (
        update(Transfer)
        .where(
            Transfer.id == transfer_id,
            or_(
                Transfer.state.in_(list(FOLLOWED)),
                and_(Transfer.state == FINISHING, Transfer.updated_at < stale),
            ),
        )
        .values(state=FINISHING, updated_at=stamp)
    )
    with session_scope(url) as session:
        result = session.execute(statement)
        return bool(isinstance(result, CursorResult) and result.rowcount == 1)


def finish(
    url: str, transfer_id: int, result: dict[str, Any], download: Download | None = None
) -> dict[str, Any] | None:
    """Mark the transfer done, exactly once, with ``result`` — and, in the same transaction,
    insert its ``downloads`` row (whose id becomes ``result["download_id"]``).

    Returns:
        The stored result, or None when the transfer was final already (nothing stored).
    """
    stamp = now()
    try:
        with session_scope(url) as session:
            if download is not None:
                session.add(download)
                session.flush()
                result = {**result, "download_id": download.id}
            statement = (
                update(Transfer)
                .where(Transfer.id == transfer_id, Transfer.state.not_in(list(FINAL)))
                .values(
                    state=DONE,
                    result=result,
                    download_id=download.id if download is not None else None,
                    finished_at=stamp,
                    updated_at=stamp,
                )
            )
            changed = session.execute(statement)
            if not (isinstance(changed, CursorResult) and changed.rowcount == 1):
                raise _AlreadyFinal
    except _AlreadyFinal:
        return None
    return result


class _AlreadyFinal(Exception):
    """Rolls back a finish whose transfer another pass finished first."""


def set_result(url: str, transfer_id: int, result: dict[str, Any]) -> None:
    """Replace the stored result of a done transfer (its ``then`` chain id was added)."""
    with session_scope(url) as session:
        session.execute(update(Transfer).where(Transfer.id == transfer_id).values(result=result))


def counts(url: str) -> dict[tuple[str, str], int]:
    """Transfers per (client, state)."""
    query = select(Transfer.client, Transfer.state, func.count()).group_by(
        Transfer.client, Transfer.state
    )
    with session_scope(url) as session:
        return {(client, state): int(n) for client, state, n in session.execute(query)}


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
