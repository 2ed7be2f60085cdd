"""Run the health checks into one document; store it; say what it found.

:func:`health_document` is the plain function everything shares: ``hauler health``, the
``health.check`` task, the recorder's ``/health`` and the alert rules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from hauler.deployment import deployment_id
from hauler.health import clients, disk, fleet, history, infra
from hauler.health.context import ProbeContext
from hauler.health.document import Observation, Status, build, entries, failing
from hauler.settings import Settings, get_settings
from hauler.store.db import session_scope
from hauler.store.health_models import HealthReport

log = logging.getLogger(__name__)

Probe = Callable[[ProbeContext], list[Observation]]

#: Component → its probe, in the order the document lists them.
PROBES: dict[str, Probe] = {
    "broker": infra.broker,
    "database": infra.database,
    "workers": fleet.workers,
    "beat": fleet.beat,
    "recorder": fleet.recorder,
    "autoscaler": fleet.autoscaler,
    "disk": disk.disk,
    "downloadClient": clients.download_clients,
    "backup": history.backup,
    "deadLetters": history.dead_letters,
}


def observe(
    settings: Settings, components: Iterable[str] | None = None, *, now: float | None = None
) -> list[Observation]:
    """Run the probes of ``components`` (default: all not skipped); a probe never raises."""
    ctx = ProbeContext(settings) if now is None else ProbeContext(settings, now=now)
    wanted = set(components) if components is not None else set(PROBES)
    found: list[Observation] = []
    for name, probe in PROBES.items():
        if name not in wanted or name in settings.health.skip:
            continue
        try:
            found.extend(probe(ctx))
        except Exception as exc:  # a broken probe is a failed check, not a crashed report
            log.warning("health probe %s failed: %s", name, exc, exc_info=True)
            output = f"probe error: {type(exc).__name__}: {exc}"
            found.append(Observation(f"{name}:probe", Status.FAIL, None, "", output))
    return found


def health_document(
    settings: Settings | None = None,
    components: Iterable[str] | None = None,
    *,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``application/health+json`` document of this deployment, checked now."""
    settings = settings or get_settings()
    return build(observe(settings, components), service_id=deployment_id(settings), extra=extra)


def summary(document: Mapping[str, Any]) -> dict[str, Any]:
    """What ``health.checked`` carries: status, failing and warning targets, and the values
    the recorder exports (check statuses, disk free ratios, clients up)."""
    from hauler.health.document import check_statuses

    disk_free = {
        str(e["componentId"]): e["observedValue"]
        for k, e in entries(document)
        if k == "disk:freeRatio" and isinstance(e.get("observedValue"), int | float)
    }
    clients_up = {
        str(e["componentId"]): bool(e.get("observedValue"))
        for k, e in entries(document)
        if k == clients.KEY
    }
    return {
        "status": document["status"],
        "failing": failing(document),
        "warning": [t for t in failing(document, Status.WARN) if t not in failing(document)],
        "checks": check_statuses(document),
        "disk_free": disk_free,
        "clients_up": clients_up,
    }


def store(url: str, document: Mapping[str, Any], at: datetime | None = None) -> int:
    """Keep ``document`` as a ``health_reports`` row; return its id."""
    brief = summary(document)
    row = HealthReport(
        checked_at=at or datetime.now(UTC),
        status=str(document["status"]),
        failing=brief["failing"],
        warning=brief["warning"],
        document=dict(document),
    )
    with session_scope(url) as session:
        session.add(row)
        session.flush()
        return int(row.id)


def latest(url: str, limit: int = 1) -> list[HealthReport]:
    """The newest stored reports, newest first."""
    with session_scope(url) as session:
        query = select(HealthReport).order_by(HealthReport.checked_at.desc()).limit(limit)
        return list(session.scalars(query))


def observe_target(settings: Settings, target: str) -> Observation | None:
    """The worst observation of one target (``component`` or ``component/id``) now."""
    component, _, ident = target.partition("/")
    seen = [o for o in observe(settings, [component]) if not ident or o.component_id == ident]
    return max(seen, key=lambda o: o.status, default=None)
