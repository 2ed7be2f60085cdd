"""The alert engine at work: alerts in, flushes on time, rules evaluated from health.

One lock (Redis, ``hauler:alerts:lock``) serialises every change of alert state, so two
notify workers never flush one group twice or lose an alert between them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.exceptions import LockError

from hauler import broker
from hauler.alerts import engine, rules
from hauler.alerts.model import Alert
from hauler.errors import RetryableError
from hauler.notify import service as notify
from hauler.notify.delivery import Outcome, Pace
from hauler.notify.message import Message
from hauler.notify.settings import Receiver
from hauler.redact import redact_text
from hauler.settings import Settings
from hauler.store.db import session_scope

log = logging.getLogger(__name__)

LOCK_KEY = "hauler:alerts:lock"
LOCK_SECONDS = 120  # a holder that died frees the lock after this
LOCK_WAIT = 20.0  # longest a task waits for it (well within the notify queue's time limit)
#: Rule alerts waiting out their ``hold``: fingerprint → first seen (epoch seconds).
PENDING_KEY = "hauler:alerts:pending"
#: A group overdue by this much lost its timer message; the next evaluation flushes it.
LOST_TIMER = timedelta(seconds=60)


@contextmanager
def locked(settings: Settings) -> Iterator[None]:
    """Hold the alert-state lock; RetryableError when another holder keeps it too long."""
    client = broker.shared(settings.broker_url)
    lock = client.lock(LOCK_KEY, timeout=LOCK_SECONDS, blocking_timeout=LOCK_WAIT)
    if not lock.acquire():
        raise RetryableError(f"alert state is busy (lock {LOCK_KEY} held over {LOCK_WAIT:g}s)")
    try:
        yield
    finally:
        with suppress(LockError):
            lock.release()


def receive(
    settings: Settings, alerts: Iterable[Alert], now: datetime, later: notify.Later
) -> dict[str, Any]:
    """Take alerts in (from the rules or Alertmanager); schedule each touched group's flush."""
    alerts = list(alerts)
    with locked(settings), session_scope(settings.database_url) as session:
        touched = engine.ingest(session, alerts, now, settings.notify)
    for key, due in touched.items():
        later("notify.flush", {"group": key}, max(0.0, (due - now).total_seconds()))
    return {"alerts": len(alerts), "groups": sorted(touched)}


def flush(
    settings: Settings,
    key: str,
    now: datetime,
    later: notify.Later,
    *,
    pace: Pace | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Flush group ``key`` if due; schedule its next flush while it holds alerts."""
    pace = pace or notify.pace_for(settings)

    def deliver(receiver: Receiver, message: Message, ident: int) -> Outcome:
        return notify.attempt(settings, receiver, message, ident, 0, pace=pace, later=later)

    with locked(settings), session_scope(settings.database_url) as session:
        result = engine.flush(session, key, now, settings.notify, deliver, force=force)
    if result.next_flush_at is not None:
        wait = max(0.0, (result.next_flush_at - now).total_seconds())
        later("notify.flush", {"group": key}, wait)
    for muted in result.newly_inhibited:
        notify.suppressed("inhibited", alert=muted["alert"], by=muted["by"])
    held = [h for h in result.held if h["reason"] == "repeat"]
    notify.suppressed("repeat", len(held), group=key)
    return result.to_dict()


def evaluate(
    settings: Settings,
    document: Mapping[str, Any] | None,
    now: datetime | None = None,
    *,
    later: notify.Later | None = None,
) -> dict[str, Any]:
    """Evaluate every rule against ``document`` (health+json) and the activity log.

    Alerts whose condition holds are fired (once held long enough); rule alerts whose
    condition cleared are resolved. ``health.check`` calls this after each check.
    """
    now = now or datetime.now(UTC)
    later = later or notify.celery_later()
    found = rules.candidates(settings, document, now)
    firing, pending = _held(settings, found, now)
    with session_scope(settings.database_url) as session:
        known = {r.fingerprint: r for r in engine.firing_alerts(session, now, source="rules")}
        lost = [k for k, due in engine.due_groups(session, now - LOST_TIMER)]
    current = {a.fingerprint for a in firing}
    cleared = [
        Alert(
            labels=row.labels,
            annotations=row.annotations,
            starts_at=row.starts_at,
            ends_at=now,
            source="rules",
        )
        for fp, row in known.items()
        if fp not in current
    ]
    received = receive(settings, [*firing, *cleared], now, later)
    for key in lost:
        later("notify.flush", {"group": key}, 0.0)
    return {
        "at": now.isoformat(),
        "firing": sorted(a.labels["alertname"] + ":" + a.labels["instance"] for a in firing),
        "pending": sorted(pending),
        "resolved": sorted(a.labels["alertname"] + ":" + a.labels["instance"] for a in cleared),
        "groups": received["groups"],
    }


def _held(
    settings: Settings, found: list[tuple[rules.Rule, Alert]], now: datetime
) -> tuple[list[Alert], list[str]]:
    """The alerts that may fire now, and those still waiting out their rule's ``hold``."""
    client = broker.shared(settings.broker_url)
    raw: dict[bytes, bytes] = client.hgetall(PENDING_KEY)  # type: ignore[assignment]
    seen = {k.decode(): float(v) for k, v in raw.items()}
    firing, pending, keep = [], [], {}
    for rule, alert in found:
        hold = float(getattr(settings.notify, rule.hold)) if rule.hold else 0.0
        first = seen.get(alert.fingerprint, now.timestamp())
        keep[alert.fingerprint] = first
        if now.timestamp() - first >= hold:
            firing.append(alert)
        else:
            pending.append(f"{alert.labels['alertname']}:{alert.labels['instance']}")
    pipe = client.pipeline()
    pipe.delete(PENDING_KEY)
    if keep:
        pipe.hset(PENDING_KEY, mapping={k: repr(v) for k, v in keep.items()})
    pipe.execute()
    return firing, pending


def evaluate_quietly(
    settings: Settings, document: Mapping[str, Any] | None, now: datetime | None = None
) -> dict[str, Any]:
    """:func:`evaluate` for ``health.check``: a failure is logged and returned, never raised.

    A health check must still store and report its document when alerting cannot run
    (the broker it would schedule flushes on may be the component that is down).
    """
    try:
        return evaluate(settings, document, now)
    except Exception as exc:
        log.warning("alert rules not evaluated: %s", redact_text(str(exc))[:300])
        return {"error": f"{type(exc).__name__}: {redact_text(str(exc))[:300]}"}
