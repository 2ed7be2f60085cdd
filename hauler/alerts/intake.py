"""Alertmanager's webhook (``POST /api/v1/alerts``, format version 4) into Hauler's receivers.

Prometheus' alerts then reach the same receivers as Hauler's own, grouped the same way:
each Alertmanager group (``groupKey``) is a Hauler group of its own, and its alerts,
already older than ``group_wait``, flush at once. The intake needs the token
``HAULER_NOTIFY_INTAKE_TOKEN`` as ``Authorization: Bearer <token>`` (Alertmanager's
``http_config.authorization.credentials``) or as the password of basic auth; without
it, or when no token is set, it answers 401.
"""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from hauler.alerts import service
from hauler.alerts.model import Alert
from hauler.notify.service import Later
from hauler.settings import Settings

PATH = "/api/v1/alerts"
#: Largest request body taken, in bytes.
MAX_BODY = 1 << 20
_ZERO_TIME = "0001-01-01T00:00:00Z"


class IntakeError(ValueError):
    """Raised when a webhook body is not Alertmanager's format; the message says why."""


def authorized(settings: Settings, headers: Mapping[str, str]) -> bool:
    """Whether the request carries the intake token (never true when none is set)."""
    token = settings.notify.intake_token
    if not token:
        return False
    given = headers.get("Authorization") or headers.get("authorization") or ""
    scheme, _, credentials = given.partition(" ")
    if scheme.lower() == "bearer":
        return hmac.compare_digest(credentials.strip().encode(), token.encode())
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except ValueError:
            return False
        return hmac.compare_digest(decoded.partition(":")[2].encode(), token.encode())
    return False


def _time(value: Any, field: str) -> datetime | None:
    if value in (None, "", _ZERO_TIME):
        return None
    if not isinstance(value, str):
        raise IntakeError(f"{field} must be an RFC 3339 time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise IntakeError(f"{field} {value[:40]!r} is not an RFC 3339 time") from None
    if moment.year <= 1:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _strings(value: Any, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise IntakeError(f"{field} must be an object of strings")
    return {k: str(v)[:2000] for k, v in value.items()}


def parse(body: bytes, now: datetime) -> list[Alert]:
    """The alerts of one webhook message.

    Raises:
        IntakeError: the body is not JSON, not version 4, or an alert is malformed.
    """
    try:
        data = json.loads(body)
    except ValueError:
        raise IntakeError("the body is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("alerts"), list):
        raise IntakeError("expected Alertmanager's webhook message: an object with 'alerts'")
    if str(data.get("version", "4")) != "4":
        raise IntakeError(f"version {data.get('version')!r} is not supported (only 4)")
    group = str(data.get("groupKey") or "")[:200]
    alerts = []
    for n, item in enumerate(data["alerts"]):
        if not isinstance(item, dict):
            raise IntakeError(f"alerts[{n}] is not an object")
        labels = _strings(item.get("labels"), f"alerts[{n}].labels")
        if not labels:
            raise IntakeError(f"alerts[{n}].labels is empty")
        ends = _time(item.get("endsAt"), f"alerts[{n}].endsAt")
        if item.get("status") == "resolved" and (ends is None or ends > now):
            ends = now
        if item.get("status") == "firing" and ends is not None and ends <= now:
            ends = None  # Alertmanager sets a future endsAt on firing alerts; past is stale
        alerts.append(
            Alert(
                labels=labels,
                annotations=_strings(item.get("annotations"), f"alerts[{n}].annotations"),
                starts_at=_time(item.get("startsAt"), f"alerts[{n}].startsAt") or now,
                ends_at=ends if item.get("status") == "resolved" else None,
                source="alertmanager",
                group_key=f"alertmanager:{group}" if group else None,
            )
        )
    return alerts


def handle(
    settings: Settings,
    body: bytes,
    headers: Mapping[str, str],
    later: Later,
    now: datetime | None = None,
) -> tuple[int, dict[str, Any]]:
    """Answer one intake request: (HTTP status, JSON body)."""
    if not authorized(settings, headers):
        return 401, {"status": "error", "error": "credentials required"}
    now = now or datetime.now(UTC)
    try:
        alerts = parse(body, now)
    except IntakeError as exc:
        return 400, {"status": "error", "error": str(exc)}
    received = service.receive(settings, alerts, now, later)
    return 200, {"status": "success", **received}
