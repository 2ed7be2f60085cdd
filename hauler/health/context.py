"""What every health probe reads: the settings, a Redis client with short timeouts, the clock."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache

import redis

from hauler.health.settings import HealthSettings
from hauler.settings import Settings


@lru_cache(maxsize=8)
def probe_redis(url: str, timeout: float) -> redis.Redis:
    """A Redis client for probes: a broker that stops answering fails the probe quickly."""
    return redis.Redis.from_url(
        url, socket_connect_timeout=min(timeout, 3.0), socket_timeout=timeout
    )


@dataclass
class ProbeContext:
    """One health run's shared state."""

    settings: Settings
    now: float = field(default_factory=time.time)
    broker_up: bool = True  # set by the broker probe; Redis-based probes say why they fail

    @property
    def health(self) -> HealthSettings:
        return self.settings.health

    @property
    def redis(self) -> redis.Redis:
        return probe_redis(self.settings.broker_url, self.health.probe_timeout)


def age_text(seconds: float) -> str:
    """``12 s``, ``4.5 min``, ``3.2 h``, ``2.0 d``: an age for people."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
