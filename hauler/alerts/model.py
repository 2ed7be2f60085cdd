"""An alert as Hauler's rules and Alertmanager's webhook give it: labels, annotations, times."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from hauler.notify.settings import SEVERITIES

#: Labels an alert is grouped by unless it names its group: one message per rule.
GROUP_BY = ("alertname",)


@dataclass(frozen=True)
class Alert:
    """One alert: its identity is its label set (``alertname``, ``severity``, ``instance``…)."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=dict)  # summary, description
    starts_at: datetime | None = None  # None: now
    ends_at: datetime | None = None  # set and past: the alert is resolved
    source: str = "rules"  # rules | alertmanager
    group_key: str | None = None  # the group it belongs to; None: from GROUP_BY labels

    @property
    def name(self) -> str:
        return str(self.labels.get("alertname", "alert"))

    @property
    def severity(self) -> str:
        severity = str(self.labels.get("severity", "warning")).lower()
        return severity if severity in SEVERITIES else "warning"

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.labels)

    def group(self) -> str:
        """The key of the group this alert is notified in."""
        if self.group_key:
            return self.group_key
        return "{" + ",".join(f"{k}={self.labels.get(k, '')}" for k in GROUP_BY) + "}"

    def resolved(self, now: datetime) -> bool:
        return self.ends_at is not None and self.ends_at <= now


def fingerprint(labels: Mapping[str, str]) -> str:
    """A stable id of a label set (the order of the labels does not matter)."""
    blob = json.dumps({str(k): str(v) for k, v in labels.items()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def severity_rank(severity: str) -> int:
    """0 for info, 1 for warning, 2 for critical."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else 1
