"""Maintenance announcements: "stopping for maintenance" on SIGTERM, "back" on the next start.

``hauler up`` calls :func:`going_down` when it is asked to stop, before it warm-stops
its children, and :func:`back` once it has started them again. Only receivers with
``HAULER_NOTIFY_<NAME>_MAINTENANCE=true`` get these. The moment of the stop is kept in
Redis (``hauler:maintenance:down:<deployment>``) so the "back" message can say how long
the deployment was away; each announcement is an activity row (``maintenance.announced``).
"""

from __future__ import annotations

import json
import logging
import socket
from datetime import UTC, datetime
from typing import Any

from hauler import broker
from hauler.deployment import deployment_id
from hauler.notify import service
from hauler.notify.message import Message
from hauler.settings import Settings
from hauler.store.db import session_scope
from hauler.store.models import Activity

log = logging.getLogger(__name__)

DOWN_KEY = "hauler:maintenance:down:{deployment}"
#: How long the stop is remembered: a deployment away longer gets a plain "started".
DOWN_TTL = 30 * 86400


def _key(settings: Settings) -> str:
    return DOWN_KEY.format(deployment=deployment_id(settings))


def going_down(settings: Settings, *, reason: str = "asked to stop (SIGTERM)") -> dict[str, Any]:
    """Tell the maintenance receivers Hauler is stopping; remember when."""
    now = datetime.now(UTC)
    host = socket.gethostname()
    message = Message(
        title="Hauler is stopping for maintenance",
        text=(
            f"`hauler up` on {host}: {reason}, at {now:%Y-%m-%d %H:%M:%S} UTC. "
            "Running tasks finish first (warm shutdown); queued work waits in the broker "
            "until Hauler is back."
        ),
        severity="warning",
        kind="maintenance",
    )
    broker.shared(settings.broker_url).set(
        _key(settings), json.dumps({"at": now.timestamp(), "host": host}), ex=DOWN_TTL
    )
    return _announce(settings, message, "down", now)


def back(settings: Settings) -> dict[str, Any] | None:
    """Tell the maintenance receivers Hauler is back, if it stopped for maintenance."""
    client = broker.shared(settings.broker_url)
    raw = client.get(_key(settings))
    if raw is None:
        return None
    client.delete(_key(settings))
    now = datetime.now(UTC)
    try:
        away = now.timestamp() - float(json.loads(raw)["at"])
    except (ValueError, KeyError, TypeError):
        away = 0.0
    message = Message(
        title="Hauler is back",
        text=f"`hauler up` on {socket.gethostname()} is running again after "
        f"{_duration(away)} of maintenance; queued work is being picked up.",
        severity="info",
        kind="maintenance",
    )
    return _announce(settings, message, "back", now)


def _announce(settings: Settings, message: Message, state: str, now: datetime) -> dict[str, Any]:
    result = service.send(settings, message, later=service.celery_later(), now=now)
    try:
        with session_scope(settings.database_url) as session:
            session.add(
                Activity(
                    occurred_at=now,
                    recorded_at=now,
                    event_type="maintenance.announced",
                    payload={"state": state, "receivers": result["receivers"]},
                )
            )
    except Exception as exc:  # the announcement went out; its row is a nicety
        log.warning("maintenance announcement not recorded: %s", exc)
    return result


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
