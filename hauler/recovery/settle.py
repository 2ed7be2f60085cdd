"""Settle recoveries whose download ended: ``recovery.recovered`` when the watch finished
it after an attempt, the failure closed when the download was given up.

The watch may call :func:`transfer_ended` when it finishes a transfer; failure polling
sweeps every recovering failure (:func:`sweep`) so none is left open if it did not.
"""

from __future__ import annotations

from typing import Any

from hauler.recovery import records
from hauler.recovery.events import emit_on
from hauler.settings import Settings
from hauler.store.recovery_models import Failure
from hauler.transfers import store as transfers


def transfer_ended(settings: Settings, transfer_id: int) -> dict[str, Any] | None:
    """Settle the recovering failure of ``transfer_id``, if it has one and has ended."""
    failure = records.latest_for_transfer(settings.database_url, transfer_id)
    if failure is None or failure.state != records.RECOVERING:
        return None
    return _settle(settings, failure)


def sweep(settings: Settings) -> list[dict[str, Any]]:
    """Settle every recovering failure whose download has ended."""
    settled = []
    for failure in records.recovering(settings.database_url):
        if failure.transfer_id is None:
            continue
        outcome = _settle(settings, failure)
        if outcome is not None:
            settled.append(outcome)
    return settled


def _settle(settings: Settings, failure: Failure) -> dict[str, Any] | None:
    url = settings.database_url
    assert failure.transfer_id is not None
    transfer = transfers.by_id(url, failure.transfer_id)
    if transfer is None or transfer.state not in transfers.FINAL:
        return None
    attempt = records.open_attempt(url, transfer.id)
    if transfer.state == transfers.DONE:
        if not records.set_state(url, failure.id, records.RECOVERED, next_attempt_at=None):
            return None
        if attempt is not None:
            records.end_attempt(url, attempt.id, "recovered", new_job_id=transfer.job_id)
        emit_on(
            transfer.correlation_id,
            transfer.task_id,
            "recovery.recovered",
            client=transfer.client,
            job_id=transfer.job_id,
            strategy=attempt.strategy if attempt else failure.strategy,
            attempt=attempt.number if attempt else failure.attempts,
            category=failure.category,
        )
        return {"failure_id": failure.id, "outcome": "recovered"}
    if attempt is not None:
        records.end_attempt(url, attempt.id, "failed", error=transfer.message)
    records.set_state(url, failure.id, records.GAVE_UP, next_attempt_at=None)
    return {"failure_id": failure.id, "outcome": "gave-up"}
