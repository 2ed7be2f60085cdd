"""Recover one failed download: classify it, pick the next strategy, schedule or act.

``recover`` is called by the ``recovery.recover`` task, first when the watch (or failure
polling) hands a failure over, then again when a scheduled attempt falls due
(``due=True``). It never sleeps: a wait is a scheduled call (``Scheduler``). One call
per download at a time (a Redis lock); a call that finds the lock taken is deferred.

Strategies, in the order the category lists them (``hauler.failures.categories``):
retry in the same client → a mirror → the Sonarr/Radarr that grabbed it → give up. A
full disk pauses the client (``client.disk-full``), re-checks until there is room
(``client.resumed``) and then retries the job without using up an attempt.

Events on the download's timeline: ``download.failed`` → ``recovery.retry-started`` →
``recovery.recovered`` / ``recovery.retry-failed`` → ``recovery.gave-up``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from hauler import broker
from hauler.downloads import client_pause
from hauler.downloads.clients.base import DownloadClient
from hauler.downloads.clients.registry import configured_clients
from hauler.errors import HaulerError
from hauler.failures.categories import POLICIES, Category, Strategy
from hauler.failures.classify import Classification, classify
from hauler.recovery import lock, records
from hauler.recovery.actions import actions_for
from hauler.recovery.arr import ArrClient
from hauler.recovery.events import emit_on
from hauler.recovery.giveup import give_up_transfer
from hauler.recovery.schedule import attempt_delay
from hauler.redact import redact_text
from hauler.settings import Settings
from hauler.store.recovery_models import Failure
from hauler.store.transfers_models import Transfer
from hauler.transfers import store as transfers

DEFER_SECONDS = 5.0  # a call that finds the download's lock taken runs again after this


class Scheduler(Protocol):
    """Runs ``recover`` again later with these keyword arguments (a countdown, not a sleep)."""

    def __call__(
        self, kwargs: dict[str, Any], countdown: float, correlation: str | None
    ) -> None: ...


@dataclass(frozen=True)
class Report:
    """A failure as the watch or failure polling hands it over (``recovery.recover``'s
    arguments)."""

    client: str
    job_id: str
    state: str = "failed"  # failed | stalled
    status: str = ""
    message: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)
    transfer_id: int | None = None
    task_id: str | None = None
    monitored_id: int | None = None
    name: str = ""
    failure_id: int | None = None  # set on the scheduled calls
    due: bool = False  # a scheduled attempt has fallen due

    def kwargs(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "job_id": self.job_id,
            "state": self.state,
            "status": self.status,
            "message": self.message,
            "details": dict(self.details),
            "transfer_id": self.transfer_id,
            "task_id": self.task_id,
            "monitored_id": self.monitored_id,
            "name": self.name,
            "failure_id": self.failure_id,
            "due": self.due,
        }


@dataclass
class _Context:
    settings: Settings
    report: Report
    failure: Failure
    verdict: Classification
    transfer: Transfer | None
    schedule: Scheduler
    clients: list[DownloadClient]
    now: Callable[[], float]

    @property
    def url(self) -> str:
        return self.settings.database_url

    @property
    def correlation(self) -> str | None:
        return self.failure.correlation_id

    def emit(self, kind: str, **payload: Any) -> None:
        cause = self.transfer.task_id if self.transfer else None
        base = {"client": self.failure.client, "job_id": self.failure.job_id}
        emit_on(self.correlation, cause, kind, **{**base, **payload})


def verdict_of(report: Report) -> Classification:
    """The classification of a report; a stall is ``stalled`` whatever the status says."""
    verdict = classify(report.client, report.status, report.message, report.details)
    if report.state == "stalled" and verdict.category is not Category.STALLED:
        policy = POLICIES[Category.STALLED]
        return Classification(
            Category.STALLED, policy.severity, policy.retry_same, policy.strategies, None
        )
    return verdict


def recover(
    settings: Settings,
    report: Report,
    schedule: Scheduler,
    *,
    clients: list[DownloadClient] | None = None,
    now: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """Handle one failure report or one due attempt; a summary of what was done."""
    transfer = (
        transfers.by_id(settings.database_url, report.transfer_id)
        if (report.transfer_id is not None)
        else None
    )
    if report.transfer_id is not None and transfer is None:
        return {"outcome": "ignored", "reason": f"no transfer {report.transfer_id}"}
    subject = (
        f"transfer:{report.transfer_id}" if transfer else f"job:{report.client}:{report.job_id}"
    )
    store = broker.shared(settings.broker_url)
    with lock.held(store, subject, settings.recovery.lock_seconds) as ours:
        if not ours:
            correlation = transfer.correlation_id if transfer else None
            schedule(report.kwargs(), DEFER_SECONDS, correlation)
            return {"outcome": "deferred", "reason": f"{subject} is being recovered"}
        if transfer is not None and transfer.state in transfers.FINAL:
            return {"outcome": "ignored", "reason": f"transfer {transfer.id} is {transfer.state}"}
        context = _context(settings, report, transfer, schedule, clients, now)
        if context is None:
            return {"outcome": "ignored", "reason": f"failure {report.failure_id} is closed"}
        return _run(context)


def _context(
    settings: Settings,
    report: Report,
    transfer: Transfer | None,
    schedule: Scheduler,
    clients: list[DownloadClient] | None,
    now: Callable[[], float],
) -> _Context | None:
    url = settings.database_url
    verdict = verdict_of(report)
    chosen = clients if clients is not None else configured_clients(settings)
    if report.failure_id is not None:
        failure = records.get(url, report.failure_id)
        if failure is None or failure.state in records.CLOSED:
            return None
        return _Context(settings, report, failure, verdict, transfer, schedule, chosen, now)
    if transfer is not None:
        _settle_previous(settings, transfer, report, verdict)
    correlation = transfer.correlation_id if transfer else _foreign_correlation(report)
    failure, created = records.open_failure(
        url,
        client=report.client,
        job_id=report.job_id,
        verdict=verdict,
        status=report.status,
        message=report.message,
        details=report.details,
        name=report.name or (transfer.shown if transfer else ""),
        transfer_id=transfer.id if transfer else None,
        task_id=transfer.task_id if transfer else None,
        monitored_id=report.monitored_id,
        correlation_id=correlation,
        foreign_job=transfer is None,
    )
    if created and report.monitored_id is not None:
        records.link_failure(url, report.monitored_id, failure.id, verdict.category.value)
    context = _Context(settings, report, failure, verdict, transfer, schedule, chosen, now)
    if created and transfer is None:  # the watch emitted it for Hauler's own transfers
        context.emit(
            "download.failed",
            category=verdict.category.value,
            severity=verdict.severity.value,
            retry_same=verdict.retry_same,
            message=report.message,
            status=report.status,
            transfer_id=failure.transfer_id,
            foreign=transfer is None,
        )
    elif failure.state == records.RECOVERING:
        return None  # the same failure reported again while its attempt is scheduled
    return context


def _foreign_correlation(report: Report) -> str:
    return f"job-{report.client}-{report.job_id}"[:64]


def _settle_previous(
    settings: Settings, transfer: Transfer, report: Report, verdict: Classification
) -> None:
    """A new failure of a download whose last attempt was out with the client: that
    attempt failed (``recovery.retry-failed``)."""
    url = settings.database_url
    attempt = records.open_attempt(url, transfer.id)
    if attempt is None:
        return
    records.end_attempt(url, attempt.id, "failed", error=report.message)
    previous = records.get(url, attempt.failure_id)
    if previous is not None:
        records.set_state(url, previous.id, records.RETRY_FAILED, next_attempt_at=None)
    emit_on(
        transfer.correlation_id,
        transfer.task_id,
        "recovery.retry-failed",
        client=report.client,
        job_id=report.job_id,
        strategy=attempt.strategy,
        attempt=attempt.number,
        category=verdict.category.value,
        message=report.message,
    )


def _run(context: _Context) -> dict[str, Any]:
    failure, verdict = context.failure, context.verdict
    if failure.foreign_job and context.settings.recovery.foreign != "recover":
        records.set_state(context.url, failure.id, records.REPORTED, strategy="report")
        return {"outcome": "reported", "category": verdict.category.value}
    if verdict.category is Category.DISK_FULL:
        return _disk_full(context)
    tried = {a.strategy for a in records.attempts_of(context.url, failure.id)}
    made = _made(context)
    limit = context.settings.recovery.max_attempts
    for strategy in verdict.strategies:
        if strategy is Strategy.REPORT:
            return _report_only(context)
        if strategy is Strategy.GIVE_UP:
            break
        if not _applicable(context, strategy, made, limit, tried):
            continue
        if strategy in (Strategy.RETRY, Strategy.MIRROR) and not context.report.due:
            return _schedule(context, strategy, made)
        result = _attempt(context, strategy, made + (strategy is not Strategy.ARR))
        if result is not None:
            return result
        made = records.attempts_made(
            context.url, failure.transfer_id, failure.id, failure.monitored_id
        )
        tried.add(strategy.value)
        context.report = replace(context.report, due=False)
    return _give_up(context, made, limit)


def _made(context: _Context) -> int:
    """Attempts counted so far against HAULER_RECOVERY_MAX_ATTEMPTS."""
    failure = context.failure
    return records.attempts_made(context.url, failure.transfer_id, failure.id, failure.monitored_id)


def _applicable(
    context: _Context, strategy: Strategy, made: int, limit: int, tried: set[str]
) -> bool:
    """Whether ``strategy`` can run now for this failure."""
    if strategy in (Strategy.RETRY, Strategy.MIRROR) and made >= limit:
        return False
    if context.report.due and context.failure.strategy not in (None, strategy.value):
        return False  # the due call runs the attempt that was scheduled
    if strategy is Strategy.RETRY:
        return _can_retry(context)
    if strategy is Strategy.MIRROR:
        return _next_mirror(context) is not None
    if strategy is Strategy.ARR:
        return strategy.value not in tried and bool(context.settings.recovery.arr)
    return False


def _can_retry(context: _Context) -> bool:
    client = _client(context, context.failure.client)
    if client is None:
        return False
    try:
        actions_for(client)
    except HaulerError:
        return False
    return True


def _next_mirror(context: _Context) -> str | None:
    transfer = context.transfer
    if transfer is None:
        return None
    mirrors = [str(m) for m in (transfer.details or {}).get("mirrors") or []]
    used = {a.job_id for a in records.attempts_of(context.url, context.failure.id)}
    used |= set((transfer.details or {}).get("mirrors_used") or [])
    for mirror in mirrors:
        if mirror != transfer.url and mirror not in used:
            return mirror
    return None


def _schedule(context: _Context, strategy: Strategy, made: int) -> dict[str, Any]:
    delay = attempt_delay(made, context.settings.recovery)
    due_at = datetime.fromtimestamp(context.now() + delay, UTC)
    records.set_state(
        context.url,
        context.failure.id,
        records.RECOVERING,
        strategy=strategy.value,
        next_attempt_at=due_at,
    )
    if context.transfer is not None:
        transfers.set_state(context.url, context.transfer.id, transfers.RECOVERING)
    kwargs = replace(context.report, failure_id=context.failure.id, due=True).kwargs()
    context.schedule(kwargs, delay, context.correlation)
    return {
        "outcome": "scheduled",
        "strategy": strategy.value,
        "attempt": made + 1,
        "countdown": round(delay, 3),
        "category": context.verdict.category.value,
    }


def _attempt(context: _Context, strategy: Strategy, number: int) -> dict[str, Any] | None:
    """Run one attempt now; its summary, or None when it failed (try the next strategy)."""
    failure = context.failure
    mirror = _next_mirror(context) if strategy is Strategy.MIRROR else None
    target = mirror if strategy is Strategy.MIRROR else failure.job_id
    attempt_id = records.start_attempt(
        context.url, failure, number, strategy.value, failure.client, target
    )
    context.emit(
        "recovery.retry-started",
        strategy=strategy.value,
        attempt=number,
        category=context.verdict.category.value,
    )
    try:
        new_job, client_name, note = _act(context, strategy, mirror)
    except HaulerError as exc:
        error = redact_text(str(exc))
        records.end_attempt(context.url, attempt_id, "failed", error=error)
        records.set_state(context.url, failure.id, records.RECOVERING, error=error)
        context.emit(
            "recovery.retry-failed",
            strategy=strategy.value,
            attempt=number,
            category=context.verdict.category.value,
            message=error,
        )
        return None
    if strategy is Strategy.ARR:
        records.end_attempt(context.url, attempt_id, "recovered", error=None)
        records.set_state(
            context.url, failure.id, records.RECOVERED, strategy="arr", next_attempt_at=None
        )
        context.emit("recovery.recovered", strategy="arr", attempt=number, note=note)
        if context.transfer is not None:
            give_up_transfer(
                context.settings,
                context.transfer,
                f"{failure.client} job {failure.job_id} failed ({failure.category}): "
                f"{failure.message or failure.status}; {note}",
                failure.category,
            )
        return {"outcome": "recovered", "strategy": "arr", "note": note}
    records.end_attempt(context.url, attempt_id, "handed", new_job_id=new_job)
    records.set_state(
        context.url, failure.id, records.RECOVERING, strategy=strategy.value, next_attempt_at=None
    )
    if context.transfer is not None:
        transfers.rebind(context.url, context.transfer.id, new_job, client=client_name)
    elif failure.monitored_id is not None:
        records.mark_retried(context.url, failure.monitored_id)
    return {
        "outcome": "retrying",
        "strategy": strategy.value,
        "attempt": number,
        "client": client_name,
        "job_id": new_job,
    }


def _act(context: _Context, strategy: Strategy, mirror: str | None) -> tuple[str, str, str]:
    """Do the attempt; (the client's job id now, the client, a note)."""
    failure = context.failure
    if strategy is Strategy.RETRY:
        client = _client(context, failure.client)
        if client is None:
            raise HaulerError(f"{failure.client} is not configured any more")
        source = context.transfer.url if context.transfer else None
        new = actions_for(client).retry(failure.job_id, category=failure.category, source=source)
        return new, failure.client, f"{failure.client} retried {failure.job_id} as {new}"
    if strategy is Strategy.MIRROR:
        from hauler.recovery.mirror import hand_mirror

        assert context.transfer is not None and mirror is not None
        job_id, client_name = hand_mirror(
            context.settings, context.transfer, mirror, context.clients
        )
        return job_id, client_name, f"mirror handed to {client_name}"
    for app in context.settings.recovery.arr:
        arr = ArrClient(app, context.settings.recovery.arr_timeout)
        record = arr.find(failure.job_id)
        if record is None:
            continue
        done = arr.fail(record)
        search = f", {done.command} queued" if done.command else ""
        return failure.job_id, failure.client, f"{done.app} blocklisted it{search}"
    raise HaulerError(f"no configured Sonarr/Radarr has {failure.client} job {failure.job_id}")


def _client(context: _Context, name: str) -> DownloadClient | None:
    return next((c for c in context.clients if c.name == name), None)


def _report_only(context: _Context) -> dict[str, Any]:
    failure = context.failure
    records.set_state(context.url, failure.id, records.REPORTED, strategy="report")
    if context.transfer is not None:
        give_up_transfer(
            context.settings,
            context.transfer,
            f"{failure.client} job {failure.job_id} {failure.category}: "
            f"{failure.message or failure.status}",
            failure.category,
        )
    return {"outcome": "reported", "category": failure.category}


def _give_up(context: _Context, made: int, limit: int) -> dict[str, Any]:
    failure, verdict = context.failure, context.verdict
    words = failure.message or failure.status or "no message"
    why = (
        f"{made} of {limit} attempts used"
        if verdict.retry_same and made >= limit
        else f"a {failure.category} failure is not retried"
        if not verdict.retry_same
        else "no strategy left"
    )
    message = f"{failure.client} job {failure.job_id} failed ({failure.category}): {words} [{why}]"
    records.set_state(
        context.url, failure.id, records.GAVE_UP, strategy="give-up", next_attempt_at=None
    )
    context.emit(
        "recovery.gave-up",
        strategy="give-up",
        category=failure.category,
        message=failure.message,
        status=failure.status,
        attempts=made,
        reason=why,
    )
    if context.transfer is not None:
        give_up_transfer(context.settings, context.transfer, message, failure.category)
    elif failure.monitored_id is not None:
        records.mark_dead(context.url, failure.monitored_id, failure.id)
    return {"outcome": "gave-up", "category": failure.category, "message": message}


def _disk_full(context: _Context) -> dict[str, Any]:
    """Pause the client (once, with ``client.disk-full``), re-check for room on a schedule,
    resume it (``client.resumed``) and retry the job — not counted as an attempt."""
    failure = context.failure
    client = _client(context, failure.client)
    store = broker.shared(context.settings.broker_url)
    if client is None:
        return _give_up(context, 0, context.settings.recovery.max_attempts)
    actions = actions_for(client)
    if client_pause.pause(store, client.name, "disk full", job_id=failure.job_id):
        actions.pause()
        context.emit("client.disk-full", message=failure.message, status=failure.status)
    free = actions.free_bytes() if context.report.due else None
    needed = context.settings.recovery.resume_free_bytes
    if free is None or free < needed:
        every = context.settings.recovery.disk_check_seconds
        due_at = datetime.now(UTC) + timedelta(seconds=every)
        records.set_state(
            context.url,
            failure.id,
            records.RECOVERING,
            strategy="pause-client",
            next_attempt_at=due_at,
        )
        if context.transfer is not None:
            transfers.set_state(context.url, context.transfer.id, transfers.RECOVERING)
        kwargs = replace(context.report, failure_id=failure.id, due=True).kwargs()
        context.schedule(kwargs, every, context.correlation)
        return {"outcome": "paused", "client": client.name, "free_bytes": free, "needed": needed}
    actions.resume()
    if client_pause.resume(store, client.name):
        context.emit("client.resumed", free_bytes=free)
    number = _made(context) + 1
    attempt_id = records.start_attempt(
        context.url, failure, number, "resume", client.name, failure.job_id
    )
    context.emit(
        "recovery.retry-started", strategy="resume", attempt=number, category=failure.category
    )
    try:
        source = context.transfer.url if context.transfer else None
        new = actions.retry(failure.job_id, category=failure.category, source=source)
    except HaulerError as exc:
        error = redact_text(str(exc))
        records.end_attempt(context.url, attempt_id, "failed", error=error)
        context.emit("recovery.retry-failed", strategy="resume", attempt=number, message=error)
        return _give_up(context, number, context.settings.recovery.max_attempts)
    records.end_attempt(context.url, attempt_id, "handed", new_job_id=new)
    records.set_state(
        context.url, failure.id, records.RECOVERING, strategy="resume", next_attempt_at=None
    )
    if context.transfer is not None:
        transfers.rebind(context.url, context.transfer.id, new, client=client.name)
    elif failure.monitored_id is not None:
        records.mark_retried(context.url, failure.monitored_id)
    return {"outcome": "retrying", "strategy": "resume", "client": client.name, "job_id": new}
