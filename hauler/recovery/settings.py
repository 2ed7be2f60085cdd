"""Settings of recovery and failure polling (``HAULER_RECOVERY_…``, ``HAULER_POLL_…``,
``HAULER_ARR_<NAME>_…``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Self

from hauler.env import EnvReader

FOREIGN_MODES = ("recover", "report", "off")
_ARR_URL = re.compile(r"HAULER_ARR_([A-Z0-9]+)_URL")


@dataclass(frozen=True)
class ArrApp:
    """A Sonarr or Radarr (v3 API) whose grabbed downloads Hauler may mark failed."""

    name: str  # lower case, from HAULER_ARR_<NAME>_URL
    url: str  # its base URL, e.g. http://127.0.0.1:8989
    api_key: str = field(repr=False)  # sent as X-Api-Key, never logged


@dataclass(frozen=True)
class RecoverySettings:
    """How failed downloads are recovered and foreign jobs watched."""

    max_attempts: int = 3  # recovery attempts per Hauler download before it is given up
    backoff: float = 300.0  # seconds before the first attempt; doubles each attempt
    backoff_max: float = 1200.0  # no attempt waits longer than this (5, 10, 20 min)
    jitter: bool = True  # wait a random time in [delay/2, delay] instead of delay
    lock_seconds: int = 600  # one recovery per download at a time: the lock's lease
    foreign: str = "report"  # foreign jobs' failures: recover | report | off
    poll_categories: tuple[str, ...] = ()  # client categories polling watches; () = all
    poll_stall_seconds: float = 3600.0  # a foreign job stalled this long counts as failed
    disk_check_seconds: float = 60.0  # how often a paused (disk-full) client is re-checked
    resume_free_bytes: int = 1 << 30  # free bytes a disk-full client needs to resume
    arr_timeout: float = 10.0  # seconds to wait for a Sonarr/Radarr answer
    arr: tuple[ArrApp, ...] = ()  # from HAULER_ARR_<NAME>_URL / HAULER_ARR_<NAME>_API_KEY

    def secrets(self) -> tuple[str, ...]:
        """The *arr API keys (masked wherever they would appear)."""
        return tuple(app.api_key for app in self.arr if app.api_key)

    @classmethod
    def from_env(cls, reader: EnvReader) -> Self:
        categories = reader.text("HAULER_POLL_CATEGORIES", "")
        return cls(
            max_attempts=reader.integer("HAULER_RECOVERY_MAX_ATTEMPTS", 3, minimum=0),
            backoff=reader.number("HAULER_RECOVERY_BACKOFF", 300.0, minimum=0.0),
            backoff_max=reader.number("HAULER_RECOVERY_BACKOFF_MAX", 1200.0, minimum=0.0),
            jitter=reader.boolean("HAULER_RECOVERY_JITTER", True),
            lock_seconds=reader.integer("HAULER_RECOVERY_LOCK_SECONDS", 600, minimum=5),
            foreign=_foreign(reader),
            poll_categories=tuple(c.strip() for c in categories.split(",") if c.strip()),
            poll_stall_seconds=reader.number("HAULER_POLL_STALL_SECONDS", 3600.0, minimum=1.0),
            disk_check_seconds=reader.number(
                "HAULER_RECOVERY_DISK_CHECK_SECONDS", 60.0, minimum=0.1
            ),
            resume_free_bytes=reader.integer(
                "HAULER_RECOVERY_RESUME_FREE_BYTES", 1 << 30, minimum=0
            ),
            arr_timeout=reader.number("HAULER_ARR_TIMEOUT", 10.0, minimum=0.1),
            arr=_arr_apps(reader),
        )


def _foreign(reader: EnvReader) -> str:
    value = reader.text("HAULER_RECOVERY_FOREIGN", "report").strip().lower()
    if value not in FOREIGN_MODES:
        reader.problems.append(
            f"HAULER_RECOVERY_FOREIGN={value!r} is not one of {', '.join(FOREIGN_MODES)}"
        )
        return "report"
    return value


def _arr_apps(reader: EnvReader) -> tuple[ArrApp, ...]:
    env: Mapping[str, str] = reader.env
    apps = []
    for key in sorted(env):
        match = _ARR_URL.fullmatch(key)
        if not match:
            continue
        name = match.group(1)
        url = reader.url(key, "", ("http", "https"))
        api_key = reader.text(f"HAULER_ARR_{name}_API_KEY", "")
        if not api_key:
            reader.problems.append(f"HAULER_ARR_{name}_API_KEY is needed with {key}")
        if url:
            apps.append(ArrApp(name.lower(), url.rstrip("/"), api_key))
    return tuple(apps)
