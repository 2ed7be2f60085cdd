"""Probes of Hauler's own processes: workers per queue, beat, the recorder, the autoscaler."""

from __future__ import annotations

import redis

from hauler import broker as broker_lists
from hauler.health.context import ProbeContext, age_text
from hauler.health.document import Observation, Status
from hauler.health.heartbeats import last_beat
from hauler.queues import QUEUES
from hauler.recorder import heartbeat as recorder_heartbeat
from hauler.redelivery import WORKER_KEY_PREFIX, Holder


def _unreachable(key: str, unit: str, exc: Exception, ident: str | None = None) -> Observation:
    return Observation(key, Status.FAIL, None, unit, f"broker unreachable: {exc}", ident)


def live_workers(client: redis.Redis) -> dict[str, int]:
    """Queue → workers whose delivery heartbeat (workers/deliveries.py) is alive."""
    keys = list(client.scan_iter(match=f"{WORKER_KEY_PREFIX}*", count=500))
    counts: dict[str, int] = {}
    for raw in client.mget(keys) if keys else ():
        if raw is None:
            continue  # expired between SCAN and MGET
        try:
            holder = Holder.loads(raw)
        except (ValueError, KeyError, TypeError):
            continue
        for queue in holder.queues:
            counts[queue] = counts.get(queue, 0) + 1
    return counts


def workers(ctx: ProbeContext) -> list[Observation]:
    """``workers:live`` per queue: a queue with waiting work and no live worker fails."""
    try:
        counts = live_workers(ctx.redis)
        depths = {q: broker_lists.sample(ctx.redis, q, ctx.now).depth for q in QUEUES}
    except redis.RedisError as exc:
        return [_unreachable("workers:live", "workers", exc)]
    found = []
    for queue in QUEUES:
        live, depth = counts.get(queue, 0), depths[queue]
        if live == 0 and depth > 0:
            status, output = Status.FAIL, f"{depth} message(s) waiting and no live worker"
        else:
            status, output = Status.PASS, ""
        found.append(Observation("workers:live", status, live, "workers", output, queue))
    return found


def beat(ctx: ProbeContext) -> list[Observation]:
    """``beat:heartbeatAge``: seconds since the beat holding the lock last ticked."""
    limit = ctx.health.beat_max_age or float(ctx.settings.beat_lock_timeout)
    try:
        last = last_beat(ctx.redis)
    except redis.RedisError as exc:
        return [_unreachable("beat:heartbeatAge", "s", exc)]
    if last is None:
        return [Observation("beat:heartbeatAge", Status.FAIL, None, "s", "no beat has ticked")]
    age = round(max(0.0, ctx.now - float(last["at"])), 1)
    if age > limit:
        status, output = Status.FAIL, f"beat last ticked {age_text(age)} ago (limit {limit:g} s)"
    elif age > limit / 2:
        status, output = Status.WARN, f"beat last ticked {age_text(age)} ago"
    else:
        status, output = Status.PASS, ""
    return [Observation("beat:heartbeatAge", status, age, "s", output)]


def recorder(ctx: ProbeContext) -> list[Observation]:
    """``recorder:heartbeatAge``: the recorder beats every few seconds while it records."""
    limit = ctx.health.recorder_max_age
    try:
        last = recorder_heartbeat.last(ctx.redis)
    except redis.RedisError as exc:
        return [_unreachable("recorder:heartbeatAge", "s", exc)]
    if last is None or not isinstance(last.get("at"), int | float):
        output = f"no heartbeat within {recorder_heartbeat.TTL_SECONDS} s (not running?)"
        return [Observation("recorder:heartbeatAge", Status.FAIL, None, "s", output)]
    age = round(max(0.0, ctx.now - float(last["at"])), 1)
    if age > limit:
        status, output = Status.FAIL, f"last heartbeat {age_text(age)} ago (limit {limit:g} s)"
    elif not last.get("healthy"):
        error = last.get("database_error") or "not connected to the broker's events"
        status, output = Status.FAIL, f"not recording: {error}"
    else:
        status, output = Status.PASS, ""
    return [Observation("recorder:heartbeatAge", status, age, "s", output)]


def autoscaler(ctx: ProbeContext) -> list[Observation]:
    """``autoscaler:leader``: who holds the autoscaler's leader lease (none fails)."""
    from autoscale.lock import KEY  # the lock's key; autoscale itself is not imported

    try:
        holder = ctx.redis.get(KEY)
    except redis.RedisError as exc:
        return [_unreachable("autoscaler:leader", "holder", exc)]
    if holder is None:
        return [Observation("autoscaler:leader", Status.FAIL, None, "holder", "no leader")]
    value = holder.decode() if isinstance(holder, bytes) else str(holder)
    return [Observation("autoscaler:leader", Status.PASS, value, "holder")]
