"""Healing: restart a failed component up to N times with backoff, then escalate.

``health.check`` claims a failing target that has a known action (one flow per target,
a Redis key) and starts ``health.recover(target, 1)``. Each step of :func:`step` either
finds the target passing again (``health.healed``), leaves a component that is still
starting alone (a grace from its start time), restarts it (``health.heal-started``;
``health.heal-failed`` when the restart could not be done or did not help), or, past the
last attempt, escalates it (``health.escalated``, severity critical). The task schedules
the next step with a countdown; nothing here sleeps.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import redis

from hauler.health import events
from hauler.health.document import Observation, Status
from hauler.health.restarters import Restarter, action_for, restarter_for
from hauler.settings import Settings

log = logging.getLogger(__name__)

FLOW_KEY = "hauler:health:heal:{target}"  # the running flow of one target (its state)
ESCALATED_KEY = "hauler:health:escalated:{target}"  # no new flow until it passes or expires


@dataclass(frozen=True)
class Step:
    """What one step did, and when the next one is due (None: the flow ended)."""

    target: str
    outcome: str  # healthy | healed | waiting | started | failed | escalated | no-action
    attempt: int  # the attempt the next step is (or this one was)
    countdown: float | None = None
    detail: str = ""


def backoff(settings: Settings, attempt: int) -> float:
    """Seconds from restart number ``attempt`` (1-based) to its re-check: doubling."""
    return settings.health.heal_backoff * 2 ** (attempt - 1)


def flow_ttl(settings: Settings) -> int:
    """Seconds a flow key lives without a step: far past the longest wait of a flow."""
    health = settings.health
    longest = health.heal_grace + backoff(settings, health.heal_attempts + 1)
    return int(longest * 2 + 600)


def claim(settings: Settings, client: redis.Redis, target: str) -> bool:
    """Start a flow for ``target`` unless one runs or it was escalated lately."""
    if client.exists(ESCALATED_KEY.format(target=target)):
        return False
    state = json.dumps({"attempt": 1, "since": time.time()})
    return bool(client.set(FLOW_KEY.format(target=target), state, nx=True, ex=flow_ttl(settings)))


def passed(client: redis.Redis, target: str) -> None:
    """``target`` passes: a later failure starts a fresh flow with fresh attempts."""
    client.delete(ESCALATED_KEY.format(target=target))


def _save(settings: Settings, client: redis.Redis, target: str, **state: Any) -> None:
    client.set(FLOW_KEY.format(target=target), json.dumps(state), ex=flow_ttl(settings))


def _state(client: redis.Redis, target: str) -> dict[str, Any]:
    raw = client.get(FLOW_KEY.format(target=target))
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        value = {}
    return value if isinstance(value, dict) else {}


Check = Callable[[str], Observation | None]


def step(
    settings: Settings,
    client: redis.Redis,
    target: str,
    attempt: int,
    check: Check,
    *,
    restarter: Restarter | None = None,
    now: float | None = None,
) -> Step:
    """One step of the flow of ``target`` at ``attempt`` (1 = nothing restarted yet)."""
    now = time.time() if now is None else now
    action = action_for(settings, target, client)
    if action is None and restarter is None:
        client.delete(FLOW_KEY.format(target=target))
        return Step(target, "no-action", attempt, detail="no known way to restart it")
    restarter = restarter or restarter_for(settings, str(action), client)
    state = _state(client, target)
    seen = check(target)
    base = {"component": target, "action": action, "attempt": attempt}
    if seen is None or seen.status < Status.FAIL:
        client.delete(FLOW_KEY.format(target=target))
        if attempt > 1:
            events.record(
                settings.database_url,
                "health.healed",
                **base,
                attempts=attempt - 1,
                severity="info",
            )
            return Step(target, "healed", attempt)
        return Step(target, "healthy", attempt)
    started = restarter.started_at()
    grace = settings.health.heal_grace
    if started is not None and now - started < grace:
        wait = round(grace - (now - started) + 0.5, 1)
        _save(settings, client, target, **{**state, "attempt": attempt})
        return Step(target, "waiting", attempt, wait, f"started {now - started:.0f} s ago")
    if attempt > 1 and state.get("restarted") == attempt - 1:
        events.record(
            settings.database_url,
            "health.heal-failed",
            **{**base, "attempt": attempt - 1},
            severity="warning",
            message=f"still failing after the restart: {seen.output}",
        )
    if attempt > settings.health.heal_attempts:
        client.set(
            ESCALATED_KEY.format(target=target),
            attempt - 1,
            ex=int(settings.health.heal_cooldown) or 1,
        )
        client.delete(FLOW_KEY.format(target=target))
        message = f"{target} still fails after {attempt - 1} restart(s): {seen.output}"
        events.record(
            settings.database_url,
            "health.escalated",
            **base,
            attempts=attempt - 1,
            severity="critical",
            message=message,
        )
        return Step(target, "escalated", attempt, detail=message)
    events.record(
        settings.database_url, "health.heal-started", **base, severity="warning", reason=seen.output
    )
    wait = backoff(settings, attempt)
    try:
        done = restarter.restart()
    except Exception as exc:  # recorded; the next attempt comes after the backoff
        detail = f"{type(exc).__name__}: {exc}"
        _save(settings, client, target, attempt=attempt + 1, restarted=None)
        events.record(
            settings.database_url, "health.heal-failed", **base, severity="warning", message=detail
        )
        return Step(target, "failed", attempt + 1, wait, detail)
    _save(settings, client, target, attempt=attempt + 1, restarted=attempt)
    log.warning("health: %s: %s (attempt %d)", target, done, attempt)
    return Step(target, "started", attempt + 1, wait, done)


def as_result(result: Step) -> dict[str, Any]:
    """A step as the task's JSON result."""
    return asdict(result)
