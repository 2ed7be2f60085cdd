"""Beat's heartbeat in Redis: the lock-holding beat notes each tick, the health check reads it."""

from __future__ import annotations

from typing import Any

from hauler import heartbeat

#: Redis key the ticking beat refreshes (only the beat holding the single-beat lock ticks).
BEAT_KEY = "hauler:beat:heartbeat"
#: Seconds a beat heartbeat lives after its last tick.
BEAT_TTL_SECONDS = 3600


def beat_ticked(client: Any, now: float | None = None) -> None:
    """Note that this beat ticked now."""
    heartbeat.write(client, BEAT_KEY, BEAT_TTL_SECONDS, at=now)


def last_beat(client: Any) -> dict[str, Any] | None:
    """The newest beat heartbeat, or None when no beat ticked within the TTL."""
    return heartbeat.read(client, BEAT_KEY)
