"""Settings of the health checks and healing (``HAULER_HEALTH_…``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Self

from hauler.env import EnvReader

#: Components a deployment may leave out (``HAULER_HEALTH_SKIP``).
COMPONENTS = (
    "broker",
    "database",
    "workers",
    "beat",
    "recorder",
    "autoscaler",
    "disk",
    "downloadClient",
    "backup",
    "deadLetters",
)
#: How a component is restarted: ``<kind>:<name>``.
ACTION_KINDS = ("supervisor", "compose", "container")


@dataclass(frozen=True)
class HealthSettings:
    """Thresholds of the checks, and how failed components are restarted."""

    skip: tuple[str, ...] = ()  # components this deployment does not run (not checked)
    probe_timeout: float = 5.0  # seconds one probe (database, download client) may take
    broker_warn_ms: float = 250.0  # a broker PING slower than this warns
    database_warn_ms: float = 500.0  # a database round trip slower than this warns
    disk_warn_ratio: float = 0.10  # free/total of a data, staging or download dir: warn below
    disk_fail_ratio: float = 0.05  # ... and fail below
    beat_max_age: float = 0.0  # seconds since beat's last tick before it fails; 0 = lock timeout
    recorder_max_age: float = 20.0  # seconds since the recorder's last heartbeat before it fails
    backup_max_age: float = 0.0  # seconds between backups; 0 = the backups.run schedule's period
    dead_letter_window: float = 3600.0  # seconds over which new dead letters are counted
    dead_letter_warn: int = 1  # new dead letters in the window that warn
    dead_letter_fail: int = 50  # ... and that fail
    cache_seconds: float = 10.0  # the recorder's /health reuses a document this long
    heal: Mapping[str, str] = field(default_factory=dict)  # target → "<kind>:<name>" action
    heal_attempts: int = 3  # restarts of one component before it is escalated
    heal_backoff: float = 30.0  # seconds before the first re-check; doubles per attempt
    heal_grace: float = 60.0  # a component started less than this ago is left to start
    heal_cooldown: float = 3600.0  # after an escalation, no new restarts for this long
    heal_stop_timeout: int = 10  # seconds a container is given to stop on restart

    @classmethod
    def from_env(cls, reader: EnvReader) -> Self:
        skip = tuple(s.strip() for s in reader.text("HAULER_HEALTH_SKIP", "").split(",") if s)
        for name in skip:
            if name not in COMPONENTS:
                reader.problems.append(
                    f"HAULER_HEALTH_SKIP: {name!r} is not a component ({', '.join(COMPONENTS)})"
                )
        settings = cls(
            skip=skip,
            probe_timeout=reader.number("HAULER_HEALTH_PROBE_TIMEOUT", 5.0, minimum=0.1),
            broker_warn_ms=reader.number("HAULER_HEALTH_BROKER_WARN_MS", 250.0, minimum=0.0),
            database_warn_ms=reader.number("HAULER_HEALTH_DATABASE_WARN_MS", 500.0, minimum=0.0),
            disk_warn_ratio=reader.number("HAULER_HEALTH_DISK_WARN_RATIO", 0.10, minimum=0.0),
            disk_fail_ratio=reader.number("HAULER_HEALTH_DISK_FAIL_RATIO", 0.05, minimum=0.0),
            beat_max_age=reader.number("HAULER_HEALTH_BEAT_MAX_AGE", 0.0, minimum=0.0),
            recorder_max_age=reader.number("HAULER_HEALTH_RECORDER_MAX_AGE", 20.0, minimum=1.0),
            backup_max_age=reader.number("HAULER_HEALTH_BACKUP_MAX_AGE", 0.0, minimum=0.0),
            dead_letter_window=reader.number(
                "HAULER_HEALTH_DEAD_LETTER_WINDOW", 3600.0, minimum=1.0
            ),
            dead_letter_warn=reader.integer("HAULER_HEALTH_DEAD_LETTER_WARN", 1, minimum=1),
            dead_letter_fail=reader.integer("HAULER_HEALTH_DEAD_LETTER_FAIL", 50, minimum=1),
            cache_seconds=reader.number("HAULER_HEALTH_CACHE_SECONDS", 10.0, minimum=0.0),
            heal=MappingProxyType(_actions(reader)),
            heal_attempts=reader.integer("HAULER_HEALTH_HEAL_ATTEMPTS", 3, minimum=1),
            heal_backoff=reader.number("HAULER_HEALTH_HEAL_BACKOFF", 30.0, minimum=0.0),
            heal_grace=reader.number("HAULER_HEALTH_HEAL_GRACE", 60.0, minimum=0.0),
            heal_cooldown=reader.number("HAULER_HEALTH_HEAL_COOLDOWN", 3600.0, minimum=0.0),
            heal_stop_timeout=reader.integer("HAULER_HEALTH_HEAL_STOP_TIMEOUT", 10, minimum=0),
        )
        if settings.disk_fail_ratio > settings.disk_warn_ratio:
            reader.problems.append(
                f"HAULER_HEALTH_DISK_FAIL_RATIO={settings.disk_fail_ratio:g} is above "
                f"HAULER_HEALTH_DISK_WARN_RATIO={settings.disk_warn_ratio:g}"
            )
        if settings.dead_letter_fail < settings.dead_letter_warn:
            reader.problems.append(
                f"HAULER_HEALTH_DEAD_LETTER_FAIL={settings.dead_letter_fail} is below "
                f"HAULER_HEALTH_DEAD_LETTER_WARN={settings.dead_letter_warn}"
            )
        return settings


def _actions(reader: EnvReader) -> dict[str, str]:
    """``target=kind:name`` pairs, comma-separated, e.g. ``recorder=compose:recorder``."""
    raw = reader.text("HAULER_HEALTH_HEAL", "")
    actions: dict[str, str] = {}
    for pair in (p.strip() for p in raw.split(",") if p.strip()):
        target, _, action = pair.partition("=")
        kind, _, name = action.partition(":")
        if not target.strip() or kind not in ACTION_KINDS or not name.strip():
            reader.problems.append(
                f"HAULER_HEALTH_HEAL: {pair!r} is not target=kind:name "
                f"(kind one of {', '.join(ACTION_KINDS)})"
            )
            continue
        actions[target.strip()] = f"{kind}:{name.strip()}"
    return actions
