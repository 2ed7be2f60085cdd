"""Tasks of the ``health`` queue: the ping, the health check and healing."""

from __future__ import annotations

from typing import Any

from hauler.alerts import service as alerts
from hauler.errors import InvalidArgument
from hauler.health import heal
from hauler.health.checking import run_check
from hauler.health.context import probe_redis
from hauler.health.report import observe_target
from hauler.settings import get_settings
from tasks._ping import queue_ping
from workers.base import hauler_task

ping = queue_ping("health")

MAX_TARGET = 200


@hauler_task("health.check")
def check() -> dict[str, Any]:
    """Check every component, store the report, heal what can be healed, evaluate the alerts."""
    settings = get_settings()
    run = run_check(settings)
    for target in run.heal:
        recover.apply_async((target, 1), queue="health")
    result = run.result()
    result["alerts"] = alerts.evaluate_quietly(settings, run.document)
    return result


@hauler_task("health.recover", max_retries=0)
def recover(target: str, attempt: int = 1) -> dict[str, Any]:
    """One step of healing ``target``; schedules the next one with a countdown."""
    if not isinstance(target, str) or not target or len(target) > MAX_TARGET:
        raise InvalidArgument("target", f"must be a component name of 1 to {MAX_TARGET} characters")
    if isinstance(attempt, bool) or not isinstance(attempt, int) or not 1 <= attempt <= 100:
        raise InvalidArgument("attempt", "must be a whole number from 1 to 100")
    settings = get_settings()
    client = probe_redis(settings.broker_url, settings.health.probe_timeout)
    done = heal.step(settings, client, target, attempt, lambda t: observe_target(settings, t))
    if done.countdown is not None:
        recover.apply_async((target, done.attempt), queue="health", countdown=done.countdown)
    return heal.as_result(done)
