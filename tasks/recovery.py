"""Tasks of the ``recovery`` queue."""

from __future__ import annotations

from typing import Any

from celery import current_app

from hauler import dlq
from hauler.correlation import CORRELATION_HEADER
from hauler.errors import InvalidArgument
from hauler.recovery.recover import Report
from hauler.recovery.recover import recover as recover_failure
from hauler.settings import get_settings
from tasks._ping import queue_ping
from workers.base import hauler_task

ping = queue_ping("recovery")


@hauler_task("recovery.retry_dead_letter")
def retry_dead_letter(letter: int | str) -> dict[str, Any]:
    """Publish a dead-lettered task again; returns the dead letter id and the new task id.

    ``letter`` is a dead-letter id (a whole number, or ASCII digits) or a task id.
    """
    return dlq.retry(get_settings(), letter)


@hauler_task("recovery.recover")
def recover(
    *,
    client: str,
    job_id: str,
    state: str = "failed",
    status: str = "",
    message: str | None = None,
    details: dict[str, Any] | None = None,
    transfer_id: int | None = None,
    task_id: str | None = None,
    attempts: int | None = None,
    monitored_id: int | None = None,
    name: str = "",
    failure_id: int | None = None,
    due: bool = False,
) -> dict[str, Any]:
    """Recover one failed download; returns what was done (``outcome``: scheduled,
    retrying, recovered, reported, paused, deferred, ignored or gave-up)."""
    report = _report(
        client,
        job_id,
        state,
        status,
        message,
        details,
        transfer_id,
        task_id,
        monitored_id,
        name,
        failure_id,
        due,
    )
    return recover_failure(get_settings(), report, schedule_again)


def schedule_again(kwargs: dict[str, Any], countdown: float, correlation: str | None) -> None:
    """Publish ``recovery.recover`` again after ``countdown`` seconds (scheduled, not slept)."""
    headers = {CORRELATION_HEADER: correlation} if correlation else {}
    current_app.send_task(
        "recovery.recover",
        kwargs=kwargs,
        queue="recovery",
        countdown=max(0.0, countdown),
        headers=headers,
    )


def _report(
    client: Any,
    job_id: Any,
    state: Any,
    status: Any,
    message: Any,
    details: Any,
    transfer_id: Any,
    task_id: Any,
    monitored_id: Any,
    name: Any,
    failure_id: Any,
    due: Any,
) -> Report:
    for argument, value in (("client", client), ("job_id", job_id)):
        if not isinstance(value, str) or not value or len(value) > 128:
            raise InvalidArgument(argument, "must be a non-empty string of at most 128 characters")
    if state not in ("failed", "stalled"):
        raise InvalidArgument("state", "must be 'failed' or 'stalled'")
    if details is not None and not isinstance(details, dict):
        raise InvalidArgument("details", "must be an object of strings")
    for argument, number in (
        ("transfer_id", transfer_id),
        ("monitored_id", monitored_id),
        ("failure_id", failure_id),
    ):
        if number is not None and (not isinstance(number, int) or isinstance(number, bool)):
            raise InvalidArgument(argument, "must be a whole number")
    return Report(
        client=client,
        job_id=job_id,
        state=state,
        status=str(status or ""),
        message=None if message is None else str(message),
        details={str(k): str(v) for k, v in (details or {}).items()},
        transfer_id=transfer_id,
        task_id=task_id if isinstance(task_id, str) else None,
        monitored_id=monitored_id,
        name=str(name or ""),
        failure_id=failure_id,
        due=bool(due),
    )
