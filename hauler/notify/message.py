"""What a notification says, before a receiver's format: a title, lines, severity, alerts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Colours of the embed/attachment bar per status or severity (Discord takes an int).
COLOURS = {"resolved": 0x2EB886, "critical": 0xD63232, "warning": 0xF2C744, "info": 0x439FE0}


@dataclass(frozen=True)
class Message:
    """One notification: an alert group's state, a maintenance notice, the report, a test."""

    title: str
    text: str = ""  # the body, plain text (a few *bold* marks are fine everywhere)
    severity: str = "info"  # info | warning | critical
    status: str = "message"  # firing | resolved | message
    kind: str = "message"  # alert | message | maintenance | report | test
    fields: tuple[tuple[str, str], ...] = ()  # short name/value pairs
    group_key: str = ""  # the alert group, for alerts
    alerts: tuple[dict[str, Any], ...] = ()  # Alertmanager-style alerts, for alerts
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the report's JSON

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form, for task messages (a deferred delivery carries it)."""
        return {
            "title": self.title,
            "text": self.text,
            "severity": self.severity,
            "status": self.status,
            "kind": self.kind,
            "fields": [list(f) for f in self.fields],
            "group_key": self.group_key,
            "alerts": list(self.alerts),
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        return cls(
            title=str(data.get("title", "")),
            text=str(data.get("text", "")),
            severity=str(data.get("severity", "info")),
            status=str(data.get("status", "message")),
            kind=str(data.get("kind", "message")),
            fields=tuple((str(a), str(b)) for a, b in data.get("fields") or ()),
            group_key=str(data.get("group_key", "")),
            alerts=tuple(data.get("alerts") or ()),
            extra=dict(data.get("extra") or {}),
        )

    @property
    def colour(self) -> int:
        return COLOURS.get("resolved" if self.status == "resolved" else self.severity, 0x439FE0)


def cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters; a cut one ends with a note of how much was left."""
    if len(text) <= limit:
        return text
    for _ in range(3):  # the note's own length depends on the number in it
        note = f"\n… (cut: {len(text) - (limit - 40)} more characters)"
        keep = max(0, limit - len(note))
        note = f"\n… (cut: {len(text) - keep} more characters)"
        if keep + len(note) <= limit:
            return text[:keep] + note
        limit -= 1
    return text[: max(0, limit)]
