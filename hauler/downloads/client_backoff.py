"""Client-level backoff: a client whose calls keep failing is out of selection for a while.

The escalation follows Sonarr's download clients (``ProviderStatusServiceBase`` with
``EscalationBackOff.Periods`` and ``DownloadClientStatusService``): the first failure
starts a 5-minute grace in which the client stays in; a failure after the grace raises
the level one step (1 min, 5, 15, 30, 60 — level 1 to 5) and takes the client out for
that long; each success lowers the level one step and puts the client back at once.

The state is a pure value; ``record_failure`` / ``record_success`` compute the next one
from the clock they are given. ``Backoffs`` keeps it in Redis
(``hauler:downloads:client:<name>:backoff``) so every worker sees the same picture.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace

import redis

#: Seconds out of selection per escalation level (Sonarr's EscalationBackOff.Periods[0:6]).
PERIODS: tuple[float, ...] = (0.0, 60.0, 300.0, 900.0, 1800.0, 3600.0)
GRACE = 300.0  # Sonarr's MinimumTimeSinceInitialFailure for download clients
KEY = "hauler:downloads:client:{name}:backoff"


@dataclass(frozen=True)
class BackoffState:
    """Where one client stands."""

    level: int = 0  # 0 = healthy; 1..5 index PERIODS
    initial_failure: float | None = None  # when the current run of failures began
    most_recent_failure: float | None = None
    disabled_until: float | None = None  # out of selection until then (epoch seconds)

    def out(self, now: float) -> bool:
        """True while the client is out of selection."""
        return self.disabled_until is not None and self.disabled_until > now

    def remaining(self, now: float) -> float:
        """Seconds the client stays out (0 when it is in)."""
        return max(0.0, (self.disabled_until or 0.0) - now)


def record_failure(
    state: BackoffState,
    now: float,
    *,
    periods: tuple[float, ...] = PERIODS,
    grace: float = GRACE,
    escalate: bool = True,
) -> BackoffState:
    """The state after one more failed call, at ``now`` (Sonarr's RecordFailure)."""
    level, initial = state.level, state.initial_failure
    if level == 0 or initial is None:
        level, initial, escalate = 1, now, False
    in_grace = initial + grace > now
    if escalate and not in_grace:
        level = min(len(periods) - 1, level + 1)
    disabled = now + periods[level] if not in_grace else state.disabled_until
    return BackoffState(level, initial, now, disabled)


def record_success(state: BackoffState) -> BackoffState:
    """The state after a call that worked: one step back, and in selection again."""
    if state.level == 0:
        return state
    level = state.level - 1
    initial = state.initial_failure if level else None
    return replace(state, level=level, initial_failure=initial, disabled_until=None)


class Backoffs:
    """The backoff state of every client, in Redis, updated atomically."""

    def __init__(
        self,
        store: redis.Redis,
        *,
        periods: tuple[float, ...] = PERIODS,
        grace: float = GRACE,
    ) -> None:
        self.store = store
        self.periods = periods
        self.grace = grace

    def get(self, name: str) -> BackoffState:
        return _decode(self.store.get(KEY.format(name=name)))

    def all(self) -> Iterator[tuple[str, BackoffState]]:
        """Every client with a backoff state (level above 0)."""
        prefix, suffix = KEY.split("{name}")
        for key in self.store.scan_iter(match=KEY.format(name="*"), count=100):
            text = key.decode() if isinstance(key, bytes) else str(key)
            name = text[len(prefix) : len(text) - len(suffix)]
            yield name, self.get(name)

    def failure(self, name: str, now: float | None = None) -> tuple[BackoffState, BackoffState]:
        """Record a failed call; return (before, after)."""
        moment = time.time() if now is None else now
        return self._update(
            name,
            lambda s: record_failure(s, moment, periods=self.periods, grace=self.grace),
        )

    def success(self, name: str) -> tuple[BackoffState, BackoffState]:
        """Record a call that worked; return (before, after)."""
        return self._update(name, record_success)

    def _update(
        self, name: str, step: Callable[[BackoffState], BackoffState]
    ) -> tuple[BackoffState, BackoffState]:
        key = KEY.format(name=name)
        result: list[BackoffState] = []

        def apply(pipe: redis.client.Pipeline) -> None:
            result.clear()
            raw = pipe.get(key)
            before = _decode(raw)
            after = step(before)
            pipe.multi()
            if after == BackoffState():
                pipe.delete(key)
            else:
                pipe.set(key, json.dumps(asdict(after)), ex=7 * 86400)
            result.extend((before, after))

        self.store.transaction(apply, key)
        return result[0], result[1]


def _decode(raw: bytes | str | None) -> BackoffState:
    if not raw:
        return BackoffState()
    try:
        return BackoffState(**json.loads(raw))
    except (TypeError, ValueError):  # a damaged value: start over rather than crash
        return BackoffState()


def note_call(store: redis.Redis, name: str, ok: bool, *, now: float | None = None) -> BackoffState:
    """Record one call to client ``name`` and emit ``client.backoff`` / ``client.recovered``
    when it goes out of selection or comes back (from inside a task; elsewhere no event)."""
    from hauler import activity

    backoffs = Backoffs(store)
    moment = time.time() if now is None else now
    before, after = backoffs.failure(name, moment) if not ok else backoffs.success(name)
    if after.out(moment) and after.disabled_until != before.disabled_until:
        activity.emit(
            "client.backoff",
            client=name,
            until=after.disabled_until,
            level=after.level,
            seconds=after.remaining(moment),
        )
    elif before.disabled_until is not None and after.disabled_until is None:
        activity.emit("client.recovered", client=name, level=after.level)
    return after
