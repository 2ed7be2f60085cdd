"""The recorder's heartbeat in Redis: who records, and whether it is writing, for the CLI."""

from __future__ import annotations

from typing import Any

from hauler import heartbeat

#: Redis key the running recorder refreshes every few seconds.
KEY = "hauler:recorder:heartbeat"
#: Seconds a heartbeat lives: a recorder silent for longer is taken as not running.
TTL_SECONDS = 30


def beat(client: Any, healthy: bool, detail: dict[str, Any]) -> None:
    """Note that this recorder is alive, and whether it is writing rows."""
    heartbeat.write(
        client,
        KEY,
        TTL_SECONDS,
        healthy=healthy,
        database_error=detail.get("database_error"),
        rows_written=detail.get("rows_written"),
        rows_dropped=detail.get("rows_dropped"),
    )


def last(client: Any) -> dict[str, Any] | None:
    """The newest heartbeat, or None when no recorder has beaten within the TTL."""
    return heartbeat.read(client, KEY)
