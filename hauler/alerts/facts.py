"""What the alert rules read besides the health document: activity rows, dead letters, queues.

Every function takes the clock (``now``) and returns :class:`Finding` s, one per
instance for which a rule's condition holds right now.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from hauler import broker
from hauler.queues import QUEUES
from hauler.recorder import heartbeat
from hauler.settings import Settings
from hauler.store.db import session_scope
from hauler.store.models import Activity, DeadLetter

#: Redis key: the recorder's dropped-rows count at the previous evaluation.
DROPPED_KEY = "hauler:alerts:recorder-dropped"
#: Health statuses, normalised (RFC draft health+json says pass / warn / fail).
_STATUS = {"pass": "pass", "ok": "pass", "up": "pass", "warn": "warn", "fail": "fail"}
_STATUS |= {"down": "fail", "error": "fail"}


@dataclass(frozen=True)
class Finding:
    """A condition that holds for one instance (a queue, a client, a database, …)."""

    instance: str
    value: Any = None
    unit: str = ""
    output: str = ""
    status: str = "fail"  # the health status behind it: warn | fail


@dataclass(frozen=True)
class Observation:
    """One entry of one check of the health document."""

    key: str  # component:measurement
    instance: str  # componentId, else the component (the key's part before ":")
    status: str
    value: Any
    unit: str
    output: str


def observations(document: Mapping[str, Any] | None) -> list[Observation]:
    """The checks of an ``application/health+json`` document, one entry each."""
    checks = (document or {}).get("checks") or {}
    out = []
    for key, entries in checks.items() if isinstance(checks, Mapping) else ():
        for entry in entries if isinstance(entries, list) else [entries]:
            if not isinstance(entry, Mapping):
                continue
            component = str(key).partition(":")[0]
            instance = entry.get("componentId") or component or str(key)
            out.append(
                Observation(
                    key=str(key),
                    instance=str(instance),
                    status=_STATUS.get(str(entry.get("status", "pass")).lower(), "warn"),
                    value=entry.get("observedValue"),
                    unit=str(entry.get("observedUnit") or ""),
                    output=str(entry.get("output") or ""),
                )
            )
    return out


def has_checks(document: Mapping[str, Any] | None, patterns: Iterable[str]) -> bool:
    """Whether the document has any check matching ``patterns``."""
    keys = [o.key for o in observations(document)]
    return any(fnmatch.fnmatchcase(k, p) for k in keys for p in patterns)


def from_checks(
    document: Mapping[str, Any] | None, patterns: Iterable[str], statuses: Iterable[str]
) -> list[Finding]:
    """Entries of checks matching ``patterns`` (globs on keys) with a status in ``statuses``."""
    wanted = set(statuses)
    found = []
    for obs in observations(document):
        if obs.status in wanted and any(fnmatch.fnmatchcase(obs.key, p) for p in patterns):
            found.append(Finding(obs.instance, obs.value, obs.unit, obs.output, obs.status))
    return found


def task_failures(settings: Settings, now: datetime, **_: Any) -> list[Finding]:
    """Tasks that failed within the failures window, when more than the threshold did."""
    config = settings.notify
    since = now - timedelta(seconds=config.failures_window)
    with session_scope(settings.database_url) as session:
        count = session.scalar(
            select(func.count(func.distinct(Activity.task_id))).where(
                Activity.occurred_at >= since,
                Activity.status.in_(("FAILURE", "DEAD_LETTERED")),
            )
        )
    count = int(count or 0)
    if count <= config.failures_threshold:
        return []
    window = f"{config.failures_window / 60:g} min"
    return [Finding("tasks", count, "tasks", f"{count} task failures in {window}")]


def dead_letters(settings: Settings, now: datetime, **_: Any) -> list[Finding]:
    """New dead letters within the failures window (the store is growing)."""
    since = now - timedelta(seconds=max(settings.notify.failures_window, 900.0))
    with session_scope(settings.database_url) as session:
        rows = session.execute(
            select(DeadLetter.task_name, func.count())
            .where(DeadLetter.first_failed_at >= since, DeadLetter.state == "dead")
            .group_by(DeadLetter.task_name)
        ).all()
    total = sum(int(n) for _, n in rows)
    if not total:
        return []
    names = ", ".join(f"{name} ×{n}" for name, n in sorted(rows))  # noqa: RUF001
    return [Finding("dead-letters", total, "letters", f"{total} new dead letters: {names}")]


def recent_events(
    settings: Settings,
    now: datetime,
    *,
    kind: str,
    cleared_by: str = "",
    instance_field: str = "",
    **_: Any,
) -> list[Finding]:
    """Events ``kind`` within the event window, per instance, unless a later ``cleared_by``."""
    since = now - timedelta(seconds=settings.notify.event_window)
    kinds = (kind, cleared_by) if cleared_by else (kind,)
    with session_scope(settings.database_url) as session:
        rows = session.execute(
            select(Activity.event_type, Activity.payload, Activity.correlation_id)
            .where(Activity.occurred_at >= since, Activity.event_type.in_(kinds))
            .order_by(Activity.occurred_at, Activity.id)
        ).all()
    latest: dict[str, tuple[str, dict[str, Any]]] = {}
    for event_type, payload, correlation in rows:
        payload = payload or {}
        instance = str(payload.get(instance_field) or correlation or "?")
        latest[instance] = (str(event_type), payload)
    found = []
    for instance, (event_type, payload) in sorted(latest.items()):
        if event_type == kind:
            detail = payload.get("error") or payload.get("message") or payload.get("category")
            found.append(Finding(instance, None, "", str(detail or kind)))
    return found


def queue_latency(
    settings: Settings, now: datetime, *, document: Mapping[str, Any] | None = None, **_: Any
) -> list[Finding]:
    """Queues whose oldest message has waited longer than the autoscaler's latency target."""
    readings: dict[str, float] = {}
    for obs in observations(document):
        if fnmatch.fnmatchcase(obs.key, "*:latency") and isinstance(obs.value, int | float):
            readings[obs.instance] = float(obs.value)
    if not readings:  # the document does not say: ask the broker
        client = broker.shared(settings.broker_url)
        readings = {q: broker.sample(client, q).latency for q in QUEUES}
    found = []
    for queue, latency in sorted(readings.items()):
        target = settings.autoscale.policy(queue).target_latency
        if latency > target:
            output = f"oldest message waited {latency:.0f}s (target {target:g}s)"
            found.append(Finding(queue, round(latency, 1), "s", output, "warn"))
    return found


def recorder_drops(
    settings: Settings, now: datetime, *, document: Mapping[str, Any] | None = None, **_: Any
) -> list[Finding]:
    """The recorder dropped rows since the previous evaluation (or the document says so)."""
    found = from_checks(document, ("recorder:*drop*",), ("warn", "fail"))
    client = broker.shared(settings.broker_url)
    beat = heartbeat.last(client) or {}
    dropped = beat.get("rows_dropped")
    if isinstance(dropped, int):
        previous = client.getset(DROPPED_KEY, dropped)
        before = int(previous) if previous is not None else dropped
        if dropped > before:
            found.append(
                Finding("recorder", dropped - before, "rows", f"{dropped - before} rows dropped")
            )
    return found[:1]


Fact = Callable[..., list[Finding]]

#: Facts by name, for the rules table.
FACTS: dict[str, Fact] = {
    "task_failures": task_failures,
    "dead_letters": dead_letters,
    "events": recent_events,
    "queue_latency": queue_latency,
    "recorder_drops": recorder_drops,
}
