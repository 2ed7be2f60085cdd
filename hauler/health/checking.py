"""One ``health.check`` run: the document, stored and announced, and which targets to heal."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from hauler import activity
from hauler.health import heal
from hauler.health.context import probe_redis
from hauler.health.document import entries, target_of
from hauler.health.report import health_document, store, summary
from hauler.health.restarters import action_for
from hauler.settings import Settings

log = logging.getLogger(__name__)

#: What everything else stands on: while one of these fails, only it is restarted.
FOUNDATIONS = ("broker", "database")


@dataclass
class CheckRun:
    """The outcome of one run."""

    document: dict[str, Any]
    report_id: int | None
    heal: list[str] = field(default_factory=list)  # targets whose flow this run started

    def result(self) -> dict[str, Any]:
        brief = summary(self.document)
        return {
            "status": brief["status"],
            "failing": brief["failing"],
            "warning": brief["warning"],
            "report_id": self.report_id,
            "healing": self.heal,
        }


def run_check(settings: Settings) -> CheckRun:
    """Check everything, store the report, emit ``health.checked``, claim targets to heal."""
    document = health_document(settings)
    brief = summary(document)
    try:
        report_id: int | None = store(settings.database_url, document)
    except SQLAlchemyError as exc:
        log.warning("health report not stored: %s", str(exc).splitlines()[0])
        report_id = None
    activity.emit("health.checked", **brief)
    return CheckRun(document, report_id, to_heal(settings, document, brief["failing"]))


def to_heal(settings: Settings, document: dict[str, Any], failing: list[str]) -> list[str]:
    """Failing targets with a known action whose healing flow this call claimed."""
    client = probe_redis(settings.broker_url, settings.health.probe_timeout)
    try:
        for key, entry in entries(document):
            if entry["status"] == "pass":
                heal.passed(client, target_of(key, entry))
        broken = [t for t in failing if t in FOUNDATIONS]
        claimed = []
        for target in broken or failing:
            if action_for(settings, target, client) and heal.claim(settings, client, target):
                claimed.append(target)
        return claimed
    except Exception as exc:  # the broker may be the one failing: nothing can be enqueued
        log.warning("health: healing not started: %s", exc)
        return []
