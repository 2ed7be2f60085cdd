"""The one task decorator: queue, limits, acks, retry policy, correlation and dead letters.

Every Hauler task is declared with :func:`hauler_task`::

    @hauler_task("health.ping")
    def ping(delay: float = 0.0) -> dict[str, Any]:
        return health.ping(delay)

The function stays a plain function of its arguments; the decorator applies, once:
the queue (from the name, or ``queue=``), soft and hard time limits from the queue's
settings, late acks with reject-on-worker-lost for idempotent tasks, argument checking
(bad arguments fail at once, naming the argument), retries with exponential backoff
and jitter for transient errors only, forwarding of misrouted messages, and
dead-lettering when the task fails for good.
"""

from __future__ import annotations

import inspect
import logging
import traceback as tb
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from celery import Task
from celery.exceptions import Ignore

from hauler import deadletter, originals, parking
from hauler.backoff import backoff_delay
from hauler.correlation import (
    CAUSATION_HEADER,
    CORRELATION_HEADER,
    causation_of,
    correlation_of,
)
from hauler.queues import DEFAULT_QUEUE, check_queue, queue_for
from hauler.redact import redact_exception, redact_text
from hauler.settings import RetrySettings, get_settings
from workers.app import app
from workers.classify import check_arguments, failure_reason, is_retryable
from workers.periodic import run_once

log = logging.getLogger(__name__)


class HaulerTask(Task):
    """The base of every Hauler task: dead-letters what fails for good (secrets masked)."""

    retry_settings: RetrySettings = RetrySettings()
    retry_on: tuple[type[BaseException], ...] = ()

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        request = self.request if self.request.id == task_id else None
        redact_exception(exc)
        failure = deadletter.Failure(
            task_id=task_id,
            task_name=self.name,
            queue=self.queue,
            args=list(args or ()),
            kwargs=dict(kwargs or {}),
            reason=failure_reason(exc, self.retry_on),
            exception=f"{type(exc).__name__}: {exc}",
            traceback=_short_traceback(exc),
            correlation_id=correlation_of(request) if request else None,
            causation_id=causation_of(request) if request else None,
            attempts=(request.retries if request else 0) + 1,
        )
        settings = get_settings()
        _keep_originals(settings.broker_url, failure)
        parking.record_or_park(settings, failure)
        failure = deadletter.sanitized(failure)
        log.error(
            "%s[%s] dead-lettered (%s): %s", self.name, task_id, failure.reason, failure.exception
        )
        deadletter.announce(self.app, failure, hostname=self.request.hostname)


def hauler_task(
    name: str,
    *,
    queue: str | None = None,
    idempotent: bool = True,
    max_retries: int | None = None,
    retry_backoff: float | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
) -> Callable[[Callable[..., Any]], HaulerTask]:
    """Declare a Hauler task.

    Args:
        name: the public task name, "<queue or prefix>.<verb>"; other apps call it by name.
        queue: the queue, when the name's prefix does not say it; must be declared.
        idempotent: safe to run twice; enables late acks and reject-on-worker-lost.
        max_retries: retries after the first attempt (default HAULER_RETRY_MAX).
        retry_backoff: seconds before the first retry (default HAULER_RETRY_BACKOFF).
        retry_on: extra exception types that count as transient.
    """
    settings = get_settings()
    queue_name = check_queue(queue) if queue else queue_for(name)
    limits = settings.queues[queue_name]
    policy = settings.retry
    if max_retries is not None:
        policy = replace(policy, max_retries=max_retries)
    if retry_backoff is not None:
        policy = replace(policy, backoff=retry_backoff)

    def decorate(fn: Callable[..., Any]) -> HaulerTask:
        signature = inspect.signature(fn)

        def run(self: HaulerTask, *args: Any, **kwargs: Any) -> Any:
            _forward_if_misrouted(self, args, kwargs)
            run_once(self)  # a periodic run that another message already ran is dropped
            try:
                check_arguments(signature, args, kwargs)
            except Exception as exc:
                raise redact_exception(exc) from None
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                redact_exception(exc)  # before the result backend, a log line or a letter
                retries = self.request.retries
                if is_retryable(exc, retry_on) and retries < policy.max_retries:
                    delay = backoff_delay(retries, policy)
                    shown = redact_text(repr(exc))
                    log.warning("%s retry %d in %.1fs: %s", name, retries + 1, delay, shown)
                    raise self.retry(
                        exc=exc, countdown=delay, max_retries=policy.max_retries
                    ) from exc
                raise

        run.__name__ = fn.__name__
        run.__qualname__ = fn.__qualname__
        run.__doc__ = fn.__doc__
        run.__module__ = fn.__module__
        task: HaulerTask = app.task(
            bind=True,
            base=HaulerTask,
            name=name,
            queue=queue_name,
            soft_time_limit=limits.soft_time_limit,
            time_limit=limits.time_limit,
            acks_late=idempotent,
            reject_on_worker_lost=idempotent,
            max_retries=policy.max_retries,
            retry_settings=policy,
            retry_on=retry_on,
            typing=False,
            shared=False,  # Hauler's app only: another app of the process does not get it
        )(run)
        return task

    return decorate


def _forward_if_misrouted(task: HaulerTask, args: Any, kwargs: Any) -> None:
    """Re-publish a message that arrived on the default queue to its task's own queue."""
    delivery = task.request.delivery_info or {}
    arrived_on = delivery.get("routing_key")
    if arrived_on != DEFAULT_QUEUE or task.queue == DEFAULT_QUEUE:
        return
    headers = {
        CORRELATION_HEADER: correlation_of(task.request),
        CAUSATION_HEADER: causation_of(task.request),
    }
    task.apply_async(
        args=args, kwargs=kwargs, task_id=task.request.id, queue=task.queue, headers=headers
    )
    log.info("%s[%s] forwarded from %s to %s", task.name, task.request.id, arrived_on, task.queue)
    raise Ignore()


def _keep_originals(broker_url: str, failure: deadletter.Failure) -> None:
    """Keep the arguments for a retry when the stored copy must mask or cut them."""
    try:
        if deadletter.sanitized(failure).arguments_altered:
            originals.keep(broker_url, failure.task_id, failure.args, failure.kwargs)
    except Exception:  # the letter itself is stored regardless; its retry will say why not
        log.warning("could not keep the arguments of %s for a retry", failure.task_id)


def _short_traceback(exc: BaseException, lines: int = 12) -> str:
    formatted = tb.format_exception(type(exc), exc, exc.__traceback__)
    text = "".join(formatted).rstrip().splitlines()
    return "\n".join(text[-lines:])
