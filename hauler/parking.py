"""Dead letters parked in Redis while the database is down, and moved in when it is back.

A letter is parked (``LPUSH``) with the time it failed. A drain claims one letter at a
time with a Lua script that moves it from the parked list into a ``moving`` sorted set
(scored by the claim time), stores it (idempotent by task id), then removes it: two
drains at once (the recorder and ``hauler dlq``) never take the same letter, and a drain
that dies mid-way leaves its letter in ``moving``, where another drain reclaims it after
:data:`LEASE_SECONDS`. A letter the database refuses is quarantined in a list of its own
with the reason, counted, and the drain goes on; an outage puts the letter back and stops.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from hauler import broker, deadletter
from hauler.redact import redact_text
from hauler.store.outage import is_outage

log = logging.getLogger(__name__)

#: Redis list where dead letters wait when the database is down (newest first).
PARKED_KEY = "hauler:dead-letters:parked"
#: Sorted set of letters a drain has claimed and not yet stored (score: claim time).
MOVING_KEY = "hauler:dead-letters:moving"
#: Redis list of letters the database refused: ``{"letter", "error", "at"}`` JSON.
QUARANTINE_KEY = "hauler:dead-letters:quarantine"
#: Counter of letters ever quarantined.
QUARANTINED_KEY = "hauler:dead-letters:quarantined"
#: Seconds after which a claimed letter not yet stored is taken by another drain.
LEASE_SECONDS = 60.0

_CLAIM = """
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2], 'LIMIT', 0, 1)
if stale[1] then
  redis.call('ZADD', KEYS[2], ARGV[1], stale[1])
  return stale[1]
end
local raw = redis.call('RPOP', KEYS[1])
if raw then redis.call('ZADD', KEYS[2], ARGV[1], raw) end
return raw
"""
_GIVE_BACK = """
if redis.call('ZREM', KEYS[2], ARGV[1]) == 1 then redis.call('RPUSH', KEYS[1], ARGV[1]) end
"""
_QUARANTINE = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('LPUSH', KEYS[2], ARGV[2])
  redis.call('INCR', KEYS[3])
end
"""


@dataclass(frozen=True)
class Drained:
    """What one drain did."""

    moved: int = 0
    quarantined: int = 0
    stopped: str | None = None  # why it stopped before the list was empty (an outage)


def record_or_park(settings: Any, failure: deadletter.Failure) -> None:
    """Store ``failure``; if the database is down, park it in Redis so it is not lost."""
    failure = replace(failure, failed_at=failure.failed_at or time.time())
    try:
        deadletter.record(settings.database_url, failure)
        return
    except Exception as exc:  # any database failure: park rather than lose it
        log.warning(
            "database unavailable for dead letter %s, parking it: %s",
            failure.task_id,
            _first_line(exc),
        )
    park(settings.broker_url, failure)


def park(broker_url: str, failure: deadletter.Failure) -> None:
    """Push ``failure`` (sanitized when it can be) onto the parked list."""
    with contextlib.suppress(TypeError, ValueError):  # else as given; the drain quarantines
        failure = deadletter.sanitized(failure)
    broker.shared(broker_url).lpush(PARKED_KEY, json.dumps(asdict(failure), default=str))


def drain(settings: Any, *, limit: int | None = None) -> Drained:
    """Move parked dead letters into the database, oldest first; safe to run concurrently."""
    client = broker.shared(settings.broker_url)
    claim = client.register_script(_CLAIM)
    moved = quarantined = 0
    while limit is None or moved + quarantined < limit:
        now = time.time()
        raw = claim(keys=[PARKED_KEY, MOVING_KEY], args=[now, now - LEASE_SECONDS])
        if raw is None:
            return Drained(moved, quarantined)
        try:
            failure = _decode(raw)
            deadletter.record(settings.database_url, failure)
        except Exception as exc:  # an outage stops the drain; a refusal quarantines the letter
            if is_outage(exc):
                client.register_script(_GIVE_BACK)(keys=[PARKED_KEY, MOVING_KEY], args=[raw])
                return Drained(moved, quarantined, stopped=_first_line(exc))
            _quarantine(client, raw, exc)
            quarantined += 1
            continue
        client.zrem(MOVING_KEY, raw)
        moved += 1
    return Drained(moved, quarantined)


def drain_quietly(settings: Any) -> Drained:
    """:func:`drain`, logging instead of raising (for commands that only want to show)."""
    try:
        return drain(settings)
    except Exception as exc:  # showing dead letters must not fail because moving them did
        log.warning("could not move parked dead letters: %s", _first_line(exc))
        return Drained(stopped=_first_line(exc))


def counts(broker_url: str) -> dict[str, int]:
    """Letters parked, being moved, and quarantined (now, and ever)."""
    client = broker.shared(broker_url)
    with client.pipeline(transaction=False) as pipe:
        pipe.llen(PARKED_KEY)
        pipe.zcard(MOVING_KEY)
        pipe.llen(QUARANTINE_KEY)
        pipe.get(QUARANTINED_KEY)
        parked, moving, held, ever = pipe.execute()
    return {
        "parked": int(parked),
        "moving": int(moving),
        "quarantined": int(held),
        "quarantined_ever": int(ever or 0),
    }


def quarantined(broker_url: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """The newest quarantined letters: ``{"letter", "error", "at"}``."""
    out = []
    for raw in broker.shared(broker_url).lrange(QUARANTINE_KEY, 0, limit - 1):
        try:
            out.append(json.loads(raw))
        except ValueError:
            out.append({"letter": str(raw), "error": "unreadable", "at": None})
    return out


def _decode(raw: bytes) -> deadletter.Failure:
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("a parked letter must be a JSON object")
    return deadletter.Failure(**data)


def _quarantine(client: Any, raw: bytes, exc: BaseException) -> None:
    entry = {
        "letter": raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw),
        "error": _first_line(exc),
        "at": datetime.now(UTC).isoformat(),
    }
    client.register_script(_QUARANTINE)(
        keys=[MOVING_KEY, QUARANTINE_KEY, QUARANTINED_KEY], args=[raw, json.dumps(entry)]
    )
    log.error("dead letter quarantined (the database refused it): %s", entry["error"])


def _first_line(exc: BaseException) -> str:
    message = str(getattr(exc, "orig", None) or exc).strip()
    line = message.splitlines()[0] if message else type(exc).__name__
    return redact_text(f"{type(exc).__name__}: {line}")[:300]
