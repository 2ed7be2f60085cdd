"""Alertmanager's aggregation groups and notification log, on Hauler's tables, time injected.

The model (prometheus/alertmanager dispatch/dispatch.go ``aggrGroup`` and
notify/dedup_stage.go ``needsUpdate``):

- An alert joins the group of its key. A new group flushes ``group_wait`` after its
  creation (at once if the alert is already older than that, as for alerts relayed
  from Alertmanager), then every ``group_interval`` while it holds alerts.
- At a flush each receiver gets the group's alerts of the severities it takes, unless
  nothing changed since its last notification: a new firing alert sends, a newly
  resolved one sends (``send_resolved``), all resolved sends the resolved message, and an
  unchanged firing group is sent again only after ``repeat_interval``.
- Resolved alerts that were notified leave the group; an empty group is deleted.
- Muted (inhibited) alerts are left out of the notification and counted once.

Flushes are driven by whoever holds the clock: the ``notify.flush`` task at the due time
(``next_flush_at``), or a test calling :func:`flush` with its own ``now``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from hauler.alerts import inhibit
from hauler.alerts.model import Alert, severity_rank
from hauler.notify.delivery import Outcome
from hauler.notify.message import Message
from hauler.notify.settings import NotifySettings, Receiver
from hauler.redact import redact
from hauler.store.alerts_models import AlertGroup, AlertState, Notification

#: A flush this early is still taken as due (timers and clocks differ a little).
DUE_SLACK = timedelta(seconds=1)
#: Outcomes that count as "the receiver was told" for the notification log.
TOLD = ("sent", "deferred")

Deliver = Callable[[Receiver, Message, int], Outcome]  # receiver, message, notification id


@dataclass
class FlushResult:
    """What one flush did."""

    group_key: str
    due: bool = True
    sent: list[dict[str, Any]] = field(default_factory=list)  # receiver, reason, outcome
    held: list[dict[str, Any]] = field(default_factory=list)  # receiver, reason (not sent)
    newly_inhibited: list[dict[str, str]] = field(default_factory=list)
    next_flush_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "group_key": self.group_key,
            "due": self.due,
            "sent": self.sent,
            "held": self.held,
            "inhibited": self.newly_inhibited,
            "next_flush_at": self.next_flush_at.isoformat() if self.next_flush_at else None,
        }


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_firing(row: AlertState, now: datetime) -> bool:
    ends = _aware(row.ends_at)
    return ends is None or ends > now


def ingest(
    session: Session, alerts: Iterable[Alert], now: datetime, settings: NotifySettings
) -> dict[str, datetime]:
    """Put ``alerts`` in their groups; return each touched group's next flush time."""
    touched: dict[str, datetime] = {}
    wait = timedelta(seconds=settings.group_wait)
    for alert in alerts:
        key = alert.group()
        starts = _aware(alert.starts_at) or now
        row = session.get(AlertState, alert.fingerprint)
        if row is None and alert.resolved(now):
            continue  # resolved before anyone heard of it: nothing to tell
        group = session.get(AlertGroup, key)
        if group is None:
            group = AlertGroup(
                key=key,
                labels={k: alert.labels.get(k, "") for k in ("alertname",)},
                created_at=now,
                next_flush_at=now + wait,
                has_flushed=False,
            )
            session.add(group)
        if row is None:
            row = AlertState(fingerprint=alert.fingerprint, starts_at=starts, inhibited=False)
            session.add(row)
        elif not is_firing(row, now) and not alert.resolved(now):
            row.starts_at = starts  # it fires again: a new episode
        row.group_key = key
        row.name = alert.name
        row.severity = alert.severity
        row.source = alert.source
        row.labels = redact(dict(alert.labels))
        row.annotations = redact(dict(alert.annotations))  # a check's output may hold a URL
        row.ends_at = alert.ends_at if alert.resolved(now) else None
        row.updated_at = now
        if not group.has_flushed and starts + wait <= now:
            group.next_flush_at = now  # old enough already: flush at once
        touched[key] = _aware(group.next_flush_at) or now
    session.flush()
    return touched


def firing_alerts(session: Session, now: datetime, source: str | None = None) -> list[AlertState]:
    """Every firing alert (of ``source``, when given)."""
    query = select(AlertState).where(or_(AlertState.ends_at.is_(None), AlertState.ends_at > now))
    if source:
        query = query.where(AlertState.source == source)
    return list(session.scalars(query))


def needs_update(
    last: Notification | None,
    firing: set[str],
    resolved: set[str],
    repeat: timedelta,
    now: datetime,
    send_resolved: bool,
) -> str | None:
    """Why a receiver must be told about the group now, or None (Alertmanager's DedupStage)."""
    if last is None:
        return "first" if firing else None
    told_firing = set(last.firing or ())
    if not firing <= told_firing:
        return "first" if not told_firing else "new-alerts"
    if not firing:
        return "resolved" if told_firing else None
    if send_resolved and not resolved <= set(last.resolved or ()):
        return "new-resolved"
    if (_aware(last.at) or now) <= now - repeat:
        return "repeat"
    return None


def last_told(session: Session, group_key: str, receiver: str) -> Notification | None:
    """The newest notification of ``group_key`` that reached (or is on its way to) ``receiver``."""
    query = (
        select(Notification)
        .where(
            Notification.group_key == group_key,
            Notification.receiver == receiver,
            Notification.outcome.in_((*TOLD, "cleared")),
        )
        .order_by(Notification.at.desc(), Notification.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def flush(
    session: Session,
    key: str,
    now: datetime,
    settings: NotifySettings,
    deliver: Deliver,
    *,
    force: bool = False,
) -> FlushResult:
    """Notify the receivers about group ``key`` if it is due (or ``force``)."""
    result = FlushResult(key)
    group = session.get(AlertGroup, key)
    due_at = _aware(group.next_flush_at) if group else None
    if group is None or (not force and due_at is not None and due_at > now + DUE_SLACK):
        result.due = False
        result.next_flush_at = due_at
        return result
    rows = list(session.scalars(select(AlertState).where(AlertState.group_key == key)))
    result.newly_inhibited = _inhibit(session, rows, now)
    visible = [r for r in rows if not (is_firing(r, now) and r.inhibited)]
    all_told = True
    for receiver in settings.receivers:
        told = _flush_to(session, key, visible, receiver, now, settings, deliver, result)
        all_told = all_told and told
    if all_told:
        for row in rows:
            if not is_firing(row, now):
                session.delete(row)
    remaining = [r for r in rows if is_firing(r, now) or not all_told]
    if remaining:
        group.next_flush_at = now + timedelta(seconds=settings.group_interval)
        group.has_flushed = True
        result.next_flush_at = group.next_flush_at
    else:
        session.delete(group)
    session.flush()
    return result


def _inhibit(session: Session, rows: Sequence[AlertState], now: datetime) -> list[dict[str, str]]:
    """Mark the group's alerts muted or not; return those muted from now on."""
    firing = [r.labels for r in firing_alerts(session, now)]
    newly = []
    for row in rows:
        rule = inhibit.inhibited_by(row.labels, firing) if is_firing(row, now) else None
        if rule and not row.inhibited:
            newly.append({"alert": row.name, "fingerprint": row.fingerprint, "by": rule})
        row.inhibited = rule is not None
    return newly


def _flush_to(
    session: Session,
    key: str,
    rows: Sequence[AlertState],
    receiver: Receiver,
    now: datetime,
    settings: NotifySettings,
    deliver: Deliver,
    result: FlushResult,
) -> bool:
    mine = [r for r in rows if receiver.takes(r.severity)]
    firing = {r.fingerprint for r in mine if is_firing(r, now)}
    resolved = {r.fingerprint for r in mine if not is_firing(r, now)}
    last = last_told(session, key, receiver.name)
    repeat = timedelta(seconds=settings.repeat_interval)
    reason = needs_update(last, firing, resolved, repeat, now, receiver.send_resolved)
    if reason is None:
        if firing:
            result.held.append({"receiver": receiver.name, "reason": "repeat"})
        return True
    message = group_message(key, mine, now, reason, receiver.send_resolved)
    row = Notification(
        at=now,
        receiver=receiver.name,
        group_key=key,
        kind="alert",
        status=message.status,
        severity=message.severity,
        reason=reason,
        title=message.title[:300],
        firing=sorted(firing),
        resolved=sorted(resolved),
        outcome="pending",
        detail="",
    )
    session.add(row)
    session.flush()
    if reason == "resolved" and not receiver.send_resolved:
        outcome = Outcome("cleared", detail="resolved; this receiver does not take resolutions")
    else:
        outcome = deliver(receiver, message, row.id)
    row.outcome = outcome.status
    row.detail = outcome.detail
    session.flush()
    result.sent.append(
        {
            "receiver": receiver.name,
            "reason": reason,
            "severity": message.severity,
            "status": message.status,
            **outcome.to_dict(),
        }
    )
    return outcome.status in (*TOLD, "cleared")


def group_message(
    key: str, rows: Sequence[AlertState], now: datetime, reason: str, send_resolved: bool
) -> Message:
    """The readable message of a group's alerts (firing first, then resolved)."""
    firing = [r for r in rows if is_firing(r, now)]
    resolved = [r for r in rows if not is_firing(r, now)] if send_resolved else []
    shown = firing or resolved
    severity = max((r.severity for r in shown), key=severity_rank, default="warning")
    names = sorted({r.name for r in rows})
    name = names[0] if len(names) == 1 else key
    if firing:
        status = "firing"
        title = f"[{severity.upper()}] {name}: {len(firing)} firing"
        if resolved:
            title += f", {len(resolved)} resolved"
    else:
        status = "resolved"
        title = f"[RESOLVED] {name}"
    lines = [f"• {_summary(r)} (since {_hhmm(r.starts_at)})" for r in firing]
    lines += [f"✓ resolved: {_summary(r)} (at {_hhmm(r.ends_at)})" for r in resolved]
    return Message(
        title=title,
        text="\n".join(lines),
        severity=severity,
        status=status,
        kind="alert",
        group_key=key,
        alerts=tuple(_alert_json(r, now) for r in (*firing, *resolved)),
        extra={"reason": reason},
    )


def _summary(row: AlertState) -> str:
    summary = row.annotations.get("summary") or row.annotations.get("description") or row.name
    instance = row.labels.get("instance")
    return f"{summary} [{instance}]" if instance and instance not in summary else str(summary)


def _hhmm(moment: datetime | None) -> str:
    aware = _aware(moment)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if aware else "?"


def _alert_json(row: AlertState, now: datetime) -> dict[str, Any]:
    firing = is_firing(row, now)
    ends = _aware(row.ends_at)
    return {
        "status": "firing" if firing else "resolved",
        "labels": dict(row.labels),
        "annotations": dict(row.annotations),
        "startsAt": (_aware(row.starts_at) or now).isoformat(),
        "endsAt": ends.isoformat() if ends and not firing else "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": row.fingerprint,
    }


def due_groups(session: Session, now: datetime) -> list[tuple[str, datetime]]:
    """Groups whose flush time has come (a timer may have been lost), oldest first."""
    query = (
        select(AlertGroup.key, AlertGroup.next_flush_at)
        .where(AlertGroup.next_flush_at <= now)
        .order_by(AlertGroup.next_flush_at)
    )
    return [(k, _aware(t) or now) for k, t in session.execute(query)]


def forget_group(session: Session, key: str) -> None:
    """Drop a group and its alerts (for tests and `hauler notify` housekeeping)."""
    session.execute(delete(AlertState).where(AlertState.group_key == key))
    session.execute(delete(AlertGroup).where(AlertGroup.key == key))
