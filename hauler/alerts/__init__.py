"""Alerts: rules over the health document and the activity log, grouped Alertmanager's way.

``evaluate(settings, document, now)`` is what ``health.check`` calls after each check.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hauler.settings import Settings


def evaluate(
    settings: Settings, document: Mapping[str, Any] | None, now: datetime | None = None
) -> dict[str, Any]:
    """Evaluate the alert rules against a health document; see hauler.alerts.service."""
    from hauler.alerts import service

    return service.evaluate(settings, document, now)
