"""The ``application/health+json`` document (draft-inadarei-api-health-check) and its parts.

A document has a ``status`` (``pass``, ``warn`` or ``fail``: the worst of its checks)
and ``checks`` keyed ``component:measurement``, each a list of observations with
``componentId`` (a queue, a directory, a client) where the component has several.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

MEDIA_TYPE = "application/health+json"


class Status(IntEnum):
    """A check's verdict; larger is worse (the value of ``hauler_health_status``)."""

    PASS = 0
    WARN = 1
    FAIL = 2

    @property
    def word(self) -> str:
        return self.name.lower()

    @classmethod
    def of(cls, word: str) -> Status:
        return cls[word.upper()]


@dataclass(frozen=True)
class Observation:
    """One entry of a check: what was measured, its verdict and why."""

    key: str  # "component:measurement", e.g. "broker:responseTime"
    status: Status
    value: Any  # observedValue: a number, a bool or a short text
    unit: str  # observedUnit: "ms", "s", "bytes", "ratio", "workers", ...
    output: str = ""  # why it warns or fails (empty on pass)
    component_id: str | None = None  # which queue, directory or client
    component_type: str = "component"  # datastore, system, component

    @property
    def component(self) -> str:
        return self.key.split(":", 1)[0]

    @property
    def target(self) -> str:
        """What healing would restart: the component, or ``component/id``."""
        return f"{self.component}/{self.component_id}" if self.component_id else self.component

    def as_json(self, at: str) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "componentType": self.component_type,
            "observedValue": self.value,
            "observedUnit": self.unit,
            "status": self.status.word,
            "time": at,
            "output": self.output,
        }
        if self.component_id is not None:
            entry = {"componentId": self.component_id, **entry}
        return entry


def build(
    observations: Iterable[Observation],
    *,
    now: datetime | None = None,
    service_id: str = "",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The health document of ``observations``: the worst status, checks by key."""
    at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    observed = list(observations)
    checks: dict[str, list[dict[str, Any]]] = {}
    for item in observed:
        checks.setdefault(item.key, []).append(item.as_json(at))
    status = max((item.status for item in observed), default=Status.PASS)
    document: dict[str, Any] = {
        "status": status.word,
        "version": "1",
        "serviceId": service_id,
        "description": "health of a Hauler deployment",
        "time": at,
        "notes": [f"{item.target}: {item.output}" for item in observed if item.status > 0],
        "checks": checks,
    }
    if status > Status.PASS:
        document["output"] = "; ".join(document["notes"])
    document.update(extra or {})
    return document


def status_of(document: Mapping[str, Any]) -> Status:
    """The document's overall status."""
    return Status.of(str(document.get("status", "fail")))


def entries(document: Mapping[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    """Every (key, entry) of the document's checks."""
    for key, items in (document.get("checks") or {}).items():
        for entry in items or ():
            yield key, entry


def target_of(key: str, entry: Mapping[str, Any]) -> str:
    """The healing target of one entry: ``component`` or ``component/componentId``."""
    component = key.split(":", 1)[0]
    ident = entry.get("componentId")
    return f"{component}/{ident}" if ident else component


def failing(document: Mapping[str, Any], status: Status = Status.FAIL) -> list[str]:
    """Targets of the entries at ``status`` or worse, e.g. ``["recorder", "workers/media"]``."""
    found = [target_of(k, e) for k, e in entries(document) if Status.of(e["status"]) >= status]
    return sorted(set(found))


def check_statuses(document: Mapping[str, Any]) -> dict[str, int]:
    """``check`` label → status value: one per key, and one per ``key/componentId``."""
    worst: dict[str, int] = {}
    for key, entry in entries(document):
        value = int(Status.of(entry["status"]))
        worst[key] = max(worst.get(key, 0), value)
        if entry.get("componentId"):
            worst[f"{key}/{entry['componentId']}"] = value
    return worst


def http_status(document: Mapping[str, Any]) -> int:
    """200 for pass and warn, 503 for fail (as the draft suggests)."""
    return 503 if status_of(document) is Status.FAIL else 200
