"""Give a dead worker's unacknowledged messages back to their queues, at the front.

kombu's Redis transport keeps every delivered, unacknowledged message in the ``unacked``
hash (delivery tag → [payload, exchange, routing key]) and the ``unacked_index`` sorted
set (score = delivery time); it gives them back only after the visibility timeout
(hours, so that long tasks are not run twice). Workers therefore say, from their main
process, which deliveries they hold: a heartbeat key per worker (``workers/deliveries.py``)
with a TTL of ``HAULER_REDELIVERY_DEAD_AFTER`` seconds, holding the worker's clock and
its delivery tags. The sweeper, run by the recorder, one instance at a time under a
lease lock, restores an entry when

* no live heartbeat lists its tag, and
* it was delivered before every live worker's last heartbeat (a worker that has it
  would list it by then — the heartbeat and the delivery are stamped by the same
  worker's clock, in the same thread) and more than ``dead_after`` seconds ago.

So a message whose worker is alive and holds it is never restored. A restored message
goes to the front of its queue (kombu's own restore, RPUSH), marked redelivered, so a
worker that finds its task already finished (``worker_deduplicate_successful_tasks``)
acknowledges it without running it again. After any break in its view of Redis (or a
Redis restart) the sweeper waits ``dead_after`` seconds before it trusts the heartbeats
again. The visibility timeout stays as the last resort.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis
from celery import Celery
from kombu.exceptions import OperationalError

from autoscale.lock import LeaderLock
from hauler.settings import Settings

log = logging.getLogger(__name__)

WORKER_KEY_PREFIX = "hauler:deliveries:worker:"  # + hostname:pid, that worker's heartbeat
LOCK_KEY = "hauler:redelivery:lock"  # held by the one sweeper that acts
RESTORED_KEY = "hauler:redelivery:restored"  # counter of messages given back, for operators


def worker_key(hostname: str, pid: int) -> str:
    """The heartbeat key of one worker process: a restarted worker (or a second one under
    the same name) never overwrites the heartbeat of another."""
    return f"{WORKER_KEY_PREFIX}{hostname}:{pid}"


def heartbeat_interval(dead_after: float) -> float:
    """How often a worker writes its heartbeat: three chances before it counts as dead."""
    return dead_after / 3


@dataclass(frozen=True)
class Holder:
    """One live worker's last heartbeat."""

    hostname: str
    at: float  # the worker's clock when it listed its deliveries
    tags: frozenset[str]  # delivery tags it held then
    queues: tuple[str, ...] = ()  # the queues it consumes (the health check counts them)

    def dumps(self) -> str:
        return json.dumps(
            {
                "hostname": self.hostname,
                "at": self.at,
                "tags": sorted(self.tags),
                "queues": list(self.queues),
            }
        )

    @classmethod
    def loads(cls, raw: bytes | str) -> Holder:
        data = json.loads(raw)
        queues = tuple(map(str, data.get("queues") or ()))
        return cls(
            str(data["hostname"]), float(data["at"]), frozenset(map(str, data["tags"])), queues
        )


def orphans(
    unacked: Iterable[tuple[str, float]], holders: Iterable[Holder], now: float, dead_after: float
) -> list[str]:
    """The delivery tags that no live worker holds, old enough that a holder would say so.

    Args:
        unacked: (delivery tag, delivery time) of every unacknowledged message.
        holders: the live workers' last heartbeats.
        now: the sweeper's clock.
        dead_after: seconds without a heartbeat after which a worker is dead.
    """
    holders = list(holders)
    floor = min([now - dead_after, *(holder.at for holder in holders)])
    held = frozenset().union(*(holder.tags for holder in holders))
    return [tag for tag, delivered in unacked if delivered < floor and tag not in held]


@dataclass(frozen=True)
class Restored:
    """One message given back to its queue."""

    tag: str
    task_id: str | None
    task_name: str | None
    queue: str | None


class Sweeper:
    """Finds unacknowledged messages of dead workers and restores them, one instance at a time."""

    def __init__(self, settings: Settings, app: Celery) -> None:
        self.dead_after = settings.redelivery_dead_after
        self.interval = settings.redelivery_sweep_seconds
        self.app = app
        self.client = redis.Redis.from_url(
            settings.broker_url, socket_timeout=5, socket_connect_timeout=5
        )
        self.lock = LeaderLock(self.client, lease=max(3 * self.interval, 5.0), key=LOCK_KEY)
        self._seen_since: float | None = None  # monotonic time since Redis answered every time
        self._failing = False  # the last sweep could not reach Redis

    def run(self, stop: threading.Event) -> None:
        """Sweep every ``interval`` seconds until ``stop`` is set."""
        while not stop.wait(self.interval):
            try:
                self.tick()
                self._failing = False
            except (redis.RedisError, OSError, OperationalError) as exc:
                self._seen_since = None
                level = logging.DEBUG if self._failing else logging.WARNING  # once per outage
                self._failing = True
                log.log(level, "redelivery sweep failed (%s); trusting heartbeats again later", exc)
            except Exception:  # the sweeper must outlive a bad entry; the next tick retries
                log.exception("redelivery sweep failed")
        self._release()

    def tick(self) -> list[Restored]:
        """One sweep, if this instance leads and has seen Redis long enough to trust it."""
        if not (self.lock.renew() or self.lock.acquire()):
            return []
        now = time.monotonic()
        if self._seen_since is None:
            self._seen_since = now
        uptime = float(self.client.info("server").get("uptime_in_seconds", 0))
        if now - self._seen_since < self.dead_after or uptime < self.dead_after:
            return []
        return self.sweep()

    def sweep(self) -> list[Restored]:
        """Restore every orphaned message now, at the front of its queue."""
        with self.app.connection_for_write() as connection:
            channel: Any = connection.default_channel
            floor = time.time() - self.dead_after
            unacked = [
                (_text(tag), float(score))
                for tag, score in channel.client.zrangebyscore(
                    channel.unacked_index_key, "-inf", floor, withscores=True
                )
            ]
            if not unacked:
                return []
            found = orphans(unacked, self.holders(), time.time(), self.dead_after)
            return [self._restore(channel, tag) for tag in found]

    def holders(self) -> list[Holder]:
        """The last heartbeat of every live worker."""
        keys = list(self.client.scan_iter(match=f"{WORKER_KEY_PREFIX}*", count=500))
        raws = self.client.mget(keys) if keys else []
        return [Holder.loads(raw) for raw in raws if raw is not None]

    def _restore(self, channel: Any, tag: str) -> Restored:
        raw = channel.client.hget(channel.unacked_key, tag)
        restored = _describe(tag, raw)
        channel.qos.restore_by_tag(tag, leftmost=False)  # RPUSH: the front of the queue
        self.client.incr(RESTORED_KEY)
        log.warning(
            "redelivered %s[%s] to the front of %s: no live worker holds it (its worker "
            "died, or its ack was lost with a broker connection)",
            restored.task_name,
            restored.task_id,
            restored.queue,
        )
        return restored

    def _release(self) -> None:
        with contextlib.suppress(redis.RedisError):  # else the lease runs out by itself
            self.lock.release()


def _describe(tag: str, raw: bytes | None) -> Restored:
    if raw is None:
        return Restored(tag, None, None, None)
    try:
        payload, _exchange, routing_key = json.loads(raw)
        headers = payload.get("headers") or {}
        return Restored(tag, headers.get("id"), headers.get("task"), routing_key)
    except (ValueError, TypeError, AttributeError):
        return Restored(tag, None, None, None)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def run_sweeper(settings: Settings, app: Celery, stop: threading.Event) -> None:
    """The recorder's redelivery thread."""
    Sweeper(settings, app).run(stop)
