"""Sending a message to the receivers that take it, logging each, retrying on a schedule.

:func:`attempt` posts once and, when the receiver asks to wait (429, a busy 5xx), has
``notify.deliver`` run again after the wait through a :class:`Later` (a countdown, so
no worker sleeps through it). Every message is a row of the notification log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from hauler import activity, broker
from hauler.errors import InvalidArgument
from hauler.notify import delivery, formats
from hauler.notify.delivery import Outcome, Pace
from hauler.notify.message import Message
from hauler.notify.settings import Receiver
from hauler.redact import redact, redact_text, register_secret
from hauler.settings import Settings
from hauler.store.alerts_models import Notification
from hauler.store.db import session_scope

#: The shortest wait before a deferred delivery runs again (the log row must be written).
MIN_COUNTDOWN = 0.5


class Later(Protocol):
    """Runs a task by name after ``countdown`` seconds (``Celery.send_task`` fits)."""

    def __call__(self, task: str, kwargs: dict[str, Any], countdown: float) -> None: ...


def celery_later() -> Later:
    """A :class:`Later` that publishes through Hauler's Celery app, to the notify queue."""
    from workers.app import app

    def later(task: str, kwargs: dict[str, Any], countdown: float) -> None:
        app.send_task(task, kwargs=kwargs, countdown=max(0.0, countdown), queue="notify")

    return later


def protect(settings: Settings) -> None:
    """Register the webhook URLs and the intake token as secrets (masked in every output)."""
    register_secret(*settings.notify.secrets())


def pace_for(settings: Settings) -> Pace:
    return Pace(broker.shared(settings.broker_url))


def targets(settings: Settings, message: Message, name: str | None = None) -> list[Receiver]:
    """The receivers ``message`` goes to: the named one, else those that take it.

    Raises:
        InvalidArgument: ``name`` is no configured receiver.
    """
    if name is not None:
        receiver = settings.notify.receiver(name)
        if receiver is None:
            known = ", ".join(r.name for r in settings.notify.receivers) or "none configured"
            raise InvalidArgument("receiver", f"no receiver {name!r} (known: {known})")
        return [receiver]
    if message.kind == "maintenance":
        return [r for r in settings.notify.receivers if r.maintenance]
    return [r for r in settings.notify.receivers if r.takes(message.severity)]


def attempt(
    settings: Settings,
    receiver: Receiver,
    message: Message,
    notification_id: int,
    attempt_no: int,
    *,
    pace: Pace,
    later: Later,
) -> Outcome:
    """Post ``message`` to ``receiver`` once; schedule the next try if it must wait."""
    protect(settings)
    # what checks and clients said may hold a URL with a password: masked before it leaves
    shown = replace(message, title=redact_text(message.title), text=redact_text(message.text))
    body = redact(formats.render(receiver.kind, shown, receiver.name))
    config = settings.notify
    outcome = delivery.post(
        receiver, body, pace=pace, timeout=config.timeout, longest_wait=config.longest_wait
    )
    if outcome.status == "deferred":
        if attempt_no + 1 >= config.max_attempts:
            return Outcome(
                "failed",
                outcome.http_status,
                detail=f"{outcome.detail}; gave up after {attempt_no + 1} attempts",
            )
        later(
            "notify.deliver",
            {
                "receiver": receiver.name,
                "message": message.to_dict(),
                "notification": notification_id,
                "attempt": attempt_no + 1,
            },
            max(MIN_COUNTDOWN, outcome.retry_in or 0.0),
        )
    announce(receiver, message, outcome)
    return outcome


def announce(receiver: Receiver, message: Message, outcome: Outcome) -> None:
    """The activity events (and so the recorder's metrics) of one delivery."""
    if outcome.status == "sent":
        fields = {
            "receiver": receiver.name,
            "severity": message.severity,
            "message_kind": message.kind,
            "status": message.status,
            "title": message.title[:200],
            "group": message.group_key,
        }
        activity.emit("alert.sent", **fields)
        if message.status == "resolved":
            activity.emit("alert.resolved", **fields)
    elif outcome.status == "failed":
        activity.emit(
            "alert.failed",
            receiver=receiver.name,
            message_kind=message.kind,
            detail=outcome.detail,
        )


def record(settings: Settings, notification_id: int, outcome: Outcome) -> None:
    """Write a delivery's outcome on its row of the notification log."""
    with session_scope(settings.database_url) as session:
        row = session.get(Notification, notification_id)
        if row is not None:
            row.outcome = outcome.status
            row.detail = outcome.detail


def send(
    settings: Settings,
    message: Message,
    *,
    receiver: str | None = None,
    later: Later,
    pace: Pace | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Send a plain message (not an alert group) to its receivers; one log row each."""
    pace = pace or pace_for(settings)
    chosen = targets(settings, message, receiver)
    out: dict[str, Any] = {}
    for target in chosen:
        ident = _log(settings, target, message, now or datetime.now(UTC))
        outcome = attempt(settings, target, message, ident, 0, pace=pace, later=later)
        record(settings, ident, outcome)
        out[target.name] = outcome.to_dict()
    return {"title": message.title, "kind": message.kind, "receivers": out}


def _log(settings: Settings, receiver: Receiver, message: Message, now: datetime) -> int:
    with session_scope(settings.database_url) as session:
        row = Notification(
            at=now,
            receiver=receiver.name,
            group_key=message.group_key or None,
            kind=message.kind,
            status=message.status,
            severity=message.severity,
            reason=message.kind,
            title=message.title[:300],
            firing=[],
            resolved=[],
            outcome="pending",
            detail="",
        )
        session.add(row)
        session.flush()
        return int(row.id)


def suppressed(reason: str, count: int = 1, **fields: Any) -> None:
    """Note alerts held back (inhibited, not repeated yet) as an ``alert.suppressed`` event."""
    if count > 0:
        activity.emit("alert.suppressed", reason=reason, count=count, **fields)


def names(receivers: Iterable[Receiver]) -> list[str]:
    return [r.name for r in receivers]
