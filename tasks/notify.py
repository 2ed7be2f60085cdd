"""Tasks of the ``notify`` queue: messages and alerts to the configured receivers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hauler.alerts import intake, service
from hauler.errors import InvalidArgument
from hauler.notify import service as notify
from hauler.notify.message import Message
from hauler.notify.settings import SEVERITIES
from hauler.settings import get_settings
from tasks._ping import queue_ping
from workers.base import hauler_task

ping = queue_ping("notify")

#: Longest text ``notify.send`` takes (receivers cut it further to their own limits).
MAX_TEXT = 100_000


def _text(name: str, value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(name, f"must be text, got {type(value).__name__}")
    if len(value) > limit:
        raise InvalidArgument(name, f"must be at most {limit} characters")
    return value


@hauler_task("notify.send")
def send(
    text: str,
    title: str = "",
    severity: str = "info",
    receiver: str | None = None,
    kind: str = "message",
) -> dict[str, Any]:
    """Send a message to every receiver taking ``severity`` (or to ``receiver`` only)."""
    if severity not in SEVERITIES:
        raise InvalidArgument("severity", f"must be one of {', '.join(SEVERITIES)}")
    if kind not in ("message", "maintenance", "report", "test"):
        raise InvalidArgument("kind", "must be message, maintenance, report or test")
    if receiver is not None:
        _text("receiver", receiver, 64)
    message = Message(
        title=_text("title", title, 300) or _text("text", text, MAX_TEXT)[:80],
        text=_text("text", text, MAX_TEXT),
        severity=severity,
        kind=kind,
    )
    return notify.send(get_settings(), message, receiver=receiver, later=notify.celery_later())


@hauler_task("notify.deliver")
def deliver(
    receiver: str, message: dict[str, Any], notification: int, attempt: int
) -> dict[str, Any]:
    """Try a deferred delivery again (scheduled after a 429 or a busy receiver)."""
    settings = get_settings()
    target = settings.notify.receiver(_text("receiver", receiver, 64))
    if target is None:
        raise InvalidArgument("receiver", f"no receiver {receiver!r} is configured any more")
    if not isinstance(message, dict) or not isinstance(attempt, int):
        raise InvalidArgument("message", "must be a message object and attempt a number")
    parsed = Message.from_dict(message)
    outcome = notify.attempt(
        settings,
        target,
        parsed,
        notification,
        attempt,
        pace=notify.pace_for(settings),
        later=notify.celery_later(),
    )
    notify.record(settings, notification, outcome)
    return {"receiver": target.name, "attempt": attempt, **outcome.to_dict()}


@hauler_task("notify.alerts")
def alerts(message: dict[str, Any]) -> dict[str, Any]:
    """Take alerts in Alertmanager's webhook format (version 4) into Hauler's groups."""
    import json

    try:
        parsed = intake.parse(json.dumps(message).encode(), datetime.now(UTC))
    except intake.IntakeError as exc:
        raise InvalidArgument("message", str(exc)) from None
    return service.receive(get_settings(), parsed, datetime.now(UTC), notify.celery_later())


@hauler_task("notify.flush")
def flush(group: str) -> dict[str, Any]:
    """Flush alert group ``group`` when its time has come (the group's timer)."""
    _text("group", group, 255)
    settings = get_settings()
    return service.flush(settings, group, datetime.now(UTC), notify.celery_later())


@hauler_task("notify.evaluate")
def evaluate(document: dict[str, Any] | None = None) -> dict[str, Any]:
    """Evaluate the alert rules against a health document (and the activity log)."""
    if document is not None and not isinstance(document, dict):
        raise InvalidArgument("document", "must be an application/health+json object")
    return service.evaluate(get_settings(), document, datetime.now(UTC))
