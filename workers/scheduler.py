"""Hauler's beat scheduler: celery-redbeat's single-beat lock, plus a run stamp per message.

RedBeat keeps the schedule in Redis and lets one beat of a deployment tick while others
wait on its lock (``redbeat_*`` in celeryconfig); a standby takes over within the lock
timeout of the holder's death. Each tick of the holder refreshes the beat heartbeat that
the health check reads (hauler/health/heartbeats.py). Every message it sends names the run it is for
(workers/periodic.py), so a task can tell a second send of one period from the next one.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from celery.schedules import crontab, schedule
from redbeat import RedBeatScheduler
from redbeat.schedulers import get_redis

from hauler.health.heartbeats import beat_ticked
from workers.periodic import RUN_HEADER

log = logging.getLogger(__name__)


class PeriodicScheduler(RedBeatScheduler):
    """RedBeat, stamping each scheduled message with ``<entry>:<due second>``."""

    def apply_async(
        self, entry: Any, producer: Any = None, advance: bool = True, **kwargs: Any
    ) -> Any:
        # The entry is this tick's copy, loaded from Redis; the stamp travels with it.
        headers = {**(entry.options.get("headers") or {}), RUN_HEADER: run_of(entry)}
        entry.options = {**entry.options, "headers": headers}
        return super().apply_async(entry, producer, advance, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> Any:
        """RedBeat's tick (only the lock holder ticks), then the beat heartbeat for health."""
        interval = super().tick(*args, **kwargs)
        try:
            beat_ticked(get_redis(self.app))
        except Exception as exc:  # a missed heartbeat only makes the next one count
            log.debug("beat heartbeat not written: %s", exc)
        return interval


def run_of(entry: Any) -> str:
    """``<entry name>:<due>``: the same for every send of one scheduled run."""
    return f"{entry.name}:{due_second(entry.schedule, entry.last_run_at)}"


def due_second(when: Any, last_run_at: datetime | None) -> int:
    """The UNIX second a run was due, from the previous run's time (the shared state)."""
    now = when.now()
    if last_run_at is None:  # never ran: due now
        return int(now.timestamp())
    last = when.maybe_make_aware(last_run_at)
    if isinstance(when, schedule):  # every N seconds: due N after the last run
        return int((last + when.run_every).timestamp())
    due = (now + when.remaining_estimate(last)).timestamp()
    return int(round(due / 60) * 60) if isinstance(when, crontab) else round(due)
