"""Settings of the watch over handed-off transfers (``HAULER_WATCH_…``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from hauler.env import EnvReader


@dataclass(frozen=True)
class WatchSettings:
    """When a transfer counts as stalled, and the lease of the watch's lock."""

    stall_timeout: float = 1800.0  # seconds without a byte of progress before "stalled"
    lock_seconds: float = 120.0  # a dead watch's lock frees after this (longer than a pass)

    @classmethod
    def from_env(cls, reader: EnvReader) -> Self:
        return cls(
            stall_timeout=reader.number("HAULER_WATCH_STALL_TIMEOUT", 1800.0, minimum=1.0),
            lock_seconds=reader.number("HAULER_WATCH_LOCK_SECONDS", 120.0, minimum=5.0),
        )
