"""Settings of notifications and alerts (``HAULER_NOTIFY_…``, ``HAULER_ALERTS_…``).

A receiver is declared by its URL, ``HAULER_NOTIFY_<NAME>_URL``; its other settings
share the prefix (``_KIND``, ``_SEVERITIES``, ``_MAINTENANCE``, ``_SEND_RESOLVED``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import urlsplit

from hauler.env import EnvReader

#: Kinds of receiver: what the webhook at the URL expects.
KINDS = ("slack", "discord", "json")
#: Severities, weakest first.
SEVERITIES = ("info", "warning", "critical")
_RECEIVER_URL = re.compile(r"^HAULER_NOTIFY_([A-Z0-9][A-Z0-9_]*)_URL$")


@dataclass(frozen=True)
class Receiver:
    """One webhook that takes notifications."""

    name: str  # lower-case <NAME> of HAULER_NOTIFY_<NAME>_URL
    kind: str  # slack | discord | json
    url: str = field(repr=False)  # the webhook URL; a secret (it carries the token)
    severities: frozenset[str] = frozenset(SEVERITIES)  # severities this receiver takes
    maintenance: bool = False  # told when Hauler stops for maintenance and is back
    send_resolved: bool = True  # told when an alert's condition clears

    def takes(self, severity: str) -> bool:
        """Whether a notification of ``severity`` goes to this receiver."""
        return severity in self.severities

    def describe(self) -> dict[str, Any]:
        """What may be shown of this receiver: never its URL's path or query (the token)."""
        host = urlsplit(self.url).hostname or "?"
        return {
            "name": self.name,
            "kind": self.kind,
            "host": host,
            "severities": [s for s in SEVERITIES if s in self.severities],
            "maintenance": self.maintenance,
            "send_resolved": self.send_resolved,
        }


@dataclass(frozen=True)
class NotifySettings:
    """Receivers, Alertmanager-style timing, the webhook intake and the alert rules' limits."""

    receivers: tuple[Receiver, ...] = ()  # from HAULER_NOTIFY_<NAME>_URL
    group_wait: float = 30.0  # seconds a new alert group waits for more alerts before its first
    group_interval: float = 300.0  # seconds between notifications of a group that changed
    repeat_interval: float = 14400.0  # seconds before an unchanged firing group is sent again
    timeout: float = 10.0  # seconds a webhook has to answer
    max_attempts: int = 8  # deliveries of one message (after 429s or 5xx) before giving up
    longest_wait: float = 3600.0  # longest Retry-After honoured; a longer one gives up
    intake_token: str = field(default="", repr=False)  # token of POST /api/v1/alerts; "" = off
    failures_threshold: int = 10  # alert when more task failures than this …
    failures_window: float = 300.0  # … happen within this many seconds
    latency_for: float = 300.0  # seconds a queue's latency stays over target before alerting
    event_window: float = 3600.0  # seconds an event (backup.bad, recovery.gave-up) keeps firing
    disk_free_ratio: float = 0.10  # free disk ratio under which "disk low" fires

    def receiver(self, name: str) -> Receiver | None:
        """The receiver called ``name`` (any case), if configured."""
        return next((r for r in self.receivers if r.name == name.lower()), None)

    def secrets(self) -> tuple[str, ...]:
        """Webhook URLs, their paths and the intake token: to be masked wherever they appear."""
        values: list[str] = [self.intake_token] if self.intake_token else []
        for receiver in self.receivers:
            parts = urlsplit(receiver.url)
            values += [receiver.url, parts.path, parts.query]
        return tuple(v for v in values if v and len(v) > 4)

    @classmethod
    def from_env(cls, reader: EnvReader) -> Self:
        names = sorted(m.group(1) for key in reader.env if (m := _RECEIVER_URL.match(key)))
        receivers = tuple(r for r in (_receiver(reader, n) for n in names) if r is not None)
        p = "HAULER_ALERTS_"
        return cls(
            receivers=receivers,
            group_wait=reader.number("HAULER_NOTIFY_GROUP_WAIT", 30.0, minimum=0.0),
            group_interval=reader.number("HAULER_NOTIFY_GROUP_INTERVAL", 300.0, minimum=1.0),
            repeat_interval=reader.number("HAULER_NOTIFY_REPEAT_INTERVAL", 14400.0, minimum=1.0),
            timeout=reader.number("HAULER_NOTIFY_TIMEOUT", 10.0, minimum=0.5),
            max_attempts=reader.integer("HAULER_NOTIFY_MAX_ATTEMPTS", 8, minimum=1, maximum=50),
            longest_wait=reader.number("HAULER_NOTIFY_LONGEST_WAIT", 3600.0, minimum=1.0),
            intake_token=reader.text("HAULER_NOTIFY_INTAKE_TOKEN", ""),
            failures_threshold=reader.integer(p + "FAILURES", 10, minimum=0),
            failures_window=reader.number(p + "FAILURES_WINDOW", 300.0, minimum=10.0),
            latency_for=reader.number(p + "LATENCY_FOR", 300.0, minimum=0.0),
            event_window=reader.number(p + "EVENT_WINDOW", 3600.0, minimum=60.0),
            disk_free_ratio=reader.number(p + "DISK_FREE_RATIO", 0.10, minimum=0.0),
        )


def _receiver(reader: EnvReader, name: str) -> Receiver | None:
    prefix = f"HAULER_NOTIFY_{name}_"
    url = reader.text(prefix + "URL", "")
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        # never echo the URL: it carries the webhook's token
        reader.problems.append(f"{prefix}URL is not an http:// or https:// URL")
        return None
    kind = reader.text(prefix + "KIND", "json").lower()
    if kind not in KINDS:
        reader.problems.append(f"{prefix}KIND={kind!r} is not one of {', '.join(KINDS)}")
        return None
    raw = reader.text(prefix + "SEVERITIES", ",".join(SEVERITIES))
    severities = frozenset(s.strip().lower() for s in raw.split(",") if s.strip())
    unknown = severities - set(SEVERITIES)
    if unknown or not severities:
        reader.problems.append(
            f"{prefix}SEVERITIES={raw!r} must list some of {', '.join(SEVERITIES)}"
        )
        return None
    return Receiver(
        name=name.lower(),
        kind=kind,
        url=url,
        severities=severities,
        maintenance=reader.boolean(prefix + "MAINTENANCE", False),
        send_resolved=reader.boolean(prefix + "SEND_RESOLVED", True),
    )


def receivers_in(env: Mapping[str, str]) -> list[str]:
    """Names of the receivers ``env`` declares (for messages that list them)."""
    return sorted(m.group(1).lower() for key in env if (m := _RECEIVER_URL.match(key)))
